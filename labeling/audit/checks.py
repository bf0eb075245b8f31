"""The audit's checks: each reads the joined manifests and returns findings plus what to show.

A finding is one flagged row (track, check, severity, detail).  Severities:
``error`` means the dataset is wrong for training as it stands (leakage, the
same audio under two tracks, missing files); ``warning`` needs a look (a
failed download, a low match score, a duration that does not fit); ``info`` is
for review when there is time (unmapped genres, sources that disagree).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import stat
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NamedTuple

from manifests.audio import (
    CANONICAL_HEADER_BYTES,
    SAMPLE_RATE,
    WAV_PROBLEMS,
    canonical_and_sound,
    canonical_header,
    check_wav_file,
    header_problems,
)
from manifests.config import MIN_AUDIO_SECONDS
from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.ids import is_unknown_artist, normalize_text, normalize_title
from manifests.layout import Layout
from manifests.schema import SPLITS

from ..splits import artist_key
from ..taxonomy import Taxonomy
from .background import Background, Done, Pending
from .load import AuditInput, kept_table

log = logging.getLogger(__name__)

SEVERITIES = ("error", "warning", "info")

#: Every check: its severity and what it means (the README table is written from the same words).
CHECKS: dict[str, tuple[str, str]] = {
    "artist_leakage": ("error", "an artist has tracks in more than one split (the artist effect inflates scores)"),
    "recording_leakage": ("error", "the same recording (ISRC, artist + title or audio hash) is in two splits"),
    "duplicate_audio": ("error", "two tracks have byte-identical audio (same sha256): a wrong match or a duplicate"),
    "audio_file_missing": ("error", "the manifest says the audio is ready but the file is not there"),
    "audio_hash_mismatch": ("error", "the audio file's sha256 differs from the manifest (--verify-audio)"),
    "audio_path_outside": ("error", "audio_path is absolute, climbs out with '..' or is a symbolic link leading out "
                                    "of the data folder (never opened)"),
    "audio_empty": ("error", "the audio file is empty (0 bytes)"),
    "audio_not_wav": ("error", "the audio file is no WAV (text, an HTML page, an MP3, ...) or its header is "
                               "malformed"),
    "audio_truncated": ("error", "the WAV header promises more audio than the file holds (cut off, or an "
                                 "interrupted write)"),
    "audio_wrong_format": ("error", "the WAV is not 16 kHz mono 16-bit PCM"),
    "audio_duration_mismatch": ("error", "the WAV holds a different length than the manifest's audio_duration_s "
                                         "(the file changed after it was recorded)"),
    "album_leakage": ("warning", "one album (title + release date) has tracks in more than one split"),
    "duplicate_isrc": ("warning", "two track IDs share an ISRC (the same recording twice)"),
    "duplicate_artist_title": ("warning", "two track IDs share the normalised first artist and title"),
    "audio_failed": ("warning", "download status failed or no_match, with the downloader's reason"),
    "duration_outlier": ("warning", "decoded audio much shorter/longer than the catalogue says, or outside "
                                    "the allowed range"),
    "low_match_score": ("warning", "the chosen YouTube video scored below --warn-match-score"),
    "unlabeled": ("warning", "no source claim mapped to a known genre"),
    "not_in_split": ("warning", "a usable track has no split (the splits table is older than the labels)"),
    "formula_injection": ("warning", "a manifest cell starts with = + - @ tab or CR; a spreadsheet would run it "
                                     "(exports are neutralised)"),
    "audio_skipped": ("info", "download not attempted on purpose (dropped, forbidden, age-restricted, ...)"),
    "audio_not_attempted": ("info", "a usable track has no downloads row yet"),
    "review_match": ("info", "one of the lowest match scores: worth a look by hand"),
    "close_runner_up": ("info", "the runner-up video scored almost as high as the chosen one"),
    "ambiguous_label": ("info", "the top two genres are too close for a single label"),
    "source_disagreement": ("info", "the sources' top genres differ and are not even in the same family"),
    "unmapped_genre": ("info", "a raw genre string the taxonomy does not know (add an alias or rule)"),
}

#: The checks that look at the audio files themselves (path and WAV header), skipped by --no-audio-files.
FILE_CHECKS = ("audio_path_outside", *(f"audio_{kind}" for kind in WAV_PROBLEMS))


class Finding(NamedTuple):
    """One flagged row; ``track_id`` is empty for findings about a file rather than a track.

    A named tuple (immutable, ordered by its fields): a large audit makes a hundred thousand,
    and they cross from the helper process, at a third of a frozen dataclass's cost.
    """

    track_id: str
    check: str
    severity: str
    detail: str


@dataclass
class AuditOptions:
    """Thresholds of the checks (command-line options of ``labeling audit``)."""

    min_score: float = 0.7
    review: int = 20
    close_runner_up: float = 0.05
    duration_tolerance: float = 0.15
    duration_slack_s: float = 10.0
    min_seconds: float = MIN_AUDIO_SECONDS
    max_seconds: float = 900.0
    trim_seconds: float | None = None
    check_files: bool = True
    verify_audio: bool = False
    max_rows: int = 50
    #: draw the PNG plots (the slow part; CI runs may skip them)
    plots: bool = True
    #: processes a large audit may use (``--workers``): 2 reads tables and audio headers in a helper too
    workers: int = 1


@dataclass
class Section:
    """One part of the report: whether it ran, its findings, and the numbers the report shows."""

    key: str
    title: str
    ran: bool = True
    skipped_because: str = ""
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def flag(self, track_id: str | None, check: str, detail: str, severity: str | None = None) -> None:
        self.findings.append(Finding(track_id or "", check, severity or CHECKS[check][0], detail))


def _skipped(key: str, title: str, because: str) -> Section:
    return Section(key, title, ran=False, skipped_because=because)


# ---------------------------------------------------------------- populations

def catalogue(inp: AuditInput) -> dict[str, dict[str, Any]]:
    """Every known track that is not dropped (one dict shared by every check: read it, do not change it)."""
    return inp.catalogue


def labelled(inp: AuditInput) -> list[dict[str, Any]]:
    """Tracks whose labels count: the training manifest when present, else usable labels rows."""
    cat = catalogue(inp)
    if inp.has("training"):
        return [e for e in cat.values() if "training" in e["in_tables"]]
    return [e for e in cat.values() if e.get("label_status") in ("ok", "ambiguous")]


def describe(entry: dict[str, Any]) -> str:
    """``"Title" by Artist`` for details and tables."""
    title = entry.get("title") or "?"
    artists = ", ".join(entry.get("artists") or []) or "?"
    return f'"{title}" by {artists}'


def _others(ids: Iterable[str], own: str, limit: int = 5) -> str:
    rest = sorted(i for i in set(ids) if i != own)
    text = ", ".join(rest[:limit])
    return text + (f" and {len(rest) - limit} more" if len(rest) > limit else "")


# ---------------------------------------------------------------- labels

def check_labels(inp: AuditInput, opts: AuditOptions) -> Section:
    """Counts per genre (per split too) and label co-occurrence; unlabeled and ambiguous tracks."""
    sec = Section("labels", "Genres and labels")
    rows = labelled(inp)
    if not rows and not inp.has("labels"):
        return _skipped("labels", "Genres and labels", "needs a labels or training table")
    # every track's genres (and pairs) go into lists, counted once at the end: a Counter.update
    # per track costs more than the counting itself
    every: list[str] = []
    top_list: list[str] = []
    split_lists: dict[str, list[str]] = defaultdict(list)
    pair_list: list[tuple[str, str]] = []
    n_multi = 0
    for e in rows:
        genres = sorted(g for g, w in (e.get("genres") or {}).items() if w > 0)
        every += genres
        if e.get("top_genre"):
            top_list.append(e["top_genre"])
        if e.get("split"):
            split_lists[e["split"]] += genres
        if len(genres) > 1:
            n_multi += 1
            pair_list += combinations(genres, 2)
    counts, tops, pairs = Counter(every), Counter(top_list), Counter(pair_list)
    per_split = {split: Counter(genres) for split, genres in split_lists.items()}
    order = sorted(counts, key=lambda g: (-counts[g], g))
    sec.data.update(tracks=len(rows), multi=n_multi, counts=counts, tops=tops, order=order,
                    per_split={s: per_split[s] for s in SPLITS if s in per_split}, pairs=pairs)
    dropped = inp.dropped
    for tid, status, reason, weights_of in zip(*inp.columns("labels", "track_id", "status", "reason", "genres"),
                                               strict=True):
        if status not in ("unlabeled", "ambiguous") or tid in dropped:
            continue
        if status == "unlabeled":
            sec.flag(tid, "unlabeled", reason or "no mapped genre claim")
        else:
            weights = ", ".join(f"{g} {w:.2f}" for g, w in (weights_of or {}).items())
            sec.flag(tid, "ambiguous_label", (reason or "top genres too close") + (f" ({weights})" if weights else ""))
    sec.data["statuses"] = Counter(inp.columns("labels", "status")[0])
    return sec


# ---------------------------------------------------------------- sources

#: One track's sources and each one's top genres: (source, top genres) sorted by source.
_Tops = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class ClaimFacts:
    """What the claims table says of each track, worked out before the catalogue is known.

    A large audit's helper process keeps the claims table and works this out while this
    process still reads and joins the other tables; the two checks on claims then only pick
    the catalogue's tracks (:func:`judge_sources`, :func:`count_unmapped`).
    """

    #: track -> what its sources rank first (tracks with at least one mapped claim)
    tops: dict[str, _Tops]
    #: (track, source, raw genre) of every claim whose raw genre the taxonomy does not map
    unmapped: list[tuple[str, str | None, str]]
    origin: str

    def agreement(self, tracks: Container[str], taxonomy: Taxonomy) -> Section:
        """The source agreement section over the catalogue's ``tracks``."""
        return judge_sources({tid: t for tid, t in self.tops.items() if tid in tracks}, "claims", taxonomy)

    def unmapped_genres(self, dropped: Container[str]) -> Section:
        """The unmapped genres section, leaving out the ``dropped`` tracks."""
        return count_unmapped(self.unmapped, dropped, self.origin)


