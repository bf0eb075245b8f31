"""How well a YouTube video matches a catalogue track, as a number in [0, 1] with its breakdown.

score = 0.40 title + 0.35 artist + 0.25 duration + bonuses - penalties, clipped to [0, 1].

* **title** and **artist** similarity use rapidfuzz on text normalised by
  :func:`manifests.ids.normalize_text` (case, accents, punctuation), word order ignored;
  credits ("feat. ..."), bracketed remarks, "official video"-style noise and the
  artist's name are removed from the video title first.
* **duration**: 1 at equal length, 0 at ``duration_tolerance_s``; beyond it the
  candidate is rejected (a different edit, a loop, an intro-heavy video).
* **penalties** for versions the track title does not ask for (live, remix, cover,
  karaoke, instrumental, acoustic, sped up, slowed, nightcore, 8D, extended, hour-long
  loops, full albums), matched as whole words, so "Alive" is not "live"; and a mild
  one when the track *is* such a version (title or album says so) but the video is not.
* **bonuses** for the artist's auto-generated "- Topic" channel (official audio),
  official artist channels, and a hit of the ISRC query.

Candidates whose title or artist is too far off, whose duration is out of tolerance,
or that are live streams are rejected outright, whatever the rest says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from manifests.ids import normalize_text

from .search import ATV, OMV, Candidate, TrackQuery

#: Versions a dataset usually does not want unless the track itself is one.  Patterns run on
#: normalised text (lower case, punctuation turned into spaces), always on word boundaries.
VERSION_MARKERS: dict[str, str] = {
    "live": r"live|in concert|live at|live from",
    "remix": r"remix(?:ed)?|rmx|bootleg|mashup|flip",
    "cover": r"cover(?:ed)?|tribute",
    "karaoke": r"karaoke|sing ?along",
    "instrumental": r"instrumental|backing track|minus one|no vocals",
    "acoustic": r"acoustic|unplugged",
    "sped_up": r"sped up|speed up|spedup|speedup",
    "slowed": r"slowed|slowed and reverb|slowed reverb",
    "nightcore": r"nightcore",
    "8d": r"8d|8 d audio",
    "extended": r"extended",
    "loop": r"\d+\s*(?:hour|hours|hr|hrs)|loop(?:ed)?",
    "full_album": r"full album|complete album|full ep",
    "reaction": r"reaction|reacts?|reacting",
    "tutorial": r"tutorial|lesson|how to play|chords",
}
_MARKERS = {name: re.compile(rf"(?<!\w)(?:{pattern})(?!\w)") for name, pattern in VERSION_MARKERS.items()}

#: Words that say how a video was published, not what it is; dropped before comparing titles.
_NOISE = re.compile(r"(?<!\w)(?:official|music video|video|audio|lyric video|lyrics?|visuali[sz]er|"
                    r"hd|hq|4k|uhd|m v|mv|clip officiel|video oficial|videoclip|explicit|clean|"
                    r"remaster(?:ed)?|\d{4} remaster(?:ed)?|remastered \d{4}|version|original|"
                    r"full song|topic|vevo|with lyrics|letra|legendado)(?!\w)")
_FEAT = re.compile(r"[\(\[]?\s*\b(?:feat|ft|featuring|prod)\b\.?[^\)\]]*[\)\]]?", re.IGNORECASE)
_BRACKETS = re.compile(r"[\(\[\{【「][^\)\]\}】」]*[\)\]\}】」]")
_DASHES = re.compile(r"\s+[-–—|~]\s+|\s*[|｜]\s*")
_CHANNEL_NOISE = re.compile(r"(?<!\w)(?:topic|vevo|official|officiel|oficial|music|tv|channel|records)(?!\w)")


@dataclass(frozen=True)
class ScoreConfig:
    """Weights and limits of the score; defaults are documented in collectors/youtube/README.md."""

    threshold: float = 0.65
    #: accepted matches below this are listed for a human to check
    review_below: float = 0.80
    #: the matcher stops searching once a candidate scores this high
    good_enough: float = 0.90
    duration_tolerance_s: float = 10.0
    min_title: float = 0.50
    min_artist: float = 0.50
    weight_title: float = 0.40
    weight_artist: float = 0.35
    weight_duration: float = 0.25
    #: duration similarity used when either side has no duration
    unknown_duration: float = 0.5
    bonus_topic: float = 0.05
    bonus_official: float = 0.03
    bonus_isrc: float = 0.05
    penalty_strong: float = 0.45
    penalty_mild: float = 0.25
    mild_markers: frozenset[str] = frozenset({"live", "acoustic", "extended"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"match threshold {self.threshold} is outside [0, 1]")
        if self.duration_tolerance_s <= 0:
            raise ValueError(f"duration tolerance {self.duration_tolerance_s} must be > 0 seconds")


@dataclass
class Scored:
    """A candidate with its score, breakdown and, when rejected outright, why."""

    candidate: Candidate
    score: float
    detail: dict[str, float] = field(default_factory=dict)
    rejected: str | None = None

    def passes(self, config: ScoreConfig) -> bool:
        return self.rejected is None and self.score >= config.threshold

    @property
    def video_id(self) -> str:
        return self.candidate.video_id


# ---------------------------------------------------------------- text helpers

def markers_in(text: str) -> set[str]:
    """Version markers present in ``text`` (any case or punctuation), as whole words."""
    norm = normalize_text(text)
    return {name for name, rx in _MARKERS.items() if rx.search(norm)}


def _remove_phrases(text: str, phrases: Iterable[str]) -> str:
    for phrase in sorted({p for p in phrases if p}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", text)
    return " ".join(text.split())


def _clean(text: str, artists: Sequence[str] = ()) -> str:
    """Normalised title text without noise words and (optionally) the artists' names."""
    norm = normalize_text(text)
    norm = _NOISE.sub(" ", norm)
    return _remove_phrases(norm, artists)


