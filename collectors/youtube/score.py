"""How well a YouTube video matches a catalogue track: a score with its breakdown, or why it can never match.

score = 0.40 title + 0.35 artist + 0.25 duration + bonuses - penalties.

* **title** and **artist** similarity use rapidfuzz on names folded by the shared
  normaliser :mod:`manifests.ids` (case, accents, articles, "&"/"and", punctuation), word
  order ignored; credits ("feat. ..."), bracketed remarks, "official video"-style noise
  and the artist's name are removed from the video title first.
* **duration**: 1 up to 2 s apart (silence and encoding differ between uploads of the
  same master), falling to 0 at ``duration_tolerance_s``; beyond it the candidate is
  rejected (a different edit, a loop, an intro-heavy video).
* **versions** (:mod:`.versions`): a video that says it is a different recording than
  the track (remake, remix, sped up, slowed, nightcore, 8D, bass boosted, mashup, type
  beat, reaction, tutorial, cover, fan edit/AMV, instrumental, karaoke, live, acoustic,
  extended, loop, full album...) is **rejected**, not merely penalised: the whole point of
  matching is to get the recording the catalogue names.  When the track itself is such a
  version ("Hotel California - Live On MTV, 1994", "Titanium - Alesso Remix"), the video
  must say so too (and name the same remixer).
* **bonuses** for the artist's auto-generated "- Topic" channel (official audio),
  official artist channels, and a hit of the ISRC query.

The score stored in the tables is clipped to [0, 1]; candidates are *ranked* by the
unclipped sum, then by the evidence (official channel, view count, closeness of length,
YouTube's own order), so an official upload's bonus always counts and no tie is broken
by the video ID.

A title YouTube translated ("紅蓮華" shown as "Gurenge" or "Red Lotus") cannot match by
words; such a video is still accepted when the artist's own channel uploaded it, its
length is within 2 s of the track, it says it is no other version, and it is among the
first results of the search (see :func:`score_candidate`).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from manifests.ids import fold_text, name_key, same_name, strip_credits, strip_version_notes

from .search import ATV, OMV, Candidate, TrackQuery
from .versions import KINDS, album_markers, channel_markers, markers_in, remove_once

log = logging.getLogger(__name__)

__all__ = ["KINDS", "ScoreConfig", "Scored", "markers_in", "rank", "score_candidate"]

#: Words that say how a video was published, not what it is; dropped before comparing titles.
_NOISE = re.compile(r"(?<!\w)(?:official|music video|video|audio|lyric video|lyrics?|visuali[sz]er|"
                    r"hd|hq|4k|uhd|m v|mv|clip officiel|video oficial|videoclip|explicit|clean|"
                    r"remaster(?:ed)?|\d{4} remaster(?:ed)?|remastered \d{4}|version|original|"
                    r"full song|topic|vevo|with lyrics|letra|legendado|traducao|traduccion|subtitulado|"
                    r"paroles|testo|songtext|перевод|歌詞|가사|中字)(?!\w)")
_FEAT = re.compile(r"[\(\[]?\s*\b(?:feat|ft|featuring|prod)\b\.?[^\)\]]*[\)\]]?", re.IGNORECASE)
_BRACKETS = re.compile(r"[\(\[\{【「『][^\)\]\}】」』]*[\)\]\}】」』]")
_BRACKET_TEXT = re.compile(r"[\(\[\{【「『]([^\)\]\}】」』]*)[\)\]\}】」』]")
_DASHES = re.compile(r"\s+[-–—|~]\s+|\s*[|｜]\s*")
_CHANNEL_NOISE = re.compile(r"(?<!\w)(?:topic|vevo|official|officiel|oficial|music|tv|channel|records|youtube)(?!\w)")
#: Words of a remix or live note that do not tell one remix or live recording from another.
_NOTE_WORDS = frozenset(fold_text(
    "remix remixed rmx mix edit version radio extended club original official audio video lyric lyrics "
    "visualizer the a vip dub bootleg rework reworked and x feat ft with prod by live at on from in of "
    "performance concert session sessions hd hq 4k remaster remastered unplugged acoustic full").split())
_GUEST = re.compile(r"[\(\[]\s*(?:feat|ft|featuring|with)\b\.?\s*([^\)\]]+)[\)\]]|"
                    r"(?<![\(\[])\b(?:feat|ft|featuring)\b\.?\s+(.+?)(?=\s+[-\u2013\u2014|]\s|\s*[\(\[]|$)",
                    re.IGNORECASE)
_GUEST_SPLIT = re.compile(r"\s*(?:,|&|\band\b|\bx\b|/|\+)\s*", re.IGNORECASE)
#: The order search rounds are asked in (earlier rounds carry the better metadata).
ROUND_ORDER = {"pinned": 0, "ytmusic:isrc": 1, "ytmusic:songs": 2, "ytmusic:videos": 3, "ytsearch": 4}


@dataclass(frozen=True)
class ScoreConfig:
    """Weights and limits of the score; defaults are documented in collectors/youtube/README.md."""

    threshold: float = 0.65
    #: accepted matches below this are listed for a human to check
    review_below: float = 0.80
    #: the matcher stops searching once a candidate scores this high
    good_enough: float = 0.90
    duration_tolerance_s: float = 10.0
    #: lengths this close count as the same (silence and encoding differ between uploads)
    duration_same_s: float = 2.0
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
    #: taken off the stored score of a video rejected as another version, so the tables and the
    #: audit's "close runner-up" never see a karaoke upload as a near miss
    penalty_version: float = 0.45
    #: the track's *album* says it is a version (e.g. a live album) but the video does not say so
    penalty_mild: float = 0.25
    #: title similarity credited to an official upload whose title YouTube translated
    translated_title: float = 0.5
    #: ... when its length is this close to the track's
    translated_duration_s: float = 2.0
    #: ... and it is at most this far down its search round (0 = first result)
    translated_max_rank: int = 2
    #: two remix notes name the same remixer when their names are at least this similar
    remixer_similarity: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"match threshold {self.threshold} is outside [0, 1]")
        if self.duration_tolerance_s <= 0:
            raise ValueError(f"duration tolerance {self.duration_tolerance_s} must be > 0 seconds")


@dataclass
class Scored:
    """A candidate with its score, breakdown and, when rejected outright, why (``rejected``, ``code``)."""

    candidate: Candidate
    #: the score in [0, 1] stored in the downloads table
    score: float
    detail: dict[str, float] = field(default_factory=dict)
    rejected: str | None = None
    #: short machine-readable reason: a version kind ("remake", "slowed+sped_up"), "not_live",
    #: "other_remix", "other_live", "other_guest", "not_guest", "duration", "title", "artist",
    #: "unplayable", "live_stream"
    code: str | None = None
    #: the unclipped sum the candidates are ranked by (None: same as ``score``)
    raw: float | None = None
    #: 2 the artist's "- Topic" channel (official audio), 1 the artist's own channel or video, 0 anyone
    official: int = 0

    def passes(self, config: ScoreConfig) -> bool:
        return self.rejected is None and self.score >= config.threshold

    @property
    def video_id(self) -> str:
        return self.candidate.video_id

    @property
    def rank_score(self) -> float:
        return self.score if self.raw is None else self.raw


# ---------------------------------------------------------------- text helpers

def _remove_phrases(text: str, phrases: Iterable[str]) -> str:
    for phrase in sorted({p for p in phrases if p}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", text)
    return " ".join(text.split())


def _clean(text: str, artists: Sequence[str] = ()) -> str:
    """Folded title text without noise words and (optionally) the artists' names."""
    norm = _NOISE.sub(" ", fold_text(text))
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
            plain = _remove_phrases(fold_text(form), artists)
            if plain:
                out.add(plain)
    return out