def claim_facts(claims: Mapping[str, list[Any]], taxonomy: Taxonomy) -> ClaimFacts:
    """:class:`ClaimFacts` of a claims table held as columns; each distinct raw genre is mapped once."""
    tids, sources, raws, weights = (claims.get(name, []) for name in ("track_id", "source", "raw_genre", "weight"))
    mapped = {raw: taxonomy.map(raw) for raw in set(raws)}  # a few thousand strings, 300,000 claims
    by_track: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    unmapped: list[tuple[str, str | None, str]] = []
    for tid, source, raw, weight in zip(tids, sources, raws, weights, strict=True):
        genre = mapped[raw]
        if genre is None:
            unmapped.append((tid, source, raw))
            continue
        held = by_track[tid][source]
        held[genre] = max(held.get(genre, 0.0), float(weight))
    return ClaimFacts(_tops_of(by_track), unmapped, f"claims mapped with {taxonomy.source}")


def _tops_of(by_track: Mapping[str, Mapping[str, dict[str, float]]]) -> dict[str, _Tops]:
    """track -> (source, top genres) of every source that has a genre, sorted by source."""
    return {tid: tuple((source, _top(genres)) for source, genres in sorted(per_source.items()) if genres)
            for tid, per_source in by_track.items()}


def claim_facts_of(inp: AuditInput) -> ClaimFacts:
    """:func:`claim_facts` of the audit's claims table, worked out once for both checks that read it."""
    found = inp.derived.get("claim_facts")
    if found is None:
        claims = dict(zip(("track_id", "source", "raw_genre", "weight"),
                          inp.columns("claims", "track_id", "source", "raw_genre", "weight"), strict=True))
        found = inp.derived["claim_facts"] = claim_facts(claims, inp.taxonomy)
    return found


