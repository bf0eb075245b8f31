"""Your own list of files and genres: a CSV with ``path,genre[,artist,title,album]``.

For collections whose genres live nowhere in the files: a spreadsheet you keep, a dataset's
annotation file (Sturm's GTZAN artist index, once turned into this shape, gives GTZAN its
artists), a list exported from another tool. Header names are matched case-insensitively;
``genre`` may hold several genres separated by ``;`` or ``|`` and ``artist`` several artists
separated by ``;``. A relative ``path`` is relative to the CSV file's folder.

Each listed file is imported even when it lies outside the folders named on the command line;
with no folder named, the list alone says what to import. A file listed twice gets the genres
of both rows.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from manifests.cliutil import read_user_text
from manifests.errors import UserError
from manifests.ids import is_unknown_artist
from manifests.text import clean_text

from .tags import split_genres

REQUIRED = ("path", "genre")
OPTIONAL = ("artist", "title", "album")


def path_key(path: Path | str) -> str:
    """The form two spellings of one file share (symbolic links and ``..`` resolved)."""
    return os.path.normcase(os.path.realpath(path))


@dataclass
class ListedFile:
    """One file of the list with everything its rows say about it."""

    path: Path
    genres: list[str] = field(default_factory=list)
    artists: list[str] = field(default_factory=list)
    title: str | None = None
    album: str | None = None
    #: "FILE:LINE" of the first row naming the file (the claims' evidence)
    where: str = ""


def read_listing(csv_path: Path) -> dict[str, ListedFile]:
    """Path key -> the listed file; ``UserError`` names the file and line of a problem."""
    _, text = read_user_text(csv_path, "save it as UTF-8 CSV")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [clean_text(h) or "" for h in next(reader)]
    except StopIteration:
        raise UserError(f"{csv_path}: empty; expected a header like path,genre,artist,title") from None
    except csv.Error as exc:
        raise UserError(f"{csv_path}:1: not CSV ({exc})") from None
    index = {name.lower(): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        raise UserError(f"{csv_path}:1: no {' and no '.join(missing)} column; expected a header like "
                        f"path,genre,artist,title (found: {', '.join(header) or 'nothing'})")
    base = csv_path.parent
    listed: dict[str, ListedFile] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue

            def cell(name: str, cells: list[str] = cells) -> str | None:
                i = index.get(name)
                return clean_text(cells[i]) if i is not None and i < len(cells) else None

            raw_path = cells[index["path"]].strip() if index["path"] < len(cells) else ""
            if not raw_path:
                raise UserError(f"{csv_path}:{line}: the path cell is empty")
            path = Path(os.path.abspath(base / os.path.expanduser(raw_path)))
            entry = listed.setdefault(path_key(path), ListedFile(path=path, where=f"{csv_path}:{line}"))
            for genre in split_genres([cell("genre") or ""]):
                if genre not in entry.genres:
                    entry.genres.append(genre)
            for artist in (cell("artist") or "").split(";"):
                name = clean_text(artist)
                if name and not is_unknown_artist(name) and name not in entry.artists:
                    entry.artists.append(name)
            entry.title = entry.title or cell("title")
            entry.album = entry.album or cell("album")
    except csv.Error as exc:
        raise UserError(f"{csv_path}:{reader.line_num}: not CSV ({exc})") from None
    return listed