def _pair_similarity(a: str, b: str) -> float:
    return float(fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 200.0


def _artist_forms(track: TrackQuery) -> list[str]:
    """Each credited artist folded, with and without a leading article ("the weeknd", "weeknd")."""
    forms: list[str] = []
    for artist in track.artists:
        forms += [fold_text(artist), name_key(artist)]
    return [f for f in dict.fromkeys(forms) if f]


def title_similarity(track: TrackQuery, cand: Candidate) -> float:
    """Best similarity between the track title and any reading of the video title, in [0, 1]."""
    artists = _artist_forms(track)
    source = _title_variants(track.title, (), split_dashes=False)
    source |= {v for v in _title_variants(_DASHES.split(track.title)[0], (), split_dashes=False)}
    target = _title_variants(cand.title, artists, split_dashes=True)
    if not source or not target:
        return 0.0
    return max(_pair_similarity(s, t) for s in source for t in target)


def name_similarity(a: str, b: str) -> float:
    """Two artist names: spelling- and spacing-tolerant (``TaylorSwift`` = Taylor Swift, ``The`` ignored)."""
    a, b = name_key(a), name_key(b)
    if not a or not b:
        return 0.0
    return max(fuzz.ratio(a, b), fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""))) / 100.0


def channel_name(channel: str | None) -> str:
    """A channel name without " - Topic", "VEVO", "Official" and similar decorations."""
    if not channel:
        return ""
    text = re.sub(r"(?i)vevo$", "", channel.strip())
    text = re.sub(r"(?i)\s*-\s*topic$", "", text)
    return " ".join(_CHANNEL_NOISE.sub(" ", fold_text(text)).split())


