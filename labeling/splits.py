"""Artist- and recording-disjoint train/validation/test splits, stratified over genres.

Why groups: a classifier evaluated on songs by artists it has already heard scores
far too well (the "artist effect"); the same recording under two IDs in train and
test is worse still.  So tracks are first joined into groups, the connected
components of the graph in which two tracks are linked when they share

* any credited artist (all artists, compared with :func:`manifests.ids.normalize_text`),
* the ISRC,
* the same recording key (:func:`manifests.ids.artist_title_key`), or
* byte-identical downloaded audio (sha256 in the downloads table, when it exists),

and whole groups are then assigned to splits.  A featuring credit therefore pulls
both artists' catalogues into one group.

Unknown artists: a credit that names nobody (``[unknown]``, which ``import-audio`` writes for
files without an artist, "Unknown Artist", "Various Artists") links nothing, or every untagged
file would be one giant group.  Tracks with no known artist cannot be kept artist-disjoint, so
``no_artists`` says what to do with them: split them one by one (``track``, the default), keep
each album together (``album``), or leave them out (``exclude``); the first two come with a
warning that test accuracy may be optimistic (GTZAN, which has no artist metadata, holds up to
35 excerpts of one artist in a genre).

Why this assignment: it is iterative stratification (Sechidis et al., 2011)
adapted to weighted, grouped, multi-label data.  Groups are visited big ones
first (they are hardest to place), then by their rarest genre (rare genres are
placed while every split still has room for them); each group goes to the split
where it most reduces the squared deviation of every genre's share, and of the
track count, from the target ratios.  Ties and the visiting order within equal
keys come from a seeded random generator: the same seed and the same input give
the same file, another seed gives another split of similar quality.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from manifests.errors import UserError
from manifests.ids import UNKNOWN_ARTIST, is_unknown_artist, normalize_text, normalize_title
from manifests.io import Row, atomic_write_text, gc_paused, read_columns, read_table, write_table
from manifests.layout import Layout
from manifests.overrides import Overrides
from manifests.schema import DOWNLOADS, LABELS, SPLITS, SPLITS_TABLE, TRACKS

log = logging.getLogger(__name__)

DEFAULT_RATIOS: dict[str, float] = {"train": 0.7, "validation": 0.15, "test": 0.15}
DEFAULT_SEED = 42
#: labels statuses whose tracks are split; ``unlabeled`` and ``dropped`` tracks are not.
SPLITTABLE = ("ok", "ambiguous")
#: a group bigger than this fraction of the smallest split's target is reported as a giant: it cannot
#: go to that split without overshooting it, so it is forced into a bigger one
GIANT_FRACTION = 1.0
#: ... unless it has fewer tracks than this (tiny catalogues have tiny targets)
GIANT_MIN_TRACKS = 5
#: groups bigger than this fraction of the smallest split's target are placed before all others
BIG_FRACTION = 0.25
#: name of the pseudo-genre that stands for "all tracks" in the balance table
ALL_TRACKS = "(all tracks)"
#: what ``import-audio`` credits when nobody knows the artist (MusicBrainz's special-purpose artist)
#: artist credits (normalised) that name nobody: they never link tracks
#: what happens to tracks without a known artist: split one by one, by album, or left out
NO_ARTIST_POLICIES = ("track", "album", "exclude")
DEFAULT_NO_ARTISTS = "track"


# ---------------------------------------------------------------- parameters

def parse_ratios(text: str | Sequence[float]) -> dict[str, float]:
    """``"0.7,0.15,0.15"`` (or ``"8,1,1"``) to shares of train, validation and test summing to 1."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    if len(parts) != len(SPLITS):
        raise UserError(f"--ratios {text!r}: give {len(SPLITS)} numbers for {', '.join(SPLITS)}, "
                        "like 0.7,0.15,0.15")
    values: list[float] = []
    for part in parts:
        try:
            value = float(part)
        except (TypeError, ValueError):
            raise UserError(f"--ratios {text!r}: {part!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise UserError(f"--ratios {text!r}: {part!r} must be a finite number >= 0")
        values.append(value)
    total = sum(values)
    if total <= 0:
        raise UserError(f"--ratios {text!r}: at least one share must be above 0")
    if values[0] == 0:
        raise UserError(f"--ratios {text!r}: the train share must be above 0")
    return {name: value / total for name, value in zip(SPLITS, values, strict=True)}


@functools.lru_cache(maxsize=1 << 18)
def artist_key(name: str) -> str:
    """The form two credits must share to be the same artist (punctuation-only names kept as typed).

    Cached: a collection credits each artist on many tracks, and Unicode normalisation is the
    costliest part of grouping 100,000 tracks.
    """
    return normalize_text(name) or name.strip().casefold()


@functools.lru_cache(maxsize=1 << 18)
def _names_somebody(name: str) -> bool:
    return bool(artist_key(name)) and not is_unknown_artist(name)


def known_artists(track: Mapping[str, Any]) -> list[str]:
    """The track's credits that name somebody."""
    return [a for a in track.get("artists") or [] if _names_somebody(a)]


# ---------------------------------------------------------------- grouping

@dataclass
class Group:
    """Tracks that must stay together: they share artists or recordings, directly or through others."""

    name: str
    track_ids: list[str]
    #: normalised artist -> number of tracks crediting them
    artists: Counter[str]
    #: canonical genre -> summed label weight over the group's tracks
    genres: dict[str, float]

    @property
    def size(self) -> int:
        return len(self.track_ids)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


#: A credit's normalised form, worked out once per name (``artist_title_key``'s first half).
_normalized_name = functools.lru_cache(maxsize=1 << 18)(normalize_text)


def link_keys(track: Mapping[str, Any], no_artists: str = DEFAULT_NO_ARTISTS) -> list[str]:
    """Every key that links a track to others: its artists, ISRC, artist+title key and audio hash.

    Credits that name nobody link nothing; a track with no known artist is linked by its album
    (name and release date) when ``no_artists`` is ``album``.
    """
    return _link_keys(track, known_artists(track), no_artists)


def _link_keys(track: Mapping[str, Any], artists: list[str], no_artists: str) -> list[str]:
    """``link_keys`` of a track whose ``known_artists`` are already known."""
    keys = [f"artist:{artist_key(a)}" for a in artists]
    isrc, title, sha256 = track.get("isrc"), track.get("title"), track.get("sha256")
    if isrc:
        keys.append(f"isrc:{isrc.upper()}")
    if title and artists:  # artist_title_key(artists, title), the artist's half cached
        keys.append(f"recording:{_normalized_name(str(artists[0]))}|{normalize_title(title)}")
    if not artists and no_artists == "album" and track.get("album"):
        album = normalize_text(track["album"]) or track["album"]
        keys.append(f"album:{album}|{track.get('release_date') or ''}")
    if sha256:  # byte-identical audio under two IDs is one recording, whatever the tags say
        keys.append(f"audio:{sha256}")
    return keys


def build_groups(tracks: Sequence[Mapping[str, Any]], no_artists: str = DEFAULT_NO_ARTISTS) -> list[Group]:
    """Connected components of tracks sharing an artist or a recording, in a stable order.

    Each track needs ``track_id``, ``artists``, ``title``, optionally ``isrc`` and
    ``genres`` (a genre -> weight map).  A group is named after its most credited
    artist, which is unique because no artist belongs to two groups.
    """
    return _grouped(tracks, [known_artists(track) for track in tracks], no_artists)


def _grouped(tracks: Sequence[Mapping[str, Any]], credited: Sequence[list[str]], no_artists: str) -> list[Group]:
    """``build_groups`` of tracks whose ``known_artists`` are already known (``credited``, same order)."""
    order = sorted(range(len(tracks)), key=lambda i: tracks[i]["track_id"])  # stable, as sorting the tracks
    ordered = [tracks[i] for i in order]
    credited = [credited[i] for i in order]
    uf = _UnionFind(len(ordered))
    first_with: dict[str, int] = {}
    for index, track in enumerate(ordered):
        for key in _link_keys(track, credited[index], no_artists):
            first = first_with.setdefault(key, index)
            if first != index:
                uf.union(first, index)
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(ordered)):
        members[uf.find(index)].append(index)
    groups: list[Group] = []
    for indices in members.values():
        # each track counts once per artist, however often it credits them
        artists = Counter(chain.from_iterable({artist_key(a) for a in credited[i]} for i in indices))
        genres: dict[str, float] = defaultdict(float)
        for i in indices:
            for genre, weight in (ordered[i].get("genres") or {}).items():
                genres[genre] += float(weight)
        ids = [ordered[i]["track_id"] for i in indices]
        if artists:
            name = min(artists.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        else:
            name = f"track {ids[0]}"
        groups.append(Group(name=name, track_ids=ids, artists=artists, genres=dict(genres)))
    groups.sort(key=lambda g: g.name)
    return groups


# ---------------------------------------------------------------- assignment

def assign_groups(groups: Sequence[Group], ratios: Mapping[str, float], seed: int,
                  fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    """Group name -> split, by greedy iterative stratification (see the module docstring).

    ``fixed`` (group name -> split) places those groups first, as they are; the others are then
    balanced around them.  That is how a rerun keeps the tracks of an earlier split where they were.
    """
    fixed = fixed or {}
    splits = [s for s in SPLITS if ratios.get(s, 0.0) > 0]
    totals: dict[str, float] = defaultdict(float)
    for group in groups:
        for genre, weight in group.genres.items():
            totals[genre] += weight
    n_tracks = sum(g.size for g in groups)
    if not groups:
        return {}
    smallest_target = min(ratios[s] for s in splits) * n_tracks
    big = max(2.0, BIG_FRACTION * smallest_target)

    rng = random.Random(seed)
    order = sorted(groups, key=lambda g: g.name)
    rng.shuffle(order)

    def visit_key(group: Group) -> tuple[bool, float, int]:
        rarity = min((totals[g] for g in group.genres if totals[g] > 0), default=math.inf)
        return (group.size < big, rarity, -group.size)

    order.sort(key=visit_key)  # stable: the shuffle decides among equal keys
    # deviation of each split from its target, in shares of the genre's (or catalogue's) total
    dev: dict[str, dict[str, float]] = {s: {g: -ratios[s] for g in totals} for s in splits}
    dev_n = {s: -ratios[s] for s in splits}
    assignment: dict[str, str] = {}

    def place(group: Group, chosen: str) -> None:
        assignment[group.name] = chosen
        for genre, weight in group.genres.items():
            if totals[genre] > 0:
                dev[chosen][genre] += weight / totals[genre]
        dev_n[chosen] += group.size / n_tracks

    for group in groups:
        if group.name in fixed:
            place(group, fixed[group.name])
    for group in order:
        if group.name in fixed:
            continue
        best: tuple[float, float, str] | None = None
        for split in splits:
            d = dev[split]
            cost = 0.0
            for genre, weight in group.genres.items():
                if totals[genre] > 0:
                    x = weight / totals[genre]
                    cost += x * (2 * d[genre] + x)
            x = group.size / n_tracks
            cost += x * (2 * dev_n[split] + x)
            candidate = (round(cost, 12), rng.random(), split)
            if best is None or candidate < best:
                best = candidate
        assert best is not None
        place(group, best[2])
    return assignment


def keep_previous(groups: Sequence[Group], previous: Mapping[str, str], ratios: Mapping[str, float]
                  ) -> dict[str, str]:
    """Groups with tracks in an earlier split stay there: group name -> split.

    A group whose tracks were all in one split keeps it.  When new tracks link groups that were in
    different splits (a new featuring credit, a shared recording), the merged group goes where most of
    its known tracks were (ties: train, validation, test) and the others move.  Splits whose ratio is
    now 0 keep nothing.
    """
    active = [s for s in SPLITS if ratios.get(s, 0.0) > 0]
    fixed: dict[str, str] = {}
    for group in groups:
        known = Counter(previous[t] for t in group.track_ids if previous.get(t) in active)
        if known:
            fixed[group.name] = max(active, key=lambda s: (known.get(s, 0), -active.index(s)))
    return fixed


# ---------------------------------------------------------------- balance report

@dataclass
class GenreBalance:
    """How one genre (or all tracks) ended up spread over the splits, against the targets."""

    genre: str
    tracks: int
    weight: float
    shares: dict[str, float]
    targets: dict[str, float]

    @property
    def deviations(self) -> dict[str, float]:
        return {s: self.shares[s] - self.targets[s] for s in self.shares}

    @property
    def max_abs_deviation(self) -> float:
        return max((abs(v) for v in self.deviations.values()), default=0.0)


def balance(tracks: Iterable[Mapping[str, Any]], split_of: Mapping[str, str],
            ratios: Mapping[str, float]) -> list[GenreBalance]:
    """Per genre (weighted by label weight) and for all tracks: share of each split vs target."""
    weight: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0.0))
    count: Counter[str] = Counter()
    n_split: Counter[str] = Counter()
    for track in tracks:
        split = split_of.get(track["track_id"])
        if split is None:
            continue
        n_split[split] += 1
        for genre, w in (track.get("genres") or {}).items():
            weight[genre][split] += float(w)
            count[genre] += 1
    targets = {s: ratios.get(s, 0.0) for s in SPLITS}
    n_total = sum(n_split.values())
    out = [GenreBalance(ALL_TRACKS, n_total, float(n_total),
                        {s: (n_split[s] / n_total if n_total else 0.0) for s in SPLITS}, targets)]
    for genre in sorted(weight, key=lambda g: (-sum(weight[g].values()), g)):
        total = sum(weight[genre].values())
        shares = {s: (weight[genre][s] / total if total else 0.0) for s in SPLITS}
        out.append(GenreBalance(genre, count[genre], total, shares, targets))
    return out


