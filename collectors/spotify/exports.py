"""Playlist exports made elsewhere: Exportify CSV files and a plain CSV with documented columns.

This is how a development-mode user gets a playlist they do not own into the dataset:
export it in the browser, then import the file offline.  Supported layouts (header
names are matched case-insensitively, any extra columns are ignored):

* **Exportify** (watsonbox, 2020 on): ``Track URI, Track Name, Artist URI(s), Artist Name(s),
  Album URI, Album Name, ..., Album Release Date, ..., Track Duration (ms), ..., ISRC,
  [Is Playable,] Added By, Added At`` plus optional genre / audio-feature / album columns.
  Artists are joined by ``", "`` with commas inside a name escaped as ``\\,``.
  The 2020 layout (``Artist URI``, ``Artist Name``) and the original one (``Spotify URI``,
  ``Artist Name``) are read too; a leading ``Playlist Name`` column is allowed.
* **exportify.net** (pavelkomarov's fork): ``Track URI, [ISRC,] Track Name, Album Name,
  Artist Name(s), Release Date, Duration (ms), Popularity, Explicit, Added By, Added At,
  Genres, Record Label, Danceability, ...`` (older files: ``Spotify ID, Artist IDs, ...``).
  Artists are separated by ``;`` (current) or ``,`` without a space (older files).
* **Plain CSV**: ``title`` and ``artists`` (several separated by ``;``) are required;
  optional ``album``, ``release_date``, ``duration_ms`` or ``duration`` (seconds or m:ss),
  ``isrc``, ``spotify`` (track ID, URI or link).

Local files, podcast episodes and rows marked not playable are skipped and counted like
the API path does.  A malformed file is refused with its name and line, never half-read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from manifests.cliutil import read_user_text
from manifests.errors import UserError

from .entries import (
    Kept,
    TrackEntry,
    clean_text,
    normalize_date,
    normalize_isrc,
    parse_duration_ms,
    spotify_track_id,
)

log = logging.getLogger(__name__)

_EXPORTIFY = {
    "uri": ("track uri", "spotify uri", "spotify id"),
    "title": ("track name",),
    "artists": ("artist name(s)", "artist name"),
    "artist_uris": ("artist uri(s)", "artist uri", "artist ids"),
    "album": ("album name",),
    "release_date": ("album release date", "release date"),
    "duration": ("track duration (ms)", "duration (ms)"),
    "isrc": ("isrc",),
    "playable": ("is playable",),
    "playlist": ("playlist name",),
}
_PLAIN = {
    "title": ("title", "track", "track_name", "song"),
    "artists": ("artists", "artist"),
    "album": ("album",),
    "release_date": ("release_date", "date", "year"),
    "duration_ms": ("duration_ms",),
    "duration": ("duration", "duration_s"),
    "isrc": ("isrc",),
    "spotify": ("spotify", "spotify_id", "spotify_uri", "spotify_url"),
}
_UNESCAPED_COMMA = re.compile(r"(?<!\\),\s*")
_COMMA_NO_SPACE = re.compile(r",(?! )")


@dataclass
class ExportFile:
    """One export file, read: its kept entries, skip counts and a fingerprint for resuming."""

    path: Path
    layout: str
    entries: list[TrackEntry] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    n_rows: int = 0
    playlist_name: str | None = None
    fingerprint: str = ""


def _columns(header: list[str], spec: dict[str, tuple[str, ...]]) -> dict[str, int]:
    lowered = [" ".join(h.strip().lower().split()) for h in header]
    found: dict[str, int] = {}
    for key, names in spec.items():
        for name in names:
            if name in lowered:
                found[key] = lowered.index(name)
                break
    return found


def _plain_columns(header: list[str]) -> dict[str, int]:
    normal = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in header]
    return _columns(normal, _PLAIN)


def detect_layout(header: list[str]) -> tuple[str, dict[str, int]]:
    """``(layout, column indexes)`` for a header; ``UserError``-free: raises ``ValueError`` when unknown."""
    cols = _columns(header, _EXPORTIFY)
    if "title" in cols and "uri" in cols and "artists" in cols:
        lowered = {" ".join(h.strip().lower().split()) for h in header}
        if "spotify uri" in lowered:
            return "exportify-original", cols
        if "artist uri(s)" in lowered or "artist uri" in lowered:
            return "exportify", cols
        return "exportify.net", cols
    plain = _plain_columns(header)
    if "title" in plain and "artists" in plain:
        return "plain", plain
    raise ValueError("not an Exportify export (Track URI, Track Name, Artist Name(s), ...) nor a plain CSV "
                     "(title, artists, ...)")


def split_artists(cell: str | None, layout: str) -> list[str]:
    """Artist names in credit order, undoing each exporter's way of joining them."""
    text = clean_text(cell)
    if not text:
        return []
    if layout == "plain" or (layout == "exportify.net" and ";" in text):
        parts = text.split(";")
    elif layout == "exportify":
        parts = [p.replace("\\,", ",") for p in _UNESCAPED_COMMA.split(text)]
    elif layout == "exportify-original":
        parts = text.split(", ")
    else:  # older exportify.net files: "A,B" (a comma followed by a space belongs to a name)
        parts = _COMMA_NO_SPACE.split(text)
    return [name for p in parts if (name := clean_text(p))]


