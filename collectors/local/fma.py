"""The Free Music Archive dataset's metadata (``fma_metadata/tracks.csv`` and ``genres.csv``).

FMA (Defferrard et al., ISMIR 2017) ships its audio as ``fma_small/000/000002.mp3`` (the file
name is the FMA track ID) and its metadata as CSV files:

* ``tracks.csv`` has **two header rows**: the first names the entity (``album``, ``artist``,
  ``set``, ``track``), the second the field (``title``, ``genre_top``, ``genres``, ...); a third
  row holds only ``track_id``. Lists are written as Python lists: ``genres`` is ``[21, 76]``;
* ``genres.csv`` has ``genre_id, #tracks, parent, title, top_level``.

Each track gives its artist, title, album and date, and three levels of genre evidence (claims
of source ``fma``): ``genre_top`` (FMA's top-level genre, when the track's genres share one),
``genres`` (what the artist chose) and the parents of those in ``genres_all``. Some artist
biographies are longer than the ``csv`` module's default field limit, so it is raised while
reading.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from manifests.errors import UserError
from manifests.ids import is_unknown_artist
from manifests.text import clean_text

from .tags import parse_date

_INTS = re.compile(r"\d+")
_FIELDS = {("track", "title"): "title", ("artist", "name"): "artist", ("album", "title"): "album",
           ("track", "genre_top"): "genre_top", ("track", "genres"): "genres",
           ("track", "genres_all"): "genres_all", ("track", "date_recorded"): "date_recorded",
           ("album", "date_released"): "date_released", ("track", "license"): "license",
           ("track", "duration"): "duration", ("set", "subset"): "subset", ("set", "split"): "split"}


@dataclass(frozen=True)
class FmaTrack:
    """What FMA's metadata says about one track."""

    track_id: int
    title: str | None
    artist: str | None
    album: str | None
    date: str | None
    genre_top: str | None
    #: the genres the artist chose (names)
    genres: tuple[str, ...]
    #: the parents of those genres (``genres_all`` less ``genres``)
    parents: tuple[str, ...]
    license: str | None
    subset: str | None
    split: str | None


@dataclass(frozen=True)
class FmaMetadata:
    tracks_csv: Path
    tracks: dict[int, FmaTrack]


def fma_track_id(path: Path) -> int | None:
    """The FMA track ID a file is named by (``000002.mp3`` -> 2), or None."""
    stem = path.name.split(".", 1)[0]
    return int(stem) if stem.isdigit() else None


@contextmanager
def _big_fields() -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _locate(where: Path) -> tuple[Path, Path]:
    folder = where.parent if where.is_file() else where
    tracks, genres = (where if where.is_file() else folder / "tracks.csv"), folder / "genres.csv"
    for path in (tracks, genres):
        if not path.is_file():
            raise UserError(f"--fma-metadata {where}: {path.name} not found in {folder} (give the fma_metadata "
                            "folder that holds tracks.csv and genres.csv)")
    return tracks, genres


def _read_genres(path: Path) -> dict[int, str]:
    names: dict[int, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "genre_id" not in reader.fieldnames or "title" not in reader.fieldnames:
            raise UserError(f"{path}: expected the FMA genres.csv columns genre_id, #tracks, parent, title, top_level")
        for row in reader:
            try:
                names[int(row["genre_id"])] = clean_text(row["title"]) or ""
            except (TypeError, ValueError):
                continue
    return names


def read_fma(where: Path) -> FmaMetadata:
    """FMA's metadata from the ``fma_metadata`` folder (or its ``tracks.csv``); ``UserError`` when unusable."""
    tracks_csv, genres_csv = _locate(where)
    try:
        genre_names = _read_genres(genres_csv)
        tracks: dict[int, FmaTrack] = {}
        with _big_fields(), open(tracks_csv, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                top, sub = next(reader), next(reader)
            except StopIteration:
                raise UserError(f"{tracks_csv}: expected FMA's two header rows (entity, field)") from None
            columns: dict[str, int] = {}
            entity = ""
            for i, (a, b) in enumerate(zip(top, sub, strict=False)):
                entity = a.strip() or entity  # the first row may leave repeats empty
                if (entity, b.strip()) in _FIELDS:
                    columns[_FIELDS[(entity, b.strip())]] = i
            if "genres" not in columns or "title" not in columns:
                raise UserError(f"{tracks_csv}: not FMA's tracks.csv (no track/genres and track/title "
                                "columns in its two header rows)")
            for cells in reader:
                track = _track(cells, columns, genre_names)
                if track is not None:
                    tracks[track.track_id] = track
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"--fma-metadata {where}: cannot read it ({exc})") from None
    return FmaMetadata(tracks_csv, tracks)


def _track(cells: list[str], columns: dict[str, int], names: dict[int, str]) -> FmaTrack | None:
    try:
        track_id = int(cells[0])
    except (IndexError, ValueError):  # the "track_id" row under the headers, or a broken line
        return None

    def cell(name: str) -> str | None:
        i = columns.get(name)
        return clean_text(cells[i]) if i is not None and i < len(cells) else None

    def genre_list(name: str) -> list[str]:
        return [names[g] for g in (int(n) for n in _INTS.findall(cell(name) or "")) if names.get(g)]

    chosen = genre_list("genres")
    parents = [g for g in genre_list("genres_all") if g not in chosen]
    artist = cell("artist")
    return FmaTrack(track_id=track_id, title=cell("title"),
                    artist=None if artist is None or is_unknown_artist(artist) else artist,
                    album=cell("album"), date=parse_date(cell("date_released") or cell("date_recorded")),
                    genre_top=cell("genre_top"), genres=tuple(dict.fromkeys(chosen)),
                    parents=tuple(dict.fromkeys(parents)), license=cell("license"), subset=cell("subset"),
                    split=cell("split"))