def artist_similarity(track: TrackQuery, cand: Candidate) -> float:
    """How well the video's artist credit, channel or title prefix names the track's artists."""
    names = [a for a in track.artists if name_key(a)]
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
            norm_part = fold_text(_bare(part))
            for name in names:
                best = max(best, name_similarity(name, part))
                for form in {fold_text(name), name_key(name)}:
                    if form and re.search(rf"(?<!\w){re.escape(form)}(?!\w)", norm_part) and \
                            len(norm_part.split()) <= len(form.split()) + 4:
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


def _scripts(text: str) -> set[str]:
    """Writing systems of the letters in ``text``: LATIN, CJK (Han, kana, Hangul), CYRILLIC, ..."""
    out: set[str] = set()
    for ch in unicodedata.normalize("NFKC", text):
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        first = name.split(" ")[0] if name else "OTHER"
        out.add("CJK" if first in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "KATAKANA-HIRAGANA") else first)
    return out


def _notes(title: str) -> list[str]:
    """Bracketed remarks and " - " tails of a title: where uploads and catalogues say the version."""
    found = [m.group(1) for m in _BRACKET_TEXT.finditer(title)]
    parts = [p for p in _DASHES.split(_BRACKETS.sub(" ", title)) if p.strip()]
    return found + parts[1:]


def _distinct_words(notes: Iterable[str], kind: str) -> set[str]:
    """What tells one version of ``kind`` from another: "Alesso Remix" -> {"alesso"},
    "Live On MTV, 1994" -> {"mtv", "1994"}; words of notes that are not about ``kind`` are ignored."""
    words: set[str] = set()
    for note in notes:
        if kind in markers_in(note):
            words |= set(fold_text(note).split()) - _NOTE_WORDS
    return words


def _guests(title: str) -> list[str]:
    """Artists a title credits as guests: "(feat. A & B)", "[with C]", "ft. D" -> ["A", "B", "C", "D"]."""
    names: list[str] = []
    for match in _GUEST.finditer(title):
        text = match.group(1) or match.group(2) or ""
        names += [n.strip() for n in _GUEST_SPLIT.split(text) if n.strip()]
    return names


def _named(name: str, names: Iterable[str]) -> bool:
    return any(name_similarity(name, other) >= 0.85 for other in names)


