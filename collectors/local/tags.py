"""Embedded tags through mutagen: title, artists, album, date, ISRC, MusicBrainz recording ID, genres.

Why mutagen: one pure-Python library reads every tag format a music library holds (ID3v1,
ID3v2.2/2.3/2.4 in MP3, WAV and AIFF; Vorbis comments in FLAC, Ogg Vorbis, Opus and Speex;
MP4/M4A atoms; APEv2 in WavPack, Monkey's Audio and Musepack; ASF in WMA) without decoding
audio, so reading tags costs a few milliseconds per file.

What the formats disagree on is settled here, once:

* **several genres**: ID3v2.4 and Vorbis comments carry several values; taggers also write
  ``Rock;Metal`` or ``Rock/Metal`` into one, so values are split on ``;``, ``/``, ``|`` and ``\\``
  (never on ``,``: "Folk, World, & Country" is one Discogs genre);
* **numeric genres**: ID3v1 genre bytes and ID3v2 ``(17)`` references are names through
  mutagen's table (17 is Rock), and so are MP4 ``gnre`` atoms (the same code plus one);
* **wrong encodings**: a frame declared Latin-1 that really holds UTF-8 bytes (a common tagger
  bug: "CafÃ©") is read back as UTF-8; anything mutagen cannot parse at all leaves that field
  (or the whole tag) empty and is noted in ``problem``; reading never raises.

Placeholder artists ("Unknown Artist", "[unknown]", "Various Artists") are dropped here, so a
file tagged that way counts as having no known artist rather than one shared by every such file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests.ids import is_unknown_artist
from manifests.schema import DATE_PATTERN, ISRC_PATTERN
from manifests.text import clean_text

log = logging.getLogger(__name__)

#: Separators of several genres written into one value.
_GENRE_SPLIT = re.compile(r"\s*[;/|\\\x00]\s*")
_DATE = re.compile(rf"({DATE_PATTERN})")
_ISRC = re.compile(rf"{ISRC_PATTERN}\Z")
_MBID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
#: Artist names that say "nobody known" (normalised): such a credit links unrelated tracks.


@dataclass(frozen=True)
class FileTags:
    """What one file's tags say; every field may be missing."""

    title: str | None = None
    artists: tuple[str, ...] = ()
    album: str | None = None
    #: YYYY, YYYY-MM or YYYY-MM-DD
    date: str | None = None
    isrc: str | None = None
    musicbrainz_recording_id: str | None = None
    #: (genre as written, where it was found: "ID3v2.4 TCON", "Vorbis GENRE", ...)
    genres: tuple[tuple[str, str], ...] = ()
    #: the container's duration as mutagen reads it from the header (None when unknown)
    duration_s: float | None = None
    #: the tag format found ("ID3v2.3", "Vorbis comments", "MP4", ...), None when there is none
    format: str | None = None
    #: why the tags could not be read (fully or in part); None when all is well
    problem: str | None = None


def split_genres(values: Iterable[str]) -> list[str]:
    """Every genre in ``values``, split at the separators taggers use, cleaned, first seen first."""
    out: list[str] = []
    for value in values:
        for part in _GENRE_SPLIT.split(str(value)):
            text = clean_text(part)
            if text and text not in out:
                out.append(text)
    return out


def repair_mojibake(text: str) -> str:
    """UTF-8 bytes that were decoded as Latin-1 ("CafÃ©") back to what the tagger meant ("Café").

    Only when the Latin-1 bytes are valid UTF-8 and not plain ASCII: real Latin-1 text almost
    never is (an accented letter followed by a continuation-range symbol is rare in names).
    """
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text
    if raw.isascii():
        return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def parse_date(value: object) -> str | None:
    """The leading YYYY[-MM[-DD]] of a tag's date ("2004-05-01T07:00:00Z", "2004"), if it is one."""
    text = clean_text(value)
    if not text:
        return None
    found = _DATE.match(text)
    if not found:
        return None
    date = found.group(1)
    parts = date.split("-")
    if len(parts) > 1 and not 1 <= int(parts[1]) <= 12:
        return parts[0]
    if len(parts) > 2 and not 1 <= int(parts[2]) <= 31:
        return "-".join(parts[:2])
    return date


def parse_isrc(value: object) -> str | None:
    text = (clean_text(value) or "").replace("-", "").replace(" ", "").upper()
    return text if _ISRC.match(text) else None