def _label_tops(inp: AuditInput, tracks: Container[str]) -> dict[str, _Tops]:
    """track -> its sources' top genres from the labels table's sources column (no claims table)."""
    by_track: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for e in inp.view.values():
        if e["track_id"] not in tracks or not e.get("sources"):
            continue
        weights = e.get("genres") or {}
        for genre, sources in e["sources"].items():
            for source in sources:
                by_track[e["track_id"]][source][genre] = float(weights.get(genre, 1.0))
    return _tops_of(by_track)


def _top(genres: dict[str, float]) -> tuple[str, ...]:
    """The genres a source ranks first (ties together), sorted."""
    if len(genres) == 1:
        return tuple(genres)
    best = max(genres.values())
    return tuple(sorted(g for g, w in genres.items() if w >= best - 1e-9))


def check_sources(inp: AuditInput, opts: AuditOptions) -> Section:
    """Per track: do the sources agree on the top genre? Per source pair: how often?"""
    return sources_section(inp, catalogue(inp))


def sources_section(inp: AuditInput, tracks: Container[str]) -> Section:
    """:func:`check_sources` over the catalogue's ``tracks``."""
    if not inp.has("claims") and not inp.has("labels"):
        return _skipped("sources", SOURCES_TITLE, "needs a claims or labels table")
    if inp.has("claims"):
        return claim_facts_of(inp).agreement(tracks, inp.taxonomy)
    return judge_sources(_label_tops(inp, tracks), "labels", inp.taxonomy)


SOURCES_TITLE = "Source agreement"


def judge_sources(tops_of: Mapping[str, _Tops], origin: str, tax: Taxonomy) -> Section:
    """The source agreement section from each catalogue track's sources' top genres.

    Tracks are grouped by what their sources rank first: a hundred thousand tracks show a
    few thousand such patterns, and each pattern is judged once.
    """
    sec = Section("sources", SOURCES_TITLE)
    roots: dict[str, str] = {}  # a few hundred genres

    def root(genre: str) -> str:
        found = roots.get(genre)
        if found is None:
            try:
                chain = tax.ancestors(genre)
            except KeyError:
                chain = []
            found = roots[genre] = chain[-1] if chain else genre
        return found

    def judge(tops: _Tops) -> str:
        if len(tops) < 2:
            return "single source"
        if set.intersection(*(set(t) for _, t in tops)):
            return "agree"
        if set.intersection(*({root(g) for g in t} for _, t in tops)):
            return "same family"
        return "disagree"

    # patterns in the order first seen (the tracks sorted), each looked up once per track: a
    # pattern is a tuple of tuples, and Python hashes a tuple anew at every lookup
    index: dict[_Tops, int] = {}
    patterns: list[_Tops] = []
    counts: list[int] = []
    details: list[str | None] = []  # what a disagreement says, once per pattern; None: no disagreement
    verdicts: list[str] = []
    severity = CHECKS["source_disagreement"][0]
    for tid in sorted(tops_of):
        tops = tops_of[tid]
        p = index.get(tops)
        if p is None:
            p = index[tops] = len(patterns)
            patterns.append(tops)
            counts.append(0)
            verdicts.append(judge(tops))
            details.append("; ".join(f"{s}: {', '.join(t)}" for s, t in tops) if verdicts[p] == "disagree" else None)
        counts[p] += 1
        detail = details[p]
        if detail is not None:
            sec.findings.append(Finding(tid, "source_disagreement", severity, detail))
    outcomes: Counter[str] = Counter()
    pair_n: Counter[tuple[str, str]] = Counter()
    pair_agree: Counter[tuple[str, str]] = Counter()
    coverage: Counter[str] = Counter()
    for tops, n, verdict in zip(patterns, counts, verdicts, strict=True):
        outcomes[verdict] += n
        for source, _ in tops:
            coverage[source] += n
        for (a, top_a), (b, top_b) in combinations(tops, 2):
            pair_n[(a, b)] += n
            if not set(top_a).isdisjoint(top_b):
                pair_agree[(a, b)] += n
    sec.data.update(origin=origin, outcomes=outcomes, coverage=coverage, sources=sorted(coverage),
                    pairs=[(a, b, pair_n[(a, b)], pair_agree[(a, b)] / pair_n[(a, b)])
                           for a, b in sorted(pair_n)])
    return sec


def check_unmapped(inp: AuditInput, opts: AuditOptions) -> Section:
    """Raw genre strings the taxonomy does not map, with how often they occur."""
    return unmapped_section(inp, inp.dropped)


UNMAPPED_TITLE = "Unmapped raw genres"