@dataclass(frozen=True)
class _Versions:
    """What the track asks for and what the video says, as version kinds."""

    #: kinds the video says it is that the track does not ask for: a different recording
    extra: frozenset[str]
    #: kinds the track title asks for that the video does not say: probably the plain recording
    missing: frozenset[str]
    #: kinds only the track's album asks for that the video does not say (weaker evidence)
    missing_album: frozenset[str]
    #: (code, why) when the video is another remix or live recording, or credits other guests
    other: tuple[str, str] | None


def _other(track: TrackQuery, cand: Candidate, asked: set[str], shown: set[str]) -> tuple[str, str] | None:
    """Another remix, another live recording, a guest the track does not have or lacks one it has."""
    for kind in ("remix", "live"):
        if kind in asked and kind in shown:
            wanted, got = _distinct_words(_notes(track.title), kind), _distinct_words(_notes(cand.title), kind)
            if wanted and got and fuzz.token_set_ratio(" ".join(sorted(wanted)), " ".join(sorted(got))) < 60:
                return (f"other_{kind}", f"another {kind.replace('_', ' ')}: {' '.join(sorted(got))}, the track is "
                                         f"{' '.join(sorted(wanted))}")
    known = [*track.artists, *_guests(track.title)]
    extra = [g for g in _guests(cand.title) if not _named(g, known)]
    if extra:  # "bad guy (with Justin Bieber)" is another recording than "bad guy"
        return "other_guest", f"a version with another guest: {', '.join(extra)}"
    if is_topic(cand) and cand.artists and len(track.artists) > 1:
        # official metadata lists every artist: "Levitating" without DaBaby is the album version
        credited = [*cand.artists, *_guests(cand.title)]
        missing = [a for a in track.artists[1:] if not _named(a, credited)]
        if missing:
            return "not_guest", f"the track features {', '.join(missing)}; the video does not"
    return None


def _versions(track: TrackQuery, cand: Candidate, artist_channel: bool) -> _Versions:
    core = fold_text(strip_version_notes(strip_credits(track.title)))
    asked = markers_in(" ; ".join(_notes(strip_credits(track.title))))
    asked_album = album_markers(track.album) if track.album else set()
    # the video title without the song's own words and the artists' names: "Live Forever" asks
    # for nothing, "Live Forever (Live at Knebworth)" is a live recording
    rest = remove_once(fold_text(cand.title), core)
    for form in _artist_forms(track):
        rest = remove_once(rest, form)
    said = markers_in(rest)
    if cand.album and not (track.album and same_name(cand.album, track.album)):
        said |= album_markers(cand.album)
    if cand.channel and not artist_channel:
        said |= channel_markers(re.sub(r"(?i)\s*-\s*topic$", "", cand.channel))
    shown = said | markers_in(cand.title) | (album_markers(cand.album) if cand.album else set())
    return _Versions(extra=frozenset(said - asked - asked_album), missing=frozenset(asked - shown),
                     missing_album=frozenset(asked_album - asked - shown), other=_other(track, cand, asked, shown))


# ---------------------------------------------------------------- the score