def read_export(path: Path | str) -> ExportFile:
    """Read and check a whole export; ``UserError`` names the file and line of the first problem."""
    path = Path(path)
    raw, text = read_user_text(path, "export it again or save it as 'CSV UTF-8'")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count) if first_line.strip() else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise UserError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise UserError(f"{path} line 1: malformed CSV ({exc})") from None
    try:
        layout, cols = detect_layout(header)
    except ValueError as exc:
        raise UserError(f"{path}: {exc}; header is {', '.join(header[:8])}{', ...' if len(header) > 8 else ''}") \
            from None
    result = ExportFile(path=path, layout=layout, fingerprint="sha256:" + hashlib.sha256(raw).hexdigest()[:32])
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise UserError(f"{path} line {reader.line_num}: malformed CSV ({exc})") from None
        if not cells or all(not c.strip() for c in cells):
            continue
        line = reader.line_num
        if len(cells) < len(header):
            cells = cells + [""] * (len(header) - len(cells))
        result.n_rows += 1
        if layout == "plain":
            kept = _plain_row(cells, cols, path, line)
        else:
            kept = _exportify_row(cells, cols, layout, path, line)
            if result.playlist_name is None and "playlist" in cols:
                result.playlist_name = clean_text(cells[cols["playlist"]])
        if isinstance(kept, str):
            result.skipped[kept] += 1
        else:
            result.entries.append(kept)
    if result.n_rows == 0:
        raise UserError(f"{path}: a header but no rows")
    log.info("%s: %s layout, %d rows, %d kept", path, layout, result.n_rows, len(result.entries))
    return result


def _cell(cells: list[str], cols: dict[str, int], key: str) -> str | None:
    index = cols.get(key)
    return clean_text(cells[index]) if index is not None and index < len(cells) else None


def _exportify_row(cells: list[str], cols: dict[str, int], layout: str, path: Path,
                   line: int) -> Kept:
    uri = _cell(cells, cols, "uri") or ""
    title = _cell(cells, cols, "title")
    if uri.startswith("spotify:local:"):
        return "local"
    if uri.startswith("spotify:episode:"):
        return "episode"
    if not uri and not title:
        return "null"
    if (_cell(cells, cols, "playable") or "").lower() == "false":
        return "unavailable"
    artists = split_artists(cells[cols["artists"]], layout)
    if not title or not artists:
        return "unavailable"
    sid = spotify_track_id(uri)
    try:
        duration = parse_duration_ms(_cell(cells, cols, "duration"))
    except ValueError as exc:
        raise UserError(f"{path} line {line}: duration {exc}") from None
    return TrackEntry(title=title, artists=artists, origin="exportify", album=_cell(cells, cols, "album"),
                      release_date=normalize_date(_cell(cells, cols, "release_date")), duration_ms=duration,
                      isrc=normalize_isrc(_cell(cells, cols, "isrc")), spotify_id=sid,
                      spotify_uri=f"spotify:track:{sid}" if sid else None)


def _plain_row(cells: list[str], cols: dict[str, int], path: Path, line: int) -> Kept:
    title = _cell(cells, cols, "title")
    artists = split_artists(cells[cols["artists"]], "plain")
    if not title:
        raise UserError(f"{path} line {line}: the title is empty")
    if not artists:
        raise UserError(f"{path} line {line}: no artist for {title!r}")
    try:
        if _cell(cells, cols, "duration_ms"):
            duration = parse_duration_ms(_cell(cells, cols, "duration_ms"))
        else:
            duration = parse_duration_ms(_cell(cells, cols, "duration"), unit="auto")
    except ValueError as exc:
        raise UserError(f"{path} line {line}: duration {exc}") from None
    spotify_ref = _cell(cells, cols, "spotify")
    if spotify_ref and spotify_ref.startswith("spotify:local:"):
        return "local"
    sid = spotify_track_id(spotify_ref)
    if spotify_ref and sid is None:
        raise UserError(f"{path} line {line}: {spotify_ref!r} is not a Spotify track ID, URI or link")
    raw_isrc = _cell(cells, cols, "isrc")
    isrc = normalize_isrc(raw_isrc)
    if raw_isrc and isrc is None:
        raise UserError(f"{path} line {line}: {raw_isrc!r} is not an ISRC (like USUM71213000)")
    raw_date = _cell(cells, cols, "release_date")
    date = normalize_date(raw_date)
    if raw_date and date is None:
        raise UserError(f"{path} line {line}: release date {raw_date!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    return TrackEntry(title=title, artists=artists, origin="csv", album=_cell(cells, cols, "album"),
                      release_date=date, duration_ms=duration, isrc=isrc, spotify_id=sid,
                      spotify_uri=f"spotify:track:{sid}" if sid else None)
