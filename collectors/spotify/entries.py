"""One playlist entry as every source describes it, and the cleaning all sources share.

The Spotify API, Exportify files and plain CSV files all become :class:`TrackEntry`
values, so deduplication and the tracks table see one shape whatever the origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from manifests.schema import DATE_PATTERN, ISRC_PATTERN, SPOTIFY_ID_PATTERN
from manifests.text import clean_text as clean

#: why an entry was not kept as a track (the keys of the playlists table's ``skipped`` column)
SKIP_REASONS = ("local", "episode", "unavailable", "null")

_ISRC = re.compile(rf"(?:{ISRC_PATTERN})\Z")
_DATE = re.compile(rf"(?:{DATE_PATTERN})\Z")
_SPOTIFY_ID = re.compile(rf"(?:{SPOTIFY_ID_PATTERN})\Z")
_TRACK_URI = re.compile(r"spotify:track:([0-9A-Za-z]{22})\Z")
_TRACK_URL = re.compile(r"https?://open\.spotify\.com/(?:intl-[\w-]+/)?track/([0-9A-Za-z]{22})")


@dataclass
class TrackEntry:
    """A kept playlist entry: the recording's metadata as its source gives it."""

    title: str
    artists: list[str]
    origin: str
    album: str | None = None
    release_date: str | None = None
    duration_ms: int | None = None
    isrc: str | None = None
    spotify_id: str | None = None
    spotify_uri: str | None = None


#: What reading one playlist entry gives: the kept track, or why it was skipped (one of ``SKIP_REASONS``).
Kept = TrackEntry | str


def clean_text(value: object) -> str | None:
    """Text as :func:`manifests.text.clean_text` cleans it; None also for Exportify's ``undefined``/``null``."""
    text = clean(value)
    return None if text in ("undefined", "null", "None") else text


def normalize_isrc(value: object) -> str | None:
    """Upper-case ISRC without separators (``us-um7-12-13000`` -> ``USUM71213000``); None if not one."""
    text = clean_text(value)
    if not text:
        return None
    text = re.sub(r"[\s-]", "", text).upper()
    return text if _ISRC.match(text) else None


def normalize_date(value: object) -> str | None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a time part is dropped); None for ``0000`` and junk."""
    text = clean_text(value)
    if not text:
        return None
    text = text.split("T", 1)[0]
    if not _DATE.match(text) or text.startswith("0000"):
        return None
    return text


def spotify_track_id(value: object) -> str | None:
    """The track ID in a bare ID, a ``spotify:track:`` URI or an open.spotify.com track link."""
    text = clean_text(value)
    if not text:
        return None
    if _SPOTIFY_ID.match(text):
        return text
    match = _TRACK_URI.match(text) or _TRACK_URL.match(text)
    return match.group(1) if match else None


def parse_duration_ms(value: object, *, unit: str = "ms") -> int | None:
    """Milliseconds from ``213573``/``213573.0`` (ms) or, with ``unit='auto'``, ``3:33``/``213`` seconds."""
    text = clean_text(value)
    if not text:
        return None
    if ":" in text:
        parts = text.split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{text!r} is not a duration (m:ss)") from None
        seconds = 0.0
        for number in numbers:
            seconds = seconds * 60 + number
        return round(seconds * 1000)
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if number < 0:
        raise ValueError(f"{text!r} is negative")
    if unit == "ms":
        return round(number)
    return round(number * 1000)