def score_candidate(track: TrackQuery, cand: Candidate, config: ScoreConfig | None = None) -> Scored:
    """Score one candidate; ``rejected``/``code`` say why when it can never be chosen."""
    config = config or ScoreConfig()
    detail: dict[str, float] = {}
    title = title_similarity(track, cand)
    artist = artist_similarity(track, cand)
    detail["title"] = round(title, 3)
    detail["artist"] = round(artist, 3)

    diff: float | None = None
    if track.duration_s and cand.duration_s:
        diff = abs(cand.duration_s - track.duration_s)
        detail["duration_diff_s"] = round(diff, 3)
        # a second or two is encoding and silence, not a different edit: the same length
        exact = min(config.duration_same_s, config.duration_tolerance_s / 2)
        duration = 1.0 if diff <= exact else max(0.0, 1.0 - (diff - exact) / (config.duration_tolerance_s - exact))
    else:
        duration = config.unknown_duration
    detail["duration"] = round(duration, 3)

    topic = is_topic(cand)
    official = 2 if topic else 1 if is_official_channel(track, cand) else 0
    artist_channel = official > 0 and artist >= 0.9
    versions = _versions(track, cand, artist_channel)

    penalty = 0.0
    for kind in sorted(versions.missing_album):
        detail[f"penalty:not_{kind}"] = config.penalty_mild
        penalty += config.penalty_mild
    bonus = 0.0
    if topic:
        detail["bonus:topic"] = config.bonus_topic
        bonus += config.bonus_topic
    elif official:
        detail["bonus:official"] = config.bonus_official
        bonus += config.bonus_official
    if cand.via_isrc:
        detail["bonus:isrc"] = config.bonus_isrc
        bonus += config.bonus_isrc

    # YouTube shows some titles translated ("Gurenge" for "紅蓮華"): the artist's own upload of the
    # same length, near the top of the results and no other version, is the song all the same
    could_translate = (title < config.min_title and artist_channel and diff is not None
                       and diff <= config.translated_duration_s and cand.rank <= config.translated_max_rank
                       and (not _scripts(track.title) & _scripts(cand.title) or cand.rank == 0))
    translated = could_translate and not versions.extra and not versions.missing
    if translated:
        detail["title_translated"] = 1.0
        title = max(title, config.translated_title)

    rejected: str | None = None
    code: str | None = None
    if not cand.available:
        rejected, code = "greyed out on YouTube Music (not playable)", "unplayable"
    elif cand.live:
        rejected, code = "live stream or premiere", "live_stream"
    elif versions.extra:
        kinds = sorted(versions.extra)
        rejected, code = f"a different recording: {', '.join(k.replace('_', ' ') for k in kinds)}", "+".join(kinds)
    elif title < config.min_title and not could_translate:
        rejected, code = f"title differs ({title:.2f} < {config.min_title:g})", "title"
    elif artist < config.min_artist:
        rejected, code = f"artist differs ({artist:.2f} < {config.min_artist:g})", "artist"
    elif versions.missing:
        kinds = sorted(versions.missing)
        rejected = (f"the track is a {'/'.join(k.replace('_', ' ') for k in kinds)} version; "
                    "the video does not say so")
        code = "not_" + "+".join(kinds)
    elif versions.other:
        code, rejected = versions.other
    elif diff is not None and diff > config.duration_tolerance_s:
        assert cand.duration_s is not None and track.duration_s is not None
        rejected = (f"duration differs by {diff:.0f} s (video {cand.duration_s:.0f} s, track "
                    f"{track.duration_s:.0f} s; tolerance {config.duration_tolerance_s:g} s)")
        code = "duration"
    if code is not None:
        detail[f"rejected:{code}"] = 1.0
    if versions.extra or versions.missing or versions.other:
        for kind in sorted(versions.extra) + [f"not_{k}" for k in sorted(versions.missing)] + \
                ([versions.other[0]] if versions.other else []):
            detail[f"penalty:{kind}"] = config.penalty_version
            penalty += config.penalty_version

    base = config.weight_title * title + config.weight_artist * artist + config.weight_duration * duration
    raw = base + bonus - penalty
    score = min(1.0, max(0.0, raw))
    return Scored(candidate=cand, score=round(score, 6), detail=detail, rejected=rejected, code=code,
                  raw=round(raw, 6), official=official)


def evidence_key(scored: Scored) -> tuple[bool, float, int, int, float, int, int]:
    """Sort key, best first: usable, unclipped score, official channel, views, length, YouTube's order."""
    cand = scored.candidate
    diff = scored.detail.get("duration_diff_s")
    return (scored.rejected is not None, -scored.rank_score, -scored.official, -(cand.views or 0),
            math.inf if diff is None else diff, ROUND_ORDER.get(cand.source, len(ROUND_ORDER)), cand.rank)


def rank(scored: Iterable[Scored]) -> list[Scored]:
    """Best first by score, then by the evidence (see :func:`evidence_key`); never by video ID."""
    return sorted(scored, key=evidence_key)
