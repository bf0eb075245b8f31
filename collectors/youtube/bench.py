"""Matching benchmark: hand-labelled YouTube search results, our matcher, and how often it picks right.

    python -m collectors.youtube.bench [--data DIR] [--lists FILE] [--out FILE]

``bench_lists.json`` (next to this file) holds realistic search-result lists written by
hand from how real uploads are named: for each catalogue track, what YouTube Music's
"songs" and "videos" searches and yt-dlp's ``ytsearch`` fallback return (titles, channels,
lengths and view counts as YouTube shows them), each candidate marked ``right`` (the pick
we want), ``same`` (the same recording: a fine fallback) or ``trap:<kind>`` (a remake, a
remix, a sped-up edit, a cover, a live take, a loop, ... or not the song at all).

The lists go through the real code: the result dictionaries are shaped like ytmusicapi's
and yt-dlp's, read by :mod:`.search`, and matched round by round by
:func:`.match.match_track` exactly as the download stage does.  Reported:

* **right pick**: the first accepted candidate is the one marked ``right``;
* **wrong recording accepted**: any accepted candidate (first choice or fallback) is a trap;
* **no match where one existed**: nothing accepted though a playable right/same video was there;
* **traps passed** when every candidate of every round is scored (no early stop): a trap
  the matcher would accept if the better candidates were missing.

The goal: no wrong recording accepted, right pick in at least 95 % of the lists that
have a right video.  Prints a table and writes JSON (default ``DATA/bench/match.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, run_main, setup_logging
from manifests.schema import YOUTUBE_ID_PATTERN

from .match import match_track
from .score import ScoreConfig, rank, score_candidate
from .search import (
    ATV,
    OMV,
    UGC,
    Candidate,
    ChainSearcher,
    SearchRound,
    TrackQuery,
    YTMusicSearcher,
    candidate_from_ytdlp,
    candidate_from_ytmusic,
    parse_clock,
    parse_views,
)

DEFAULT_LISTS = Path(__file__).resolve().parent / "bench_lists.json"
GOAL_RIGHT_PICK = 0.95
ROUNDS = ("songs", "videos", "ytsearch")
_TYPES = {"ATV": ATV, "OMV": OMV, "UGC": UGC}


class BenchListError(ValueError):
    """The lists file is malformed; the message names the list and the candidate."""


@dataclass(frozen=True)
class BenchCandidate:
    """One labelled search result as written in the lists file."""

    round: str
    rank: int
    data: Mapping[str, Any]

    @property
    def video_id(self) -> str:
        return str(self.data["id"])

    @property
    def label(self) -> str:
        return str(self.data["is"])

    @property
    def is_trap(self) -> bool:
        return self.label.startswith("trap:")

    @property
    def playable(self) -> bool:
        return bool(self.data.get("available", True))

    def api_item(self) -> dict[str, Any]:
        """The result as the search API returns it: a ytmusicapi item or a yt-dlp flat entry."""
        d = self.data
        seconds = parse_clock(str(d["length"]))
        if self.round == "songs":
            return {"resultType": "song", "videoId": d["id"], "title": d["title"], "videoType": ATV,
                    "artists": [{"name": a, "id": None} for a in d.get("artists", [])],
                    "album": {"name": d["album"], "id": None} if d.get("album") else None,
                    "duration": d["length"], "duration_seconds": seconds,
                    "isAvailable": d.get("available", True)}
        if self.round == "videos":
            return {"resultType": "video", "videoId": d["id"], "title": d["title"],
                    "videoType": _TYPES[str(d.get("type", "UGC"))], "artists": [{"name": d["channel"], "id": None}],
                    "views": str(d.get("views", "")).replace(" views", "") or None, "duration": d["length"],
                    "duration_seconds": seconds, "isAvailable": d.get("available", True)}
        return {"_type": "url", "ie_key": "Youtube", "id": d["id"], "title": d["title"], "duration": seconds,
                "channel": d["channel"], "uploader": d["channel"], "view_count": parse_views(d.get("views")),
                "channel_is_verified": True if d.get("verified") else None, "live_status": d.get("live_status")}

    def candidate(self) -> Candidate:
        item = self.api_item()
        cand = (candidate_from_ytdlp(item, self.rank) if self.round == "ytsearch"
                else candidate_from_ytmusic(item, f"ytmusic:{self.round}", self.rank))
        if cand is None:
            raise BenchListError(f"{self.video_id}: not read as a search result")
        return cand


@dataclass(frozen=True)
class BenchList:
    """One track and its labelled search results."""

    id: str
    note: str
    track: TrackQuery
    rounds: dict[str, list[BenchCandidate]] = field(default_factory=dict)

    @property
    def candidates(self) -> list[BenchCandidate]:
        return [c for name in ROUNDS for c in self.rounds.get(name, [])]

    def label(self, video_id: str) -> str:
        return next(c.label for c in self.candidates if c.video_id == video_id)

    @property
    def has_right(self) -> bool:
        return any(c.label == "right" for c in self.candidates)

    @property
    def has_usable(self) -> bool:
        return any(c.label in ("right", "same") and c.playable for c in self.candidates)


def load_lists(path: Path | str = DEFAULT_LISTS) -> list[BenchList]:
    """Read and check the lists file (IDs, labels, rounds, lengths)."""
    import re

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchListError(f"{path}: cannot read the benchmark lists: {exc}") from None
    lists: list[BenchList] = []
    seen_lists: set[str] = set()
    for index, raw in enumerate(data.get("lists") or []):
        where = f"{path.name}: list {raw.get('id') or index}"
        if raw.get("id") in seen_lists:
            raise BenchListError(f"{where}: duplicate list id")
        seen_lists.add(raw.get("id"))
        t = raw.get("track") or {}
        if not t.get("title") or not t.get("artists") or parse_clock(str(t.get("length"))) is None:
            raise BenchListError(f"{where}: the track needs a title, artists and a length m:ss")
        track = TrackQuery(track_id=f"bench-{raw['id']}", title=t["title"], artists=tuple(t["artists"]),
                           album=t.get("album"), duration_s=parse_clock(str(t["length"])), isrc=t.get("isrc"))
        rounds: dict[str, list[BenchCandidate]] = {}
        ids: set[str] = set()
        for name in ROUNDS:
            for position, item in enumerate(raw.get(name) or []):
                vid = str(item.get("id", ""))
                if not re.fullmatch(YOUTUBE_ID_PATTERN, vid) or vid in ids:
                    raise BenchListError(f"{where}: bad or repeated video id {vid!r}")
                ids.add(vid)
                label = str(item.get("is", ""))
                if label not in ("right", "same") and not (label.startswith("trap:") and len(label) > 5):
                    raise BenchListError(f"{where}: {vid}: 'is' must be right, same or trap:<kind>")
                if parse_clock(str(item.get("length"))) is None or not item.get("title"):
                    raise BenchListError(f"{where}: {vid}: needs a title and a length m:ss")
                if name != "songs" and not item.get("channel"):
                    raise BenchListError(f"{where}: {vid}: a video needs its channel")
                rounds.setdefault(name, []).append(BenchCandidate(name, position, item))
        if sum(1 for c in (x for r in rounds.values() for x in r) if c.label == "right") > 1:
            raise BenchListError(f"{where}: more than one candidate marked right")
        lists.append(BenchList(id=str(raw["id"]), note=str(raw.get("note", "")), track=track, rounds=rounds))
    if not lists:
        raise BenchListError(f"{path}: no lists")
    return lists


class _FakeYTMusic:
    """Answers ytmusicapi's ``search`` from a list: the songs or videos round, whatever the query."""

    def __init__(self, bench: BenchList) -> None:
        self.bench = bench

    def search(self, query: str, filter: str | None = None, limit: int = 20,
               ignore_spelling: bool = False) -> list[dict[str, Any]]:
        name = {"songs": "songs", "videos": "videos"}.get(filter or "")
        if name is None or query == self.bench.track.isrc:
            return []
        return [c.api_item() for c in self.bench.rounds.get(name, [])][:limit]