def parse_mbid(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = (clean_text(value) or "").lower()
    return text if _MBID.match(text) else None


def _texts(values: Iterable[Any]) -> list[str]:
    out = []
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        text = clean_text(value)
        if text:
            out.append(text)
    return out


def _first(*lists: list[str]) -> str | None:
    """The first value of the first list that has one."""
    return next((values[0] for values in lists if values), None)


def _artists(values: Iterable[str]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        for name in str(value).split("\x00"):
            text = clean_text(name)
            if text and not is_unknown_artist(text) and text not in names:
                names.append(text)
    return tuple(names)


# ---------------------------------------------------------------- per tag format

def _id3(tags: Any) -> dict[str, Any]:
    from mutagen.id3 import Encoding

    version = tuple(getattr(tags, "version", ()) or ())
    label = "ID3v1" if version[:1] == (1,) else f"ID3v{version[0]}.{version[1]}" if len(version) >= 2 else "ID3"

    def text_of(frame_id: str) -> list[str]:
        frame = tags.get(frame_id)
        if frame is None:
            return []
        values = [str(v) for v in getattr(frame, "text", [])]
        if getattr(frame, "encoding", None) == Encoding.LATIN1:
            values = [repair_mojibake(v) for v in values]
        return _texts(values)

    genres: list[str] = []
    tcon = tags.get("TCON")
    if tcon is not None:
        try:
            raw = list(tcon.genres)  # "(17)", "17" and v1 bytes are names here
        except Exception:  # a malformed reference: keep the text as written
            raw = [str(v) for v in tcon.text]
        if tcon.encoding == Encoding.LATIN1:
            raw = [repair_mojibake(g) for g in raw]
        genres = split_genres(raw)
    ufid = tags.get("UFID:http://musicbrainz.org")
    date = _first(text_of("TDRC"), text_of("TYER"), text_of("TDRL"))
    return {"format": label, "title": _first(text_of("TIT2")), "artists": _artists(text_of("TPE1")),
            "album": _first(text_of("TALB")), "date": parse_date(date),
            "isrc": parse_isrc(_first(text_of("TSRC"))),
            "musicbrainz_recording_id": parse_mbid(ufid.data) if ufid is not None else None,
            "genres": [(g, f"{label} TCON") for g in genres]}


def _vorbis(tags: Any, label: str = "Vorbis comments") -> dict[str, Any]:
    def values(key: str) -> list[str]:
        try:
            return _texts(tags.get(key) or [])
        except Exception:  # a key mutagen refuses (bad characters): nothing there
            return []

    genres = split_genres(values("genre"))
    return {"format": label, "title": _first(values("title")), "artists": _artists(values("artist")),
            "album": _first(values("album")),
            "date": parse_date(_first(values("date"), values("year"))),
            "isrc": parse_isrc(_first(values("isrc"))),
            "musicbrainz_recording_id": parse_mbid(_first(values("musicbrainz_trackid"))),
            "genres": [(g, "Vorbis GENRE") for g in genres]}


def _mp4(tags: Any) -> dict[str, Any]:
    def values(key: str) -> list[str]:
        return _texts(tags.get(key) or [])

    # mutagen reads a numeric ``gnre`` atom (ID3v1 code + 1) into ``\u00a9gen`` as its name
    genres = [(g, "MP4 \u00a9gen") for g in split_genres(values("\u00a9gen"))]
    freeform = "----:com.apple.iTunes:"
    return {"format": "MP4", "title": _first(values("\u00a9nam")), "artists": _artists(values("\u00a9ART")),
            "album": _first(values("\u00a9alb")), "date": parse_date(_first(values("\u00a9day"))),
            "isrc": parse_isrc(_first(values(freeform + "ISRC"))),
            "musicbrainz_recording_id": parse_mbid(_first(values(freeform + "MusicBrainz Track Id"))),
            "genres": genres}


def _apev2(tags: Any) -> dict[str, Any]:
    def values(key: str) -> list[str]:
        value = tags.get(key)
        return _texts(str(value).split("\x00")) if value is not None else []

    genres = split_genres(values("Genre"))
    return {"format": "APEv2", "title": _first(values("Title")), "artists": _artists(values("Artist")),
            "album": _first(values("Album")), "date": parse_date(_first(values("Year"))),
            "isrc": parse_isrc(_first(values("ISRC"))),
            "musicbrainz_recording_id": parse_mbid(_first(values("MUSICBRAINZ_TRACKID"))),
            "genres": [(g, "APEv2 Genre") for g in genres]}


def _asf(tags: Any) -> dict[str, Any]:
    def values(key: str) -> list[str]:
        return _texts(str(v.value) for v in tags.get(key) or [])

    genres = split_genres(values("WM/Genre"))
    return {"format": "ASF", "title": _first(values("Title")), "artists": _artists(values("Author")),
            "album": _first(values("WM/AlbumTitle")), "date": parse_date(_first(values("WM/Year"))),
            "isrc": parse_isrc(_first(values("WM/ISRC"))),
            "musicbrainz_recording_id": parse_mbid(_first(values("MusicBrainz/Track Id"))),
            "genres": [(g, "ASF WM/Genre") for g in genres]}


def _fields(tags: Any) -> dict[str, Any]:
    from mutagen._vorbis import VComment
    from mutagen.apev2 import APEv2
    from mutagen.asf import ASFTags
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    if isinstance(tags, ID3):
        return _id3(tags)
    if isinstance(tags, VComment):
        return _vorbis(tags)
    if isinstance(tags, MP4Tags):
        return _mp4(tags)
    if isinstance(tags, APEv2):
        return _apev2(tags)
    if isinstance(tags, ASFTags):
        return _asf(tags)
    return {"format": type(tags).__name__}


def read_tags(path: Path | str) -> FileTags:
    """The tags of one file; a file mutagen cannot read (or that is not audio) gives empty tags."""
    import mutagen

    try:
        audio = mutagen.File(str(path))
    except Exception as exc:  # MutagenError, and what malformed headers raise inside it (struct, index)
        log.debug("%s: tags unreadable: %s", path, exc)
        return FileTags(problem=f"tags unreadable ({type(exc).__name__}: {exc})"[:300])
    if audio is None:
        return FileTags(problem="no tag format mutagen knows")
    length = getattr(getattr(audio, "info", None), "length", None)
    duration = float(length) if isinstance(length, (int, float)) and length > 0 else None
    if audio.tags is None:
        return FileTags(duration_s=duration)
    try:
        fields = _fields(audio.tags)
    except Exception as exc:  # a tag layout we did not foresee: the file still imports
        log.debug("%s: tags not understood: %s", path, exc)
        return FileTags(duration_s=duration, problem=f"tags not understood ({type(exc).__name__}: {exc})"[:300])
    return FileTags(title=fields.get("title"), artists=tuple(fields.get("artists") or ()),
                    album=fields.get("album"), date=fields.get("date"), isrc=fields.get("isrc"),
                    musicbrainz_recording_id=fields.get("musicbrainz_recording_id"),
                    genres=tuple(fields.get("genres") or ()), duration_s=duration, format=fields.get("format"))
