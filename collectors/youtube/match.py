"""Choose the video for a track: search rounds, scores, overrides, and the reason when none fits.

Rounds are consumed lazily: the matcher stops as soon as a candidate scores
``good_enough`` (usually the ISRC or songs round), and only asks the fallback
search (yt-dlp) when nothing from YouTube Music passed the threshold at all.
A video pinned in ``overrides.csv`` is used without searching; forbidden videos
are dropped before scoring.

Every candidate that was turned down is written into the breakdown the downloads
table keeps (``match_detail``) as ``rejected:<why>:<video id>=<its score>``, e.g.
``rejected:remake:Xk3...=0.98`` or ``rejected:duration:Pq1...=0.52``, so a user can see
in ``downloads.csv`` what was passed over and why (see :func:`rejections`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from .score import ScoreConfig, Scored, rank, score_candidate
from .search import Candidate, Searcher, TrackQuery, dedupe

log = logging.getLogger(__name__)


@dataclass
class MatchResult:
    """Outcome of matching one track: the accepted candidates in order, or why there are none."""

    track: TrackQuery
    #: every scored candidate, best first (rejected ones last)
    ranked: list[Scored] = field(default_factory=list)
    #: candidates that passed the threshold, best first: the order downloads are tried in
    accepted: list[Scored] = field(default_factory=list)
    reason: str | None = None
    pinned: bool = False
    forbidden_dropped: int = 0
    rounds_used: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.accepted)

    @property
    def best(self) -> Scored | None:
        return self.ranked[0] if self.ranked else None

    def runner_up(self, chosen: str | None) -> Scored | None:
        """The best candidate other than ``chosen`` (for no match: the best one, for review)."""
        for scored in self.ranked:
            if scored.video_id != chosen:
                return scored
        return None


def pinned_result(track: TrackQuery, candidate: Candidate) -> MatchResult:
    """A pinned video: chosen by a person, so it scores 1 and is never second-guessed."""
    scored = Scored(candidate=candidate, score=1.0, detail={"pinned": 1.0})
    return MatchResult(track=track, ranked=[scored], accepted=[scored], pinned=True, rounds_used=["pinned"])


def rejections(ranked: list[Scored], config: ScoreConfig) -> dict[str, float]:
    """``rejected:<why>:<video id>`` -> score for every candidate that cannot be used.

    ``why`` is the candidate's rejection code (a version kind such as ``remake`` or
    ``slowed+sped_up``, ``not_live``, ``other_remix``, ``duration``, ``title``, ``artist``,
    ``unplayable``, ``live_stream``) or ``below_threshold``.
    """
    out: dict[str, float] = {}
    for scored in ranked:
        if scored.passes(config):
            continue
        why = scored.code or "below_threshold"
        out[f"rejected:{why}:{scored.video_id}"] = round(scored.score, 3)
    return out


def _no_match_reason(ranked: list[Scored], config: ScoreConfig, forbidden_dropped: int) -> str:
    if not ranked:
        if forbidden_dropped:
            return f"every candidate found ({forbidden_dropped}) is forbidden in overrides.csv"
        return "no search results"
    best = ranked[0]
    why = best.rejected or f"score {best.score:.2f} below the threshold {config.threshold:g}"
    counts = Counter((s.code or "below_threshold").replace("_", " ") for s in ranked)
    summary = ", ".join(f"{n} {code}" for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"nothing passed the threshold {config.threshold:g} among {len(ranked)} candidates; "
            f"best {best.video_id} ({best.candidate.title[:60]!r}): {why}; rejected: {summary}")


def match_track(track: TrackQuery, searcher: Searcher, *, config: ScoreConfig | None = None,
                pinned: str | None = None, forbidden: Collection[str] = ()) -> MatchResult:
    """Search, score and rank candidates for ``track``, honouring a pinned or forbidden video ID."""
    config = config or ScoreConfig()
    forbidden = set(forbidden)
    if pinned:
        if pinned in forbidden:
            return MatchResult(track=track, reason=f"video {pinned} is both pinned and forbidden in "
                                                   "overrides.csv; keep one of the two rows")
        return pinned_result(track, searcher.candidate_for(pinned))

    found: list[Candidate] = []
    ranked: list[Scored] = []
    dropped: set[str] = set()
    used: list[str] = []
    for round_ in searcher.rounds(track):
        passing = [s for s in ranked if s.passes(config)]
        if round_.fallback and passing:
            break
        used.append(round_.source)
        for cand in round_.candidates:
            if cand.video_id in forbidden:
                dropped.add(cand.video_id)
            else:
                found.append(cand)
        ranked = rank(score_candidate(track, cand, config) for cand in dedupe(found))
        if ranked and ranked[0].passes(config) and ranked[0].score >= config.good_enough:
            break
    accepted = [s for s in ranked if s.passes(config)]
    turned_down = rejections(ranked, config)
    # The rows of the downloads table keep one candidate's breakdown (the one used, or for no
    # match the best rejected one): each carries the list of what was turned down and why.
    for scored in accepted or ranked[:1]:
        scored.detail.update(turned_down)
    for scored in ranked:
        if not scored.passes(config):
            log.debug("%s: rejected %s %r (%.2f): %s", track.track_id, scored.video_id, scored.candidate.title,
                      scored.score, scored.rejected or f"below the threshold {config.threshold:g}")
    result = MatchResult(track=track, ranked=ranked, accepted=accepted, forbidden_dropped=len(dropped),
                         rounds_used=used)
    if not accepted:
        result.reason = _no_match_reason(ranked, config, len(dropped))
    log.debug("%s: %s after %s", track.track_id,
              f"{accepted[0].video_id} {accepted[0].score:.2f}" if accepted else result.reason, used)
    return result