class _FakeWebSearch:
    """Stands in for yt-dlp's ``ytsearch``: the list's fallback round."""

    def __init__(self, bench: BenchList) -> None:
        self.bench = bench

    def rounds(self, track: TrackQuery) -> Iterator[SearchRound]:
        yield SearchRound("ytsearch", [c.candidate() for c in self.bench.rounds.get("ytsearch", [])], fallback=True)

    def candidate_for(self, video_id: str) -> Candidate:  # pragma: no cover - nothing is pinned here
        raise KeyError(video_id)


def run_list(bench: BenchList, config: ScoreConfig) -> dict[str, Any]:
    """Match one list as the download stage would, and score every candidate without stopping early."""
    searcher = ChainSearcher(YTMusicSearcher(client=_FakeYTMusic(bench)), _FakeWebSearch(bench))
    result = match_track(bench.track, searcher, config=config)
    accepted = [(s.video_id, bench.label(s.video_id), round(s.score, 3)) for s in result.accepted]
    wrong = [a for a in accepted if a[1].startswith("trap:")]
    first = accepted[0] if accepted else None
    every = rank(score_candidate(bench.track, c.candidate(), config) for c in bench.candidates)
    passed = [(s.video_id, bench.label(s.video_id)) for s in every if s.passes(config)]
    if first is None:
        outcome = "no match (right)" if not bench.has_usable else "NO MATCH, one existed"
    elif wrong:
        outcome = "WRONG RECORDING ACCEPTED"
    elif first[1] == "right":
        outcome = "right pick"
    else:
        outcome = f"other pick ({first[1]})"
    return {
        "id": bench.id, "track": f"{', '.join(bench.track.artists)} - {bench.track.title}",
        "has_right": bench.has_right, "has_usable": bench.has_usable, "rounds_used": result.rounds_used,
        "pick": first[0] if first else None, "pick_label": first[1] if first else None,
        "pick_score": first[2] if first else None, "accepted": accepted, "wrong_accepted": wrong,
        "right_pick": bool(first and first[1] == "right"), "outcome": outcome,
        "reason": result.reason,
        "all_scored": {"traps": sum(1 for c in bench.candidates if c.is_trap),
                       "traps_passed": [p for p in passed if p[1].startswith("trap:")],
                       "same_rejected": [s.video_id for s in every if not s.passes(config)
                                         and bench.label(s.video_id) in ("right", "same")
                                         and s.candidate.available]},
    }


