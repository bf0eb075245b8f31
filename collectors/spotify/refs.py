"""Playlist references as users paste them, and the genre -> playlist lists they come in.

Accepted playlist references: ``https://open.spotify.com/playlist/ID?si=...`` (also
``/intl-xx/``, ``/embed/`` and old ``/user/NAME/playlist/ID`` links),
``spotify:playlist:ID`` (and ``spotify:user:NAME:playlist:ID``) and bare 22-character IDs.
A reference ending in ``.csv`` is an export file (Exportify or plain CSV) imported offline.
Anything else is refused with one line naming the reference and where it came from, so a
typo never turns into a silently empty genre.
"""

from __future__ import annotations

import csv
import io
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from manifests.cliutil import read_user_text
from manifests.errors import UserError

PLAYLIST_ID = re.compile(r"[0-9A-Za-z]{22}")
_URI = re.compile(r"spotify:(?:user:[^:\s]+:)?(?P<type>[a-z]+):(?P<id>[^:\s?#]*)\Z")
_KINDS_NOT_PLAYLIST = ("track", "album", "artist", "show", "episode", "user", "audiobook", "collection", "local")
_SPOTIFY_HOSTS = ("open.spotify.com", "play.spotify.com")


class RefError(ValueError):
    """A reference that is not a Spotify playlist; the message says why in words a user can act on."""


def parse_playlist_ref(ref: str) -> str:
    """The 22-character playlist ID inside a URL, URI or bare ID; ``RefError`` otherwise."""
    text = (ref or "").strip()
    if not text:
        raise RefError("empty playlist reference")
    match = _URI.match(text)
    if match:
        kind, pid = match.group("type"), match.group("id")
        if kind != "playlist":
            raise RefError(f"{text!r} is a Spotify {kind} URI, not a playlist")
        return _check_id(pid, text)
    if "spotify.link" in text or "spoti.fi" in text:
        raise RefError(f"{text!r} is a short link that cannot be resolved offline; open it in a browser and "
                       "copy the full https://open.spotify.com/playlist/... link")
    if "/" in text or "." in text:
        url = text if "://" in text else "https://" + text
        try:
            parts = urlsplit(url)
        except ValueError:
            raise RefError(f"{text!r} is not a valid link") from None
        host = (parts.hostname or "").lower()
        if host not in _SPOTIFY_HOSTS:
            raise RefError(f"{text!r} is not a Spotify link (expected https://open.spotify.com/playlist/ID)")
        segments = [s for s in parts.path.split("/") if s]
        if segments and re.fullmatch(r"intl-[a-z]{2}(?:-[a-z]{2,4})?", segments[0], re.IGNORECASE):
            segments = segments[1:]
        if segments and segments[0] == "embed":
            segments = segments[1:]
        if len(segments) >= 4 and segments[0] == "user" and segments[2] == "playlist":
            segments = segments[2:]
        if len(segments) >= 2 and segments[0] == "playlist":
            return _check_id(segments[1], text)
        if segments and segments[0] in _KINDS_NOT_PLAYLIST:
            raise RefError(f"{text!r} is a Spotify {segments[0]} link, not a playlist")
        raise RefError(f"{text!r} is not a Spotify playlist link (expected https://open.spotify.com/playlist/ID)")
    return _check_id(text, text)


def _check_id(pid: str, ref: str) -> str:
    if not PLAYLIST_ID.fullmatch(pid):
        raise RefError(f"{ref!r} does not contain a valid playlist ID (22 letters and digits, got {pid!r})")
    return pid


def is_export_ref(ref: str) -> bool:
    """Whether a reference names an export file rather than a Spotify playlist."""
    return ref.strip().lower().endswith(".csv")


@dataclass(frozen=True)
class PlaylistRequest:
    """One (genre, playlist) pair the user asked for, with where it was written."""

    genre: str
    ref: str
    #: Spotify playlist ID, or the export file's name for offline imports
    playlist_id: str
    #: where the pair came from, for error messages ("playlists.csv row 4", "PLAYLISTS item 2")
    where: str
    #: the export file for offline imports, None for Spotify playlists
    path: Path | None = None

    @property
    def is_file(self) -> bool:
        return self.path is not None


def clean_genre(genre: str, where: str) -> str:
    """The user's genre with surrounding and repeated spaces removed; refuses empty or multi-line ones."""
    text = " ".join((genre or "").split())
    if not text:
        raise UserError(f"{where}: the genre is empty")
    if any(ch in (genre or "") for ch in "\r\n"):
        raise UserError(f"{where}: the genre {genre!r} spans several lines")
    return text