def unmapped_section(inp: AuditInput, dropped: Container[str]) -> Section:
    """:func:`check_unmapped` leaving out the ``dropped`` tracks."""
    if not inp.has("claims") and not inp.has("labels"):
        return _skipped("unmapped", UNMAPPED_TITLE, "needs a claims or labels table")
    if inp.has("claims"):
        return claim_facts_of(inp).unmapped_genres(dropped)
    found = [(tid, None, raw) for tid, unmapped in zip(*inp.columns("labels", "track_id", "unmapped"), strict=True)
             for raw in unmapped or []]
    return count_unmapped(found, dropped, "the labels table's unmapped column")


def count_unmapped(found: Iterable[tuple[str, str | None, str]], dropped: Container[str], origin: str) -> Section:
    """The unmapped genres section from (track, source or None, raw genre) of every unmapped genre found."""
    sec = Section("unmapped", UNMAPPED_TITLE)
    per_raw: dict[str, dict[str, Any]] = {}
    per_track: dict[str, set[str]] = defaultdict(set)
    for tid, source, raw in found:
        if tid in dropped:
            continue
        info = per_raw.setdefault(raw, {"claims": 0, "tracks": set(), "sources": set()})
        info["claims"] += 1
        info["tracks"].add(tid)
        if source is not None:
            info["sources"].add(source)
        per_track[tid].add(raw)
    sec.data["origin"] = origin
    for tid, raws in sorted(per_track.items()):
        sec.flag(tid, "unmapped_genre", "; ".join(sorted(raws)))
    sec.data["raw"] = sorted(per_raw.items(), key=lambda kv: (-kv[1]["claims"], kv[0]))
    return sec


# ---------------------------------------------------------------- duplicates and leakage

#: Artists and albums recur on many tracks: their normalised forms are worked out once per name.
_unknown_artist = functools.lru_cache(maxsize=1 << 18)(is_unknown_artist)
_normalized = functools.lru_cache(maxsize=1 << 18)(normalize_text)


def _duplicate_keys(e: dict[str, Any]) -> list[tuple[str, str]]:
    keys = []
    if e.get("isrc"):
        keys.append(("duplicate_isrc", e["isrc"].upper()))
    artists = [a for a in e.get("artists") or [] if not _unknown_artist(a)]
    bare = normalize_title(e["title"]) if artists and e.get("title") else ""
    if bare:  # two unknown artists are no match; the key is manifests.ids.artist_title_key's, title normalised once
        keys.append(("duplicate_artist_title", f"{_normalized(str(artists[0]))}|{bare}"))
    if e.get("sha256"):
        keys.append(("duplicate_audio", e["sha256"]))
    return keys


KEY_WORDS = {"duplicate_isrc": "ISRC", "duplicate_artist_title": "artist + title",
             "duplicate_audio": "audio sha256"}


def check_duplicates(inp: AuditInput, opts: AuditOptions) -> Section:
    """Same ISRC, same normalised artist + title, same audio hash; and duplicates across splits."""
    sec = Section("duplicates", "Duplicates")
    cat = catalogue(inp)
    if not cat:
        return _skipped("duplicates", "Duplicates", "no tracks")
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for tid in sorted(cat):
        for key in _duplicate_keys(cat[tid]):
            members[key].append(tid)
    groups = sorted((check, value, ids) for (check, value), ids in members.items() if len(ids) > 1)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for check, value, ids in groups:
        for tid in ids:
            sec.flag(tid, check, f"same {KEY_WORDS[check]} ({value}) as {_others(ids, tid)}")
        for tid in ids[1:]:
            a, b = find(ids[0]), find(tid)
            if a != b:
                parent[max(a, b)] = min(a, b)
    components: dict[str, list[str]] = defaultdict(list)
    for tid in {t for _, _, ids in groups for t in ids}:
        components[find(tid)].append(tid)
    leaks = []
    for ids in components.values():
        splits = {t: cat[t].get("split") for t in ids if cat[t].get("split")}
        if len(set(splits.values())) > 1:
            leaks.append(sorted(ids))
            for tid, split in sorted(splits.items()):
                elsewhere = ", ".join(f"{o} ({s})" for o, s in sorted(splits.items()) if s != split)
                sec.flag(tid, "recording_leakage", f"in {split}; the same recording is in {elsewhere}")
    sec.data.update(groups=groups, leaks=sorted(leaks), checked=len(cat),
                    has_audio=any(e.get("sha256") for e in cat.values()))
    return sec


def _leaks(entries: Iterable[dict[str, Any]], keys_of: Callable[[dict[str, Any]], Iterable[tuple[str, str]]]
           ) -> list[tuple[str, dict[str, list[str]]]]:
    """(display name, split -> track IDs) for every key found in more than one split.

    A track counts once per key; a key's display name is the first one seen (tracks sorted by
    ID, a track's (key, name) pairs sorted).
    """
    where: dict[str, dict[str, list[str]]] = {}
    names: dict[str, str] = {}
    for e in sorted(entries, key=lambda e: e["track_id"]):
        tid, split = e["track_id"], e["split"]
        for key, name in sorted(keys_of(e)):
            by_split = where.get(key)
            if by_split is None:
                where[key] = {split: [tid]}
                names[key] = name
                continue
            ids = by_split.get(split)
            if ids is None:
                by_split[split] = [tid]
            elif ids[-1] != tid:  # the same key twice on one track counts once
                ids.append(tid)
    out = [(names[k], {s: v[s] for s in SPLITS if s in v}) for k, v in where.items() if len(v) > 1]
    return sorted(out, key=lambda item: (-sum(len(v) for v in item[1].values()), item[0]))


def _flag_leaks(sec: Section, check: str, noun: str, leaks: list[tuple[str, dict[str, list[str]]]]) -> None:
    """Flag every track of every leaked artist or album, saying how the key is spread over the splits."""
    for name, by_split in leaks:
        summary = ", ".join(f"{s} {len(ids)}" for s, ids in by_split.items())
        for split, ids in by_split.items():
            for tid in ids:
                sec.flag(tid, check, f"{noun} {name!r} is in several splits ({summary}); this track is in {split}")