def run(lists: Sequence[BenchList], config: ScoreConfig | None = None) -> dict[str, Any]:
    config = config or ScoreConfig()
    started = time.perf_counter()
    rows = [run_list(b, config) for b in lists]
    with_right = [r for r in rows if r["has_right"]]
    right = sum(1 for r in with_right if r["right_pick"])
    traps = Counter(c.label[5:] for b in lists for c in b.candidates if c.is_trap)
    passed = Counter(label[5:] for r in rows for _, label in r["all_scored"]["traps_passed"])
    rate = round(right / len(with_right), 4) if with_right else None
    summary: dict[str, Any] = {
        "lists": len(rows),
        "candidates": sum(len(b.candidates) for b in lists),
        "lists_with_right_video": len(with_right),
        "right_pick": right,
        "right_pick_rate": rate,
        "wrong_recording_accepted_lists": sum(1 for r in rows if r["wrong_accepted"]),
        "wrong_recording_accepted_candidates": sum(len(r["wrong_accepted"]) for r in rows),
        "no_match_where_one_existed": sum(1 for r in rows if r["has_usable"] and r["pick"] is None),
        "lists_without_usable_video": sum(1 for r in rows if not r["has_usable"]),
        "correct_no_match": sum(1 for r in rows if not r["has_usable"] and r["pick"] is None),
        "traps": sum(traps.values()),
        "traps_passed_when_all_scored": sum(passed.values()),
        "same_recording_rejected_when_all_scored": sum(len(r["all_scored"]["same_rejected"]) for r in rows),
        "goal": {"wrong_recording_accepted": 0, "right_pick_rate_at_least": GOAL_RIGHT_PICK},
    }
    summary["goal_met"] = (summary["wrong_recording_accepted_candidates"] == 0
                           and summary["traps_passed_when_all_scored"] == 0
                           and (rate or 0.0) >= GOAL_RIGHT_PICK)
    return {"benchmark": "YouTube matching on hand-labelled search results", "summary": summary,
            "trap_kinds": {k: {"candidates": n, "passed_when_all_scored": passed.get(k, 0)}
                           for k, n in sorted(traps.items())},
            "lists": rows, "threshold": config.threshold, "seconds": round(time.perf_counter() - started, 3)}


def table(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [f"YouTube matching benchmark: {s['lists']} hand-labelled search-result lists, "
             f"{s['candidates']} candidates, {s['traps']} traps", "",
             f"{'list':<38}{'pick':<14}{'score':>6}  outcome"]
    for r in result["lists"]:
        score = f"{r['pick_score']:.3f}" if r["pick_score"] is not None else "-"
        lines.append(f"{r['id'][:37]:<38}{(r['pick'] or '-'):<14}{score:>6}  {r['outcome']}")
    rate = s["right_pick_rate"]
    lines += [
        "",
        f"right pick                      {s['right_pick']}/{s['lists_with_right_video']}"
        f" ({100 * rate:.1f} %)   goal >= {100 * GOAL_RIGHT_PICK:.0f} %" if rate is not None else "right pick  -",
        f"wrong recording accepted        {s['wrong_recording_accepted_candidates']} candidate(s) on "
        f"{s['wrong_recording_accepted_lists']} list(s)   goal 0",
        f"no match where one existed      {s['no_match_where_one_existed']}",
        f"no match, rightly (no usable)   {s['correct_no_match']}/{s['lists_without_usable_video']}",
        f"traps passed, all scored        {s['traps_passed_when_all_scored']}/{s['traps']}   goal 0",
        f"same recording turned down      {s['same_recording_rejected_when_all_scored']} (all scored; "
        "a fallback lost, not a wrong pick)",
        "",
        "trap kinds: " + ", ".join(f"{k} {v['candidates']}" for k, v in result["trap_kinds"].items()),
        "",
        "goal met" if s["goal_met"] else "GOAL NOT MET",
    ]
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:

    parser = argparse.ArgumentParser(prog="python -m collectors.youtube.bench",
                                     description=(__doc__ or "").split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--lists", default=str(DEFAULT_LISTS), metavar="FILE",
                        help="labelled search-result lists (default: the ones shipped with the toolkit)")
    parser.add_argument("--out", default=None, metavar="FILE", help="JSON output (default: DATA/bench/match.json)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    result = run(load_lists(args.lists))
    publish(result, table(result), data=args.data, name="match", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