def make_request(genre: str, ref: str, where: str, base_dir: Path | None = None) -> PlaylistRequest:
    """Validate one pair; export files are looked up relative to ``base_dir`` (else the working folder)."""
    genre = clean_genre(genre, where)
    ref = (ref or "").strip()
    if not ref:
        raise UserError(f"{where}: no playlist given for genre {genre!r}")
    if is_export_ref(ref):
        path = Path(ref).expanduser()
        if not path.is_absolute() and base_dir is not None and not path.exists():
            path = base_dir / path
        if not path.is_file():
            raise UserError(f"{where}: export file {ref!r} not found")
        return PlaylistRequest(genre=genre, ref=ref, playlist_id=path.name, where=where, path=path)
    try:
        pid = parse_playlist_ref(ref)
    except RefError as exc:
        raise UserError(f"{where}: {exc}") from None
    return PlaylistRequest(genre=genre, ref=ref, playlist_id=pid, where=where)


def parse_inline(text: str) -> list[PlaylistRequest]:
    """``"rock=ID jazz=ID"`` (also separated by commas or semicolons; quote genres with spaces)."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise UserError(f"PLAYLISTS {text!r}: {exc}") from None
    items = [part.strip() for token in tokens for part in re.split(r"[,;](?=[^=/:]+=)", token) if part.strip()]
    if not items:
        raise UserError("PLAYLISTS is empty: give a file (genre,playlist columns) or \"rock=ID jazz=ID\"")
    requests = []
    for index, item in enumerate(items, start=1):
        where = f"PLAYLISTS item {index} ({item!r})"
        genre, sep, ref = item.partition("=")
        if not sep:
            raise UserError(f"{where}: expected GENRE=PLAYLIST, e.g. rock=https://open.spotify.com/playlist/ID")
        requests.append(make_request(genre, ref, where))
    return _dedupe(requests)


_GENRE_COLUMNS = ("genre",)
_REF_COLUMNS = ("playlist", "playlist_ref", "playlist_url", "url", "uri", "ref", "playlist_id", "file", "export")


def read_playlists_file(path: Path) -> list[PlaylistRequest]:
    """A CSV file with columns ``genre`` and ``playlist``; ``#`` lines and blank lines are skipped."""
    _, text = read_user_text(path, "save it as UTF-8 CSV")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise UserError(f"{path}: no rows; expected a header 'genre,playlist' and one row per playlist")
    delimiter = _delimiter(lines[0][1])
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)), delimiter=delimiter, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(f"{path}: malformed CSV ({exc})") from None
    header = [h.strip().lower() for h in rows[0]]
    genre_col = _find(header, _GENRE_COLUMNS)
    ref_col = _find(header, _REF_COLUMNS)
    if genre_col is None or ref_col is None:
        raise UserError(f"{path}: header {rows[0]!r} lacks the columns 'genre' and 'playlist' "
                        "(one genre and one playlist link, URI or ID per row)")
    requests = []
    for (line_no, _), cells in zip(lines[1:], rows[1:], strict=True):
        where = f"{path} row {line_no}"
        if len(cells) <= max(genre_col, ref_col):
            raise UserError(f"{where}: {len(cells)} cells, expected at least {max(genre_col, ref_col) + 1}")
        requests.append(make_request(cells[genre_col], cells[ref_col], where, base_dir=path.parent))
    if not requests:
        raise UserError(f"{path}: only a header, no playlists")
    return _dedupe(requests)


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _find(header: list[str], names: Iterable[str]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _dedupe(requests: list[PlaylistRequest]) -> list[PlaylistRequest]:
    """Drop repeated (genre, playlist) pairs; refuse two different files sharing a name."""
    seen: set[tuple[str, str]] = set()
    files: dict[str, PlaylistRequest] = {}
    out = []
    for req in requests:
        if req.path is not None:
            other = files.setdefault(req.playlist_id, req)
            if other.path is not None and other.path.resolve() != req.path.resolve():
                raise UserError(f"{req.where}: export file name {req.playlist_id!r} is also used by "
                                f"{other.where} for a different file; rename one of them")
        key = (req.genre, req.playlist_id)
        if key not in seen:
            seen.add(key)
            out.append(req)
    return out


def parse_playlists_arg(value: str) -> list[PlaylistRequest]:
    """``--playlists``/``PLAYLISTS``: a file path, or an inline ``"rock=ID jazz=ID"`` list."""
    text = (value or "").strip()
    if not text:
        raise UserError("no playlists given: pass a file with genre,playlist columns or \"rock=ID jazz=ID\"")
    path = Path(text).expanduser()
    if "=" not in text or path.is_file():
        if not path.is_file():
            raise UserError(f"PLAYLISTS {text!r}: no such file, and not an inline list like \"rock=ID jazz=ID\"")
        return read_playlists_file(path)
    return parse_inline(text)