def check_leakage(inp: AuditInput, opts: AuditOptions) -> Section:
    """Artists and albums with tracks in more than one split."""
    title = "Leakage across splits"
    cat = catalogue(inp)
    split_rows = [e for e in cat.values() if e.get("split")]
    if not split_rows:
        return _skipped("leakage", title, "needs a splits table or a training manifest with splits")
    sec = Section("leakage", title)
    no_artists = sum(1 for e in split_rows if not e.get("artists"))
    artist_leaks = _leaks([e for e in split_rows if e.get("artists")],
                          lambda e: {(artist_key(a), a) for a in e["artists"]
                                     if artist_key(a) and not _unknown_artist(a)})
    _flag_leaks(sec, "artist_leakage", "artist", artist_leaks)
    with_album = [e for e in split_rows if e.get("album")]
    album_leaks = _leaks(with_album, lambda e: [(f"{_normalized(e['album']) or e['album']}\0"
                                                 f"{e.get('release_date') or ''}",
                                                 e["album"] + (f" ({e['release_date']})" if e.get("release_date")
                                                               else ""))])
    _flag_leaks(sec, "album_leakage", "album", album_leaks)
    if inp.has("splits") and not inp.has("training"):
        for e in labelled(inp):
            if not e.get("split"):
                sec.flag(e["track_id"], "not_in_split", "usable labels but no split; rerun `python -m labeling "
                                                         "split`")
    sec.data.update(tracks=len(split_rows), counts=Counter(e["split"] for e in split_rows),
                    artist_leaks=artist_leaks, album_leaks=album_leaks, albums_known=len(with_album),
                    no_artists=no_artists)
    return sec


# ---------------------------------------------------------------- audio

def audio_path_outside(root: Path, stored: str) -> str | None:
    """Why a manifest's ``audio_path`` leads out of the data folder, or None; decided without opening anything.

    Manifests are edited by hand and passed around, so ``../../../../etc/passwd`` is a
    possible cell.  The audit must not read (or hash) such a file whatever the
    manifest reader lets through, so this looks only at the text and, for symbolic
    links, at where they point (``resolve`` reads links, never files).
    """
    why = _outside_by_text(stored)
    if why:
        return why
    real, home = (root / stored).resolve(), root.resolve()
    if not real.is_relative_to(home):
        return f"is a symbolic link leading out of the data folder (to {real})"
    return None


def _outside_by_text(stored: str) -> str | None:
    if "\\" not in stored and ":" not in stored and ".." not in stored and not stored.startswith("/"):
        return None  # the usual audio/<id>.wav: no drive, no root, no '..' (no path objects needed)
    if stored.startswith(("/", "\\")) or PurePosixPath(stored).is_absolute() or PureWindowsPath(stored).drive:
        return "is an absolute path; audio paths are relative to the data folder"
    if ".." in stored.replace("\\", "/").split("/"):
        return "climbs out of the data folder with '..'"
    return None


#: How the audit opens an audio file: never through a link (a link takes the exact path), never blocking on a FIFO.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))
#: Whether this system can open a file without following a link and read it without a file object.
_OPEN_PLAIN = hasattr(os, "O_NOFOLLOW") and hasattr(os, "pread")


class _Found(NamedTuple):
    """A file looked up the fast way: its path, whether it is a regular file, and its first bytes and size.

    A named tuple: made once per audio file, it costs a third of a frozen dataclass.
    """

    path: str
    is_file: bool
    head: bytes | None = None
    size: int = 0