def _bare(text: str) -> str:
    """A raw title without credits and bracketed remarks, before normalising."""
    return _BRACKETS.sub(" ", _FEAT.sub(" ", text))


def _title_variants(title: str, artists: Sequence[str], *, split_dashes: bool) -> set[str]:
    pieces = [title]
    if split_dashes:
        pieces += [p for p in _DASHES.split(title) if p.strip()]
    out: set[str] = set()
    for piece in pieces:
        for form in (piece, _bare(piece)):
            cleaned = _clean(form, artists)
            if cleaned:
                out.add(cleaned)
            # keep the words too: a song may be called "Video" or "Lyrics"
            plain = _remove_phrases(normalize_text(form), artists)
            if plain:
                out.add(plain)
    return out


def _pair_similarity(a: str, b: str) -> float:
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 200.0


def title_similarity(track: TrackQuery, cand: Candidate) -> float:
    """Best similarity between the track title and any reading of the video title, in [0, 1]."""
    artists = [normalize_text(a) for a in track.artists]
    source = _title_variants(track.title, (), split_dashes=False)
    source |= {v for v in _title_variants(_DASHES.split(track.title)[0], (), split_dashes=False)}
    target = _title_variants(cand.title, artists, split_dashes=True)
    if not source or not target:
        return 0.0
    return max(_pair_similarity(s, t) for s in source for t in target)


def _name(text: str) -> str:
    norm = normalize_text(text)
    return norm[4:] if norm.startswith("the ") else norm


def name_similarity(a: str, b: str) -> float:
    """Two artist names: spelling- and spacing-tolerant (``TaylorSwift`` vs ``Taylor Swift``)."""
    a, b = _name(a), _name(b)
    if not a or not b:
        return 0.0
    return max(fuzz.ratio(a, b), fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""))) / 100.0


def channel_name(channel: str | None) -> str:
    """A channel name without " - Topic", "VEVO", "Official" and similar decorations."""
    if not channel:
        return ""
    text = re.sub(r"(?i)vevo$", "", channel.strip())
    text = re.sub(r"(?i)\s*-\s*topic$", "", text)
    return " ".join(_CHANNEL_NOISE.sub(" ", normalize_text(text)).split())