# ---------------------------------------------------------------- the whole step

@dataclass
class SplitResult:
    """What ``split`` decided, with everything a report needs."""

    rows: list[Row]
    groups: list[Group]
    assignment: dict[str, str]
    ratios: dict[str, float]
    seed: int
    balance: list[GenreBalance]
    warnings: list[str] = field(default_factory=list)
    #: reason -> number of tracks not assigned to any split
    skipped: Counter[str] = field(default_factory=Counter)
    #: tracks that stayed in the split an earlier run gave them (0 for a fresh split)
    kept: int = 0
    #: tracks of an earlier run that changed split: (track_id, from, to)
    moved: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def placed(self) -> int:
        """Tracks placed by this run (all of them in a fresh split)."""
        return len(self.rows) - self.kept - len(self.moved)

    def continuity(self) -> str:
        """One line on what happened to an earlier split (empty for a fresh split)."""
        if not self.kept and not self.moved:
            return ""
        line = f"kept {self.kept} tracks in their earlier split, placed {self.placed} new ones"
        if self.moved:
            line += f", moved {len(self.moved)} (see the warnings)"
        return line

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(row["split"] for row in self.rows)
        return {s: c.get(s, 0) for s in SPLITS}

    @property
    def max_abs_deviation(self) -> float:
        return max((b.max_abs_deviation for b in self.balance), default=0.0)

    def table_text(self) -> str:
        """The balance as a fixed-width text table (percent share, deviation in points)."""
        width = max([len(b.genre) for b in self.balance] + [5])
        head = f"{'genre':<{width}}  {'tracks':>6}  " + "  ".join(
            f"{s + ' (' + _pct(self.ratios.get(s, 0.0)) + ')':>18}" for s in SPLITS) + "  max dev"
        lines = [head, "-" * len(head)]
        for b in self.balance:
            cells = "  ".join(f"{_pct(b.shares[s]) + ' (' + _signed(b.deviations[s]) + ')':>18}" for s in SPLITS)
            lines.append(f"{b.genre:<{width}}  {b.tracks:>6}  {cells}  {b.max_abs_deviation * 100:6.1f}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """The split report: parameters, counts, warnings, per-genre deviation, largest groups."""
        counts = self.counts
        out = ["# Splits", "",
               f"Seed {self.seed}; target ratios " + ", ".join(
                   f"{s} {_pct(self.ratios.get(s, 0.0))}" for s in SPLITS) + ".", "",
               "Tracks sharing any artist (all credits) or a recording (ISRC, artist + title, or identical "
               "audio) form one group; each group is assigned whole, so no artist and no recording is in "
               "two splits.", "",
               "| split | tracks | groups | target |", "|---|---:|---:|---:|"]
        n_groups = Counter(self.assignment.values())
        for s in SPLITS:
            out.append(f"| {s} | {counts[s]} | {n_groups.get(s, 0)} | {_pct(self.ratios.get(s, 0.0))} |")
        if self.continuity():
            out += ["", f"Earlier split kept: {self.continuity()}. `--fresh` splits everything anew."]
        if self.skipped:
            out += ["", "Not assigned: " + ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
                    + "."]
        if self.warnings:
            out += ["", "## Warnings", ""] + [f"- {_md(w)}" for w in self.warnings]
        out += ["", "## Share of each genre per split", "",
                "Share of the genre's label weight that landed in each split; in brackets the deviation "
                "from the target in percentage points.", "",
                "| genre | tracks | " + " | ".join(SPLITS) + " | max dev (points) |",
                "|---|---:|" + "---:|" * len(SPLITS) + "---:|"]
        for b in self.balance:
            cells = " | ".join(f"{_pct(b.shares[s])} ({_signed(b.deviations[s])})" for s in SPLITS)
            out.append(f"| {_md(b.genre)} | {b.tracks} | {cells} | {b.max_abs_deviation * 100:.1f} |")
        largest = sorted(self.groups, key=lambda g: (-g.size, g.name))[:10]
        out += ["", "## Largest groups", "", "| group | tracks | artists | split |", "|---|---:|---:|---|"]
        for g in largest:
            out.append(f"| {_md(g.name)} | {g.size} | {len(g.artists)} | {self.assignment.get(g.name, '')} |")
        return "\n".join(out) + "\n"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _signed(share: float) -> str:
    return f"{share * 100:+.1f}"


def _md(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def make_splits(tracks: Sequence[Mapping[str, Any]], labels: Sequence[Mapping[str, Any]], *, ratios: Mapping[str, float],
                seed: int, dropped: Iterable[str] = (), audio_hashes: Mapping[str, str] | None = None,
                previous: Mapping[str, str] | None = None, no_artists: str = DEFAULT_NO_ARTISTS) -> SplitResult:
    """Pure core of the step: which tracks are split, their groups, the assignment and its balance.

    ``audio_hashes`` (track_id -> sha256 of downloaded audio) links tracks whose audio is identical.
    ``previous`` (track_id -> split of an earlier run) keeps those tracks where they were
    (:func:`keep_previous`); only new tracks are balanced. ``no_artists`` (one of
    :data:`NO_ARTIST_POLICIES`) says what happens to tracks without a known artist.
    """
    if no_artists not in NO_ARTIST_POLICIES:
        raise UserError(f"--no-artists {no_artists!r}: choose one of {', '.join(NO_ARTIST_POLICIES)}")
    ratios = dict(ratios)
    hashes = audio_hashes or {}
    dropped_ids = set(dropped)
    by_id = {t["track_id"]: t for t in tracks}
    skipped: Counter[str] = Counter()
    warnings: list[str] = []
    usable: list[Row] = []
    credited: list[list[str]] = []  # known_artists of each usable track, worked out once
    labelled: set[str] = set()
    anonymous = 0
    for label in labels:
        tid = label["track_id"]
        labelled.add(tid)
        if tid in dropped_ids or label.get("status") == "dropped":
            skipped["dropped"] += 1
            continue
        if label.get("status") not in SPLITTABLE:
            skipped[str(label.get("status") or "no status")] += 1
            continue
        track = by_id.get(tid)
        if track is None:
            skipped["missing from the tracks table"] += 1
            continue
        entry = {"track_id": tid, "artists": track.get("artists") or [], "title": track.get("title"),
                 "isrc": track.get("isrc"), "album": track.get("album"), "release_date": track.get("release_date"),
                 "genres": label.get("genres") or {}, "sha256": hashes.get(tid)}
        artists = known_artists(entry)
        if not artists:
            anonymous += 1
            if no_artists == "exclude":
                skipped["without a known artist (--no-artists exclude)"] += 1
                continue
        usable.append(entry)
        credited.append(artists)
    if skipped.get("missing from the tracks table"):
        warnings.append(f"{skipped['missing from the tracks table']} labelled tracks have no row in the tracks "
                        "table (their artists are unknown, so they cannot be split safely); rerun collect")
    unlabelled = len(set(by_id) - labelled)
    if unlabelled:
        skipped["without a labels row"] += unlabelled
        warnings.append(f"{unlabelled} tracks have no labels row yet; run the labels step to include them")

    if anonymous:
        how = {"track": "placed one by one", "album": "kept together by album (one by one without an album)",
               "exclude": "left out of the splits"}[no_artists]
        warnings.append(
            f"{anonymous} tracks have no known artist (credited {UNKNOWN_ARTIST!r}, 'Unknown Artist' or none; GTZAN "
            f"has no artists): they were {how} (--no-artists {no_artists})"
            + ("" if no_artists == "exclude" else
               ", so one artist's songs can sit in train and test and test accuracy may be optimistic")
            + "; give them artists (tags, import-audio --csv) for an artist-disjoint split")
    groups = _grouped(usable, credited, no_artists)
    previous = previous or {}
    assignment = assign_groups(groups, ratios, seed, keep_previous(groups, previous, ratios))
    split_of = {tid: assignment[g.name] for g in groups for tid in g.track_ids}
    moved = sorted((tid, previous[tid], split) for tid, split in split_of.items()
                   if tid in previous and previous[tid] != split)
    rows: list[Row] = [{"track_id": tid, "split": split_of[tid], "group": g.name, "seed": seed}
            for g in groups for tid in g.track_ids]

    n_tracks = len(usable)
    active = [s for s in SPLITS if ratios.get(s, 0.0) > 0]
    if n_tracks:
        smallest = min(ratios[s] for s in active) * n_tracks
        for g in sorted(groups, key=lambda g: (-g.size, g.name)):
            if g.size < max(GIANT_MIN_TRACKS, GIANT_FRACTION * smallest):
                break
            linkers = ", ".join(a for a, _ in sorted(g.artists.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
            warnings.append(
                f"giant group {g.name!r}: {g.size} tracks ({g.size / n_tracks:.0%} of the catalogue) by "
                f"{len(g.artists)} artists linked through shared credits or recordings (most credited: "
                f"{linkers}); it is assigned whole to {assignment[g.name]}, so shares may miss their "
                "targets. If a credit links them wrongly, drop that track in overrides.csv")
        counts = Counter(split_of.values())
        for s in active:
            if not counts.get(s):
                warnings.append(f"split {s!r} is empty: {len(groups)} groups were too few or too big "
                                f"to give it a share of {ratios[s]:.0%}")
    if moved:
        warnings.append(f"{len(moved)} tracks changed split since the earlier run, because new tracks linked "
                        "groups it had put in different splits or their split now has ratio 0 ("
                        + ", ".join(f"{t} {a} -> {b}" for t, a, b in moved[:5]) + (", ..." if len(moved) > 5 else "")
                        + "); models trained before saw them in another split")
    for w in warnings:
        log.warning("%s", w)
    kept = sum(1 for row in rows if previous.get(row["track_id"]) == row["split"])
    result = SplitResult(rows=rows, groups=groups, assignment=assignment, ratios=ratios, seed=seed,
                         balance=balance(usable, split_of, ratios), warnings=warnings, skipped=skipped,
                         kept=kept, moved=moved)
    return result


def run_split(layout: Layout, *, ratios: Mapping[str, float] | None = None, seed: int = DEFAULT_SEED,
              report_path: Path | None = None, fresh: bool = False,
              no_artists: str = DEFAULT_NO_ARTISTS) -> SplitResult:
    """Read tracks, labels, downloads (audio hashes, optional) and overrides; write the splits table and
    the Markdown report atomically.

    An existing ``splits.csv`` made with the same seed is continued (its tracks stay where they are,
    new tracks are balanced around them) unless ``fresh``: test tracks must not drift into train
    between runs as the collection grows.
    """
    with gc_paused():
        labels_path = layout.table_path(LABELS)
        tracks = read_table(layout.table_path(TRACKS), TRACKS)
        labels = read_table(labels_path, LABELS)
        hashes = audio_hashes(layout.table_path(DOWNLOADS))
        overrides = Overrides.load(layout.overrides)
        dropped = {tid for tid in overrides.by_track if overrides.is_dropped(tid)}
        previous = {} if fresh else previous_splits(layout, seed)
        result = make_splits(tracks, labels, ratios=ratios or DEFAULT_RATIOS, seed=seed, dropped=dropped,
                             audio_hashes=hashes, previous=previous, no_artists=no_artists)
        if not result.rows:
            raise UserError(f"{labels_path}: no track can be split (status ok or ambiguous, not dropped, "
                            f"with a tracks row); skipped: {dict(result.skipped) or 'none'}")
        write_table(layout.table_path(SPLITS_TABLE), SPLITS_TABLE, result.rows)
        atomic_write_text(report_path or layout.reports / "splits.md", result.markdown())
        return result


def audio_hashes(path: Path) -> dict[str, str]:
    """track_id -> sha256 of the audio downloaded ok, from the downloads table (empty when there is none).

    Read as columns: the same checks and errors as ``read_table``, without a dict of every cell
    per row for the three cells used here (a third of split's reading at 100,000 tracks).
    """
    if not path.exists():
        return {}
    columns = read_columns(path, DOWNLOADS)
    return {tid: sha256 for tid, status, sha256 in zip(columns["track_id"], columns["status"], columns["sha256"],
                                                       strict=True) if status == "ok" and sha256}


def previous_splits(layout: Layout, seed: int) -> dict[str, str]:
    """track_id -> split from the existing splits table when it was made with ``seed``; else empty.

    Read as columns (the same checks and errors as ``read_table``): no dict per row is needed.
    """
    path = layout.table_path(SPLITS_TABLE)
    if not path.exists():
        return {}
    columns = read_columns(path, SPLITS_TABLE)
    if not columns["track_id"]:
        return {}
    seeds = set(columns["seed"])
    if seeds != {seed}:
        log.info("%s was made with seed %s; seed %s draws a fresh split", path,
                 ", ".join(str(s) for s in sorted(seeds)), seed)
        return {}
    return dict(zip(columns["track_id"], columns["split"], strict=True))