class _PlainFiles:
    """Audio files in folders with no symbolic link between them and the data folder, opened directly.

    ``audio_path_outside`` and ``Layout.resolve`` resolve every path component of every
    file (a dozen system calls each); for a plain file in a plain folder their answer is known:
    inside, at ``root / stored``. Anything else (a link, an odd path) takes their exact path.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = os.path.join(root, "")  # + a relative path: what os.path.join gives, at a string's cost
        self.plain: dict[str, bool] = {}

    def lookup(self, stored: str) -> _Found | None:
        """The file when the fast answer is certain, else None (the exact path decides, and names any problem).

        One open that refuses a link, one fstat and one pread of the header's bytes per file,
        instead of an lstat, an open with a buffered reader, and its fstat.
        """
        if _outside_by_text(stored):
            return None
        path = self.base + stored  # relative: _outside_by_text let no root or drive through
        folder = path.rpartition("/")[0]
        plain = self.plain.get(folder)
        if plain is None:
            parent = Path(folder)
            plain = self.plain[folder] = not any(p.is_symlink() for p in (parent, *parent.parents)
                                                 if p.is_relative_to(self.root))
        if not plain:
            return None
        if not _OPEN_PLAIN:  # pragma: no cover - systems without O_NOFOLLOW: look, then let the reader open
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                return _Found(path, is_file=False)
            except OSError:
                return None
            return None if stat.S_ISLNK(mode) else _Found(path, is_file=stat.S_ISREG(mode))
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            return _Found(path, is_file=False)
        except OSError:  # a link (ELOOP), no permission, a file where a folder should be, ...
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return _Found(path, is_file=False)
            return _Found(path, is_file=True, head=os.pread(fd, CANONICAL_HEADER_BYTES, 0), size=info.st_size)
        except OSError:
            return None
        finally:
            os.close(fd)


def _file_problems(stored: str, path: str, expected_s: float | None, found: _Found | None = None
                   ) -> list[tuple[str, str]]:
    """(check, detail) for what the WAV header says is wrong with one track's file.

    The header bytes ``found`` already holds decide the usual canonical header; anything else
    is read again by ``check_wav_file``.
    """
    header = canonical_header(found.head, found.size) if found is not None and found.head is not None else None
    try:
        problems = (header_problems(header, expected_s=expected_s, sample_rate=SAMPLE_RATE) if header is not None
                    else check_wav_file(path, expected_s=expected_s, sample_rate=SAMPLE_RATE))
    except OSError as exc:
        return [("audio_file_missing", f"{stored} exists but cannot be read ({exc.strerror or exc})")]
    return [(f"audio_{problem.kind}", f"{stored}: {problem.detail}") for problem in problems]


#: (track_id, audio_path, audio_duration_s) of one file to check
FileItem = tuple[str, str | None, float | None]


@dataclass
class FileChecks:
    """What :func:`check_files` found: findings as (track_id, check, detail), counts, and the paths it opened."""

    findings: list[tuple[str, str, str]] = field(default_factory=list)
    missing: int = 0
    outside: int = 0
    checked: int = 0
    broken: int = 0
    #: track_id -> the file that was checked (what --verify-audio hashes)
    opened: dict[str, str] = field(default_factory=dict)


def check_files(root: Path, items: list[FileItem]) -> FileChecks:
    """Every ready track's file: inside the data folder, there, and a WAV whose header keeps its promises.

    A pure function of the folder and the items (sorted by track ID), so the audit can run it
    in its helper process while it does the other checks.
    """
    out = FileChecks()
    files = _PlainFiles(root)
    layout = Layout(root)
    for tid, stored, expected_s in items:
        if not stored:
            out.findings.append((tid, "audio_file_missing", "status ok but no audio_path recorded"))
            out.missing += 1
            continue
        known = files.lookup(stored)
        path: Path | str | None
        if known is not None:
            is_file, path = known.is_file, known.path
        else:
            why = audio_path_outside(root, stored)
            try:
                path = None if why else layout.resolve(stored)
            except UserError as exc:  # the layout's own refusal of a path out of the folder
                why, path = str(exc), None
            is_file = path is not None and path.is_file()
        if path is None:
            out.findings.append((tid, "audio_path_outside", f"{stored!r} {why}; not opened"))
            out.outside += 1
        elif not is_file:
            out.findings.append((tid, "audio_file_missing", f"{stored} not found under {root}"))
            out.missing += 1
        elif known is not None and known.head is not None and canonical_and_sound(
                known.head, known.size, expected_s=expected_s, sample_rate=SAMPLE_RATE):
            out.checked += 1  # nearly every file: nothing to say, and nothing built to say it
            out.opened[tid] = known.path
        else:
            out.checked += 1
            problems = _file_problems(stored, str(path), expected_s, known)
            out.findings += [(tid, check, detail) for check, detail in problems]
            out.broken += bool(problems)
            out.opened[tid] = str(path)
    return out


#: From this many files on, a large audit checks them in its helper process (fewer cost less than starting it).
HELPER_MIN_FILES = 2000


def ready_files(inp: AuditInput) -> list[dict[str, Any]]:
    """The catalogue's tracks whose audio should be there: a finished download or a training row.

    Worked out once: the file checks start with them and the audio section counts them.
    """
    found = inp.derived.get("ready_files")
    if found is None:
        found = inp.derived["ready_files"] = [e for e in catalogue(inp).values()
                                              if e.get("download_status") == "ok" or "training" in e["in_tables"]]
    return found


def start_file_checks(inp: AuditInput, opts: AuditOptions, background: Background
                      ) -> Pending[FileChecks] | Done[FileChecks] | None:
    """Start :func:`check_files` on every ready file (in the helper process when there are many); None if off."""
    if not opts.check_files or (not inp.has("downloads") and not inp.has("training")):
        return None
    items = [(e["track_id"], e.get("audio_path"), e.get("audio_duration_s"))
             for e in sorted(ready_files(inp), key=lambda e: e["track_id"])]
    return background.submit(check_files, inp.root, items, big=len(items) >= HELPER_MIN_FILES)


def check_audio(inp: AuditInput, opts: AuditOptions,
                files: Pending[FileChecks] | Done[FileChecks] | None = None) -> Section:
    """Failed, skipped and missing downloads with their reasons; files that are missing or broken.

    Every existing file's WAV header is checked (format, length, cut-off) by default: it
    costs one small read per file, while hashing (``--verify-audio``) reads every byte.
    ``files`` is :func:`start_file_checks`'s result when it was started earlier.
    """
    title = "Missing or failed audio"
    cat = catalogue(inp)
    if not inp.has("downloads") and not inp.has("training"):
        return _skipped("audio", title, "needs a downloads table or a training manifest")
    sec = Section("audio", title)
    reasons: Counter[tuple[str, str]] = Counter()
    statuses: Counter[str] = Counter()
    for tid, status, why, retryable in zip(*inp.columns("downloads", "track_id", "status", "reason", "retryable"),
                                           strict=True):
        if tid not in cat:
            continue
        statuses[status] += 1
        if status == "ok":
            continue
        reason = why or "no reason recorded"
        reasons[(status, reason)] += 1
        retry = " (a rerun will retry)" if retryable else ""
        check = "audio_skipped" if status == "skipped" else "audio_failed"
        sec.flag(tid, check, f"{status}: {reason}{retry}")
    if inp.has("downloads"):
        downloaded = set(inp.columns("downloads", "track_id")[0])
        for e in labelled(inp):
            if e["track_id"] not in downloaded:
                sec.flag(e["track_id"], "audio_not_attempted", "no downloads row yet; run the download step")
    ready = ready_files(inp)
    if files is None:
        files = start_file_checks(inp, opts, Background())
    found = files.result() if files is not None else FileChecks()
    for tid, check, detail in found.findings:
        sec.flag(tid, check, detail)
    to_hash = [(inp.view[tid], path) for tid, path in found.opened.items()
               if opts.verify_audio and inp.view[tid].get("sha256")]
    mismatched = 0
    if to_hash:
        from tqdm import tqdm

        for e, path in tqdm(to_hash, desc="hashing audio", unit="file", disable=None):
            actual = sha256_file(path)
            if actual != e["sha256"]:
                mismatched += 1
                sec.flag(e["track_id"], "audio_hash_mismatch",
                         f"{e['audio_path']} has sha256 {actual[:12]}..., the manifest says {e['sha256'][:12]}...")
    sec.data.update(statuses=statuses, reasons=sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
                    ready=len(ready), missing=found.missing, outside=found.outside, checked=found.checked,
                    broken=found.broken, hashed=len(to_hash), mismatched=mismatched,
                    files_checked=opts.check_files)
    return sec


def _downloaded(entry: dict[str, Any]) -> bool:
    """Whether a track's audio columns describe a finished download (a training row, or no failed status)."""
    return entry.get("download_status") in (None, "ok") or "training" in entry["in_tables"]