def artist_similarity(track: TrackQuery, cand: Candidate) -> float:
    """How well the video's artist credit, channel or title prefix names the track's artists."""
    names = [a for a in track.artists if normalize_text(a)]
    if not names:  # no artist, or one made only of punctuation ("!!!"): no evidence either way
        return 0.5
    best = 0.0
    credited = list(cand.artists)
    channel = channel_name(cand.channel)
    if channel:
        credited.append(channel)
    for credit in credited:
        for name in names:
            best = max(best, name_similarity(name, credit))
    # "Artist - Title", "Artist & Guest - Title", "Title - Artist", "Title by Artist"
    parts = [p for p in _DASHES.split(cand.title) if p.strip()]
    if len(parts) > 1:
        for part in parts:
            norm_part = normalize_text(_bare(part))
            for name in names:
                norm_name = _name(name)
                best = max(best, name_similarity(name, part))
                if norm_name and re.search(rf"(?<!\w){re.escape(norm_name)}(?!\w)", norm_part) and \
                        len(norm_part.split()) <= len(norm_name.split()) + 4:
                    best = max(best, 1.0)
    by = re.search(r"(?i)\bby\s+(.+)$", _bare(cand.title))
    if by:
        best = max(best, *(name_similarity(name, by.group(1)) for name in names))
    return best


def is_topic(cand: Candidate) -> bool:
    return cand.video_type == ATV or bool(cand.channel and re.search(r"(?i)\s-\s*topic$", cand.channel))


def is_official_channel(track: TrackQuery, cand: Candidate) -> bool:
    """An upload by the artist: an OMV, a VEVO channel, or a channel named after the artist."""
    if is_topic(cand):
        return False
    if cand.video_type == OMV:
        return True
    if not cand.channel:
        return False
    # "AdeleVEVO", "Adele", "Adele Official": the channel carries the artist's name.
    return any(name_similarity(a, channel_name(cand.channel)) >= 0.9 for a in track.artists)


# ---------------------------------------------------------------- the score

def score_candidate(track: TrackQuery, cand: Candidate, config: ScoreConfig | None = None) -> Scored:
    """Score one candidate; ``rejected`` says why when it can never be chosen."""
    config = config or ScoreConfig()
    detail: dict[str, float] = {}
    title = title_similarity(track, cand)
    artist = artist_similarity(track, cand)
    detail["title"] = round(title, 3)
    detail["artist"] = round(artist, 3)

    rejected: str | None = None
    if track.duration_s and cand.duration_s:
        diff = abs(cand.duration_s - track.duration_s)
        detail["duration_diff_s"] = round(diff, 3)
        duration = max(0.0, 1.0 - diff / config.duration_tolerance_s)
        if diff > config.duration_tolerance_s:
            rejected = (f"duration differs by {diff:.0f} s (video {cand.duration_s:.0f} s, track "
                        f"{track.duration_s:.0f} s; tolerance {config.duration_tolerance_s:g} s)")
    else:
        duration = config.unknown_duration
    detail["duration"] = round(duration, 3)

    asked = markers_in(f"{track.title} {track.album or ''}")
    found = markers_in(f"{cand.title} {cand.album or ''}") - asked
    penalty = 0.0
    for marker in sorted(found):
        value = config.penalty_mild if marker in config.mild_markers else config.penalty_strong
        detail[f"penalty:{marker}"] = value
        penalty += value
    # The track is a live/acoustic/remix version but the video does not say so: probably the studio take.
    cand_markers = markers_in(f"{cand.title} {cand.album or ''}")
    for marker in sorted(asked - cand_markers - {"reaction", "tutorial"}):
        detail[f"penalty:not_{marker}"] = config.penalty_mild
        penalty += config.penalty_mild

    bonus = 0.0
    if is_topic(cand):
        detail["bonus:topic"] = config.bonus_topic
        bonus += config.bonus_topic
    elif is_official_channel(track, cand):
        detail["bonus:official"] = config.bonus_official
        bonus += config.bonus_official
    if cand.via_isrc:
        detail["bonus:isrc"] = config.bonus_isrc
        bonus += config.bonus_isrc

    base = config.weight_title * title + config.weight_artist * artist + config.weight_duration * duration
    score = min(1.0, max(0.0, base + bonus - penalty))

    if rejected is None:
        if not cand.available:
            rejected = "greyed out on YouTube Music (not playable)"
        elif cand.live:
            rejected = "live stream or premiere"
        elif title < config.min_title:
            rejected = f"title differs ({title:.2f} < {config.min_title:g})"
        elif artist < config.min_artist:
            rejected = f"artist differs ({artist:.2f} < {config.min_artist:g})"
    return Scored(candidate=cand, score=round(score, 6), detail=detail, rejected=rejected)


def rank(scored: Iterable[Scored]) -> list[Scored]:
    """Best first; ties broken by video ID so the same inputs always give the same choice."""
    return sorted(scored, key=lambda s: (s.rejected is not None, -s.score, s.video_id))
