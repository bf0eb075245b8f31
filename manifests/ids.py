"""Stable identifiers and the text normalisation every stage compares with.

Kept here, at the bottom of the dependency graph, so the collectors (deduplication)
and the labeling audit (duplicate detection) use one definition.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_FEAT = re.compile(r"\s*[\(\[]?\s*\b(?:feat|ft|featuring)\b\.?.*$", re.IGNORECASE)
#: "with" is a credit only in brackets: "Song (with X)", never "Dancing with Myself".
_WITH = re.compile(r"\s*[\(\[]\s*with\b.*$", re.IGNORECASE)
_BRACKETS = re.compile(r"[\(\[][^\)\]]*[\)\]]")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
#: Letters that Unicode decomposition leaves alone but people type without the mark.
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"})


def make_track_id(namespace: str, key: str) -> str:
    """A short, lower-case, path-safe ID derived from a stable key (``t`` + 15 hex digits)."""
    digest = hashlib.sha1(f"{namespace}:{key}".encode()).hexdigest()
    return "t" + digest[:15]


def normalize_text(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a name, for comparisons."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_FOLD).replace("&", " and ")
    return " ".join(_NON_WORD.sub(" ", text).split())


def normalize_title(title: str) -> str:
    """A title without "(feat. ...)" credits, bracketed remarks or " - Remastered" tails."""
    title = re.split(r"\s+-\s+", title or "", maxsplit=1)[0]
    title = _WITH.sub("", _FEAT.sub("", title))
    title = _BRACKETS.sub(" ", title)
    return normalize_text(title)


def artist_title_key(artists: list[str] | str, title: str) -> str:
    """The key two rows share when they are the same song: first artist plus bare title."""
    first = artists[0] if isinstance(artists, list) and artists else (artists or "")
    return f"{normalize_text(str(first))}|{normalize_title(title)}"