def detect_trim(pairs: list[tuple[float | None, float]]) -> float | None:
    """The length the downloader trimmed audio to, if most long tracks end at the same length.

    ``pairs`` are (catalogue seconds or None, audio seconds).  Trimming shows as a
    common audio duration that every track longer than it was cut to.
    """
    if len(pairs) < 3:
        return None
    rounded = Counter(round(audio, 1) for _, audio in pairs)
    value, n = rounded.most_common(1)[0]
    if n < max(3, 0.2 * len(pairs)):
        return None
    cut = [cat for cat, audio in pairs if round(audio, 1) == value and cat is not None]
    if cut and all(c >= value - 1.0 for c in cut) and any(c > value + 1.0 for c in cut):
        return float(value)
    return None


def check_durations(inp: AuditInput, opts: AuditOptions) -> Section:
    """Decoded duration against the catalogue's, and against the allowed range."""
    title = "Duration outliers"
    cat = catalogue(inp)
    rows = [e for e in cat.values() if e.get("audio_duration_s") is not None and _downloaded(e)]
    if not rows:
        return _skipped("durations", title, "needs decoded durations (downloads table or training manifest)")
    sec = Section("durations", title)
    pairs = [((e["duration_ms"] / 1000 if e.get("duration_ms") else None), float(e["audio_duration_s"]))
             for e in rows]
    cap = opts.trim_seconds if opts.trim_seconds is not None else detect_trim(pairs)
    points = []
    for e in sorted(rows, key=lambda e: e["track_id"]):
        audio = float(e["audio_duration_s"])
        catalogue_s = e["duration_ms"] / 1000 if e.get("duration_ms") else None
        problems = []
        if audio <= 0:
            problems.append("decoded audio is empty (0 s)")
        elif audio < opts.min_seconds:
            problems.append(f"{audio:.1f} s is shorter than the minimum {opts.min_seconds:g} s")
        elif audio > opts.max_seconds:
            problems.append(f"{audio:.1f} s is longer than the maximum {opts.max_seconds:g} s (a mix or "
                            "a full album?)")
        expected = None
        if catalogue_s:
            expected = min(catalogue_s, cap) if cap else catalogue_s
            allowed = max(opts.duration_slack_s, opts.duration_tolerance * expected)
            diff = audio - expected
            if abs(diff) > allowed:
                kind = "shorter" if diff < 0 else "longer"
                problems.append(f"decoded {audio:.1f} s vs catalogue {catalogue_s:.1f} s"
                                + (f" (trimmed to {cap:g} s)" if cap and expected < catalogue_s else "")
                                + f": {abs(diff):.1f} s {kind}; another version or a broken download?")
        flagged = bool(problems)
        if flagged:
            sec.flag(e["track_id"], "duration_outlier", "; ".join(problems),
                     severity="error" if audio <= 0 else None)
        points.append((expected, audio, flagged))
    audio_all = [p[1] for p in points]
    sec.data.update(points=points, cap=cap, cap_detected=opts.trim_seconds is None and cap is not None,
                    median=statistics.median(audio_all), n=len(points),
                    with_catalogue=sum(1 for p in points if p[0] is not None))
    return sec


# ---------------------------------------------------------------- YouTube matches

def youtube_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def check_matches(inp: AuditInput, opts: AuditOptions) -> Section:
    """Low and lowest match scores, and close runner-ups, for review by hand."""
    title = "YouTube matches to review"
    cat = catalogue(inp)
    rows = [e for e in cat.values() if e.get("youtube_id") and e.get("match_score") is not None and _downloaded(e)]
    if not rows:
        return _skipped("matches", title, "needs match scores (downloads table or training manifest)")
    sec = Section("matches", title)
    by_id = {e["track_id"]: e for e in rows}
    pinned = {tid for tid, override in inp.overrides.by_track.items()
              if tid in by_id and override.pinned_video == by_id[tid]["youtube_id"]}
    ranked = sorted(rows, key=lambda e: (e["match_score"], e["track_id"]))
    reviewable = [e for e in ranked if e["track_id"] not in pinned]
    # at most a tenth of the matches, so a small collection is not all "lowest"
    lowest = reviewable[:min(opts.review, max(1, math.ceil(0.1 * len(reviewable))))]
    for e in reviewable:
        if e["match_score"] < opts.min_score:
            sec.flag(e["track_id"], "low_match_score", f"score {e['match_score']:.3f} < {opts.min_score:g}: "
                                                       f"{youtube_url(e['youtube_id'])}")
    for e in lowest:
        if e["match_score"] >= opts.min_score:
            sec.flag(e["track_id"], "review_match", f"score {e['match_score']:.3f}, among the "
                                                    f"{len(lowest)} lowest: {youtube_url(e['youtube_id'])}")
    close = []
    for e in reviewable:
        ru = e.get("runner_up_score")
        if e.get("runner_up_id") and ru is not None and e["match_score"] - ru <= opts.close_runner_up:
            close.append(e)
            sec.flag(e["track_id"], "close_runner_up",
                     f"chosen {e['match_score']:.3f} {youtube_url(e['youtube_id'])}, runner-up {ru:.3f} "
                     f"{youtube_url(e['runner_up_id'])}")
    sec.data.update(scores=[e["match_score"] for e in rows], lowest=lowest, close=close, pinned=len(pinned),
                    n_low=sum(1 for e in reviewable if e["match_score"] < opts.min_score))
    return sec


# ---------------------------------------------------------------- spreadsheet safety

def check_formulas(inp: AuditInput, opts: AuditOptions) -> Section:
    """Manifest cells a spreadsheet would run as formulas."""
    sec = Section("formulas", "Spreadsheet safety (formula injection)")
    for cell in inp.risky_cells:
        preview = cell.text if len(cell.text) <= 40 else cell.text[:37] + "..."
        sec.flag(cell.track_id, "formula_injection",
                 f"{cell.path.name} line {cell.line}, column {cell.column}: starts with {cell.text[0]!r}: "
                 f"{preview!r}")
    sec.data["tables"] = sorted({c.table for c in inp.risky_cells})
    return sec


ALL_CHECKS: tuple[Callable[[AuditInput, AuditOptions], Section], ...] = (
    check_labels, check_sources, check_unmapped, check_duplicates, check_leakage, check_audio,
    check_durations, check_matches, check_formulas)


#: The checks that read only the claims table: they run where it is (the helper process, when it kept it).
CLAIM_CHECKS = (check_sources, check_unmapped)
#: A section as plain data, to cross between processes: (key, title, ran, skipped_because, findings, data).
PlainSection = tuple[str, str, bool, str, list[tuple[str, str, str, str]], dict[str, Any]]


def _plain(sec: Section) -> PlainSection:
    findings = [(f.track_id, f.check, f.severity, f.detail) for f in sec.findings]  # plain tuples pickle fastest
    return sec.key, sec.title, sec.ran, sec.skipped_because, findings, sec.data


def _unplain(plain: PlainSection) -> Section:
    key, title, ran, because, findings, data = plain
    return Section(key, title, ran, because, list(map(Finding._make, findings)), data)


#: In the helper process: claims table path -> its facts, worked out while this process still reads.
_PREPARED: dict[str, ClaimFacts] = {}


def prepare_claims(path: str, taxonomy: Taxonomy) -> None:
    """In the helper process: the facts of the claims table it kept, for :func:`claim_checks` to finish."""
    _PREPARED[path] = claim_facts(kept_table(path), taxonomy)


def claim_checks(path: str, taxonomy: Taxonomy, tracks: frozenset[str], dropped: frozenset[str]
                 ) -> tuple[PlainSection, PlainSection]:
    """In the helper process: source agreement and unmapped genres over the claims table it kept.

    The claims' facts are those :func:`prepare_claims` worked out, or worked out now.
    """
    facts = _PREPARED.pop(path, None) or claim_facts(kept_table(path), taxonomy)
    return _plain(facts.agreement(tracks, taxonomy)), _plain(facts.unmapped_genres(dropped))


def start_claim_checks(inp: AuditInput, background: Background) -> Pending[tuple[PlainSection, PlainSection]] | None:
    """:func:`claim_checks` in the helper process when it kept the claims table; else None (they run here)."""
    if "claims" not in inp.kept:
        return None
    job = background.submit(claim_checks, str(inp.paths["claims"]), inp.taxonomy, frozenset(inp.catalogue),
                            inp.dropped, big=True)
    assert isinstance(job, Pending), "a kept table implies a helper process"
    return job


def run_checks(inp: AuditInput, opts: AuditOptions, background: Background | None = None,
               on_section: Callable[[Section], None] | None = None) -> list[Section]:
    """Every check; the audio files' headers are read meanwhile (in the helper process when large).

    When the helper kept the claims table, the checks on it run there too, after the headers,
    while this process does the rest. ``on_section`` is called with each section as soon as it
    is finished (the plots start there); the sections come back in ``ALL_CHECKS`` order.
    """
    background = background or Background()
    files = start_file_checks(inp, opts, background)
    claims = start_claim_checks(inp, background)
    done: dict[Callable[[AuditInput, AuditOptions], Section], Section] = {}

    def finished(check: Callable[[AuditInput, AuditOptions], Section], section: Section) -> None:
        log.debug("%s: %s", section.title, f"{len(section.findings)} findings" if section.ran
                  else f"skipped ({section.skipped_because})")
        done[check] = section
        if on_section is not None:
            on_section(section)

    for check in ALL_CHECKS:
        if claims is not None and check in CLAIM_CHECKS:
            continue
        finished(check, check_audio(inp, opts, files) if check is check_audio else check(inp, opts))
    if claims is not None:
        for check, plain in zip(CLAIM_CHECKS, claims.result(), strict=True):
            finished(check, _unplain(plain))
    return [done[check] for check in ALL_CHECKS]
