"""Stable identifiers and the text normalisation every stage compares with.

Kept here, at the bottom of the dependency graph, so the collectors (deduplication,
YouTube, RateYourMusic and MusicBrainz matching) and the labeling audit (duplicate
detection) use one definition.

Two levels:

* :func:`normalize_text`: case, accents and punctuation only (the stable form the
  deduplication keys, splits and audit are built on);
* :func:`name_key` (and :func:`name_variants`, :func:`same_name`): the one normaliser
  for *names* of artists, titles and releases when two catalogues are matched. On top
  of the above it drops leading articles ("The Desert Sessions" = "Desert Sessions, The"),
  reads "&", "+", "'n'" and "and" alike, removes "feat."/"ft." credits and bracketed or
  dashed version notes ("(Remastered 2011)", " - Live On MTV, 1994"), joins apostrophes
  and acronym dots ("Don't" = "Dont", "R.E.M." = "REM") and spells out "Vol."/"Pt.".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_FEAT = re.compile(r"\s*[\(\[]?\s*\b(?:feat|ft|featuring)\b\.?.*$", re.IGNORECASE)
#: "with" is a credit only in brackets: "Song (with X)", never "Dancing with Myself".
_WITH = re.compile(r"\s*[\(\[]\s*with\b.*$", re.IGNORECASE)
_BRACKETS = re.compile(r"[\(\[][^\)\]]*[\)\]]")
#: " - Remastered 2011": a title ends at its first dash between spaces.
_TITLE_TAIL = re.compile(r"\s+-\s+")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
#: Letters that Unicode decomposition leaves alone but people type without the mark.
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"})


def make_track_id(namespace: str, key: str) -> str:
    """A short, lower-case, path-safe ID derived from a stable key (``t`` + 15 hex digits)."""
    digest = hashlib.sha1(f"{namespace}:{key}".encode()).hexdigest()
    return "t" + digest[:15]


def normalize_text(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a name, for comparisons."""
    text = text or ""
    if text.isascii():  # most names: decomposition and folding change nothing, lower-casing is all
        text = text.lower()
        if text.replace(" ", "").isalnum():  # only letters, digits and spaces: no punctuation to drop
            return " ".join(text.split())
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = text.casefold().translate(_FOLD)
    return " ".join(_NON_WORD.sub(" ", text.replace("&", " and ")).split())


def normalize_title(title: str) -> str:
    """A title without "(feat. ...)" credits, bracketed remarks or " - Remastered" tails.

    Each pattern runs only when the title holds what it needs to match (a dash; "ft" or "feat"
    in any case, which no non-ASCII letter matches; a bracket): most titles have none of them,
    and split keys 100,000 titles. The result is the same as running every pattern.
    """
    title = title or ""
    if "-" in title:
        title = _TITLE_TAIL.split(title, maxsplit=1)[0]
    lowered = title.lower()
    if "ft" in lowered or "feat" in lowered:
        title = _FEAT.sub("", title)
    if "(" in title or "[" in title:
        title = _BRACKETS.sub(" ", _WITH.sub("", title))
    return normalize_text(title)


def artist_title_key(artists: list[str] | str, title: str) -> str:
    """The key two rows share when they are the same song: first artist plus bare title."""
    first = artists[0] if isinstance(artists, list) and artists else (artists or "")
    return f"{normalize_text(str(first))}|{normalize_title(title)}"


# ---------------------------------------------------------------- names (artists, titles, releases)

_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
#: "Rock 'n' Roll", "Rock'n'Roll", "Rock 'n Roll": the contraction of "and"
_N_AND = re.compile(rf"\s*[{_APOSTROPHES}]n(?:[{_APOSTROPHES}]|(?=\s|$))\s*", re.IGNORECASE)
_APOSTROPHE = re.compile(rf"[{_APOSTROPHES}]")
#: "R.E.M.", "N.W.A", "t.A.T.u.": single letters joined by dots are one word
_ACRONYM = re.compile(r"(?<!\w)((?:\w\.){2,}\w?)(?!\w)")
#: "L'Impératrice", "l'Homme": an elided French article
_ELISION = re.compile(rf"^\s*[lL][{_APOSTROPHES}]\s*(?=\w)")
#: "Beatles, The" (library sort form)
_TRAILING_ARTICLE = re.compile(r",\s*(?:the|a|an)\s*$", re.IGNORECASE)
#: Leading articles dropped from names: English, and those common in artist names elsewhere.
#: Only when written as a word of their own and more follows: "The The" keeps one, "A" stays "a".
ARTICLES = frozenset({"the", "a", "an", "le", "la", "les", "los", "las", "el", "die", "der", "das", "il"})
#: Words written several ways in release and track names.
_WORD_FORMS = {"vol": "volume", "vols": "volume", "volumes": "volume", "pt": "part", "pts": "part",
               "parts": "part", "n": "and", "und": "and", "et": "and"}
_CREDIT_BRACKET = re.compile(r"[\(\[\{]\s*(?:feat|ft|featuring|with|prod)\b\.?[^\)\]\}]*[\)\]\}]", re.IGNORECASE)
_CREDIT_TAIL = re.compile(r"\s+(?:feat|ft|featuring)\b\.?\s[^\(\[\{]*?(?=\s+[-\u2013\u2014]\s|[\(\[\{]|$)",
                          re.IGNORECASE)
_BRACKET = re.compile(r"[\(\[\{]([^\(\)\[\]\{\}]*)[\)\]\}]")
_DASH_TAIL = re.compile(r"\s+[-\u2013\u2014]\s+(.*)$")
#: Words that make a bracketed or dashed remark a note about the version, not part of the name.
_VERSION_NOTE = re.compile(
    r"(?<!\w)(?:remaster(?:ed)?|live|mix|remix(?:ed)?|edit|version|mono|stereo|demo|deluxe|edition|bonus|"
    r"single|radio|explicit|clean|acoustic|instrumental|unplugged|take|sessions?|re ?recorded|anniversary|"
    r"expanded|original|soundtrack|ost|from|taylor s version|\d{4})(?!\w)")


def fold_text(text: str) -> str:
    """Case, accents, apostrophes, acronym dots and "&"/"+"/"'n'" folded; punctuation becomes spaces.

    The word-level form :func:`name_key` builds on; nothing is removed except punctuation,
    so it also suits searching for words in video titles.
    """
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_FOLD)
    text = _N_AND.sub(" and ", text)
    text = _ACRONYM.sub(lambda m: m.group(1).replace(".", ""), text)
    text = _APOSTROPHE.sub("", text)
    text = text.replace("&", " and ").replace("+", " and ")
    words = [_WORD_FORMS.get(word, word) for word in _NON_WORD.sub(" ", text).replace("_", " ").split()]
    return " ".join(words)


def strip_credits(text: str) -> str:
    """A name without "(feat. X)", "[ft. X]", "(with X)", "(prod. X)" and trailing "feat. X" credits."""
    text = _CREDIT_BRACKET.sub(" ", text or "")
    return " ".join(_CREDIT_TAIL.sub(" ", text).split())


def is_version_note(remark: str) -> bool:
    """Whether a bracketed or dashed remark describes the version ("Remastered 2011", "Live at ...")."""
    return bool(_VERSION_NOTE.search(fold_text(remark)))


def strip_version_notes(text: str) -> str:
    """A name without bracketed and dashed version notes; other brackets are part of the name."""
    text = _BRACKET.sub(lambda m: " " if is_version_note(m.group(1)) else m.group(0), text or "")
    tail = _DASH_TAIL.search(text)
    if tail and is_version_note(tail.group(1)) and text[:tail.start()].strip():
        text = text[:tail.start()]
    return " ".join(text.split())


_ARTICLE = re.compile(rf"^\s*(?:{'|'.join(sorted(ARTICLES))})\s+(?=\S)", re.IGNORECASE)


def _without_article(text: str) -> str:
    """``text`` folded, less a leading article written as a word of its own ("El-P" keeps its "El")."""
    stripped = _ARTICLE.sub("", text)
    return fold_text(stripped) or fold_text(text)


def name_key(text: str) -> str:
    """The form two catalogues' names are compared in (artist, song title or release title).

    "The Desert Sessions" = "Desert Sessions, The"; "Simon & Garfunkel" = "Simon and Garfunkel";
    "Sigur Rós" = "Sigur Ros"; "Get Lucky (feat. Pharrell Williams) - Radio Edit" = "Get Lucky";
    "Vol. 1 & 2" = "Volume 1 and 2". A name made only of notes keeps them rather than vanishing.
    """
    bare = strip_version_notes(strip_credits(text or ""))
    bare = _ELISION.sub("", _TRAILING_ARTICLE.sub("", bare))
    return _without_article(bare) or _without_article(text or "")


def name_variants(text: str) -> list[str]:
    """:func:`name_key` first, then looser readings: without any bracket, before a " - " tail.

    "(I Can't Get No) Satisfaction" also reads "Satisfaction"; "Song - Part Two" also reads "Song".
    Matching two names by any shared variant tolerates catalogues that keep or drop such parts.
    """
    base = strip_credits(text or "")
    out = [name_key(text)]
    no_brackets = " ".join(_BRACKET.sub(" ", base).split())
    out.append(name_key(no_brackets))
    head = _DASH_TAIL.sub("", no_brackets)
    out.append(name_key(head))
    return [v for v in dict.fromkeys(out) if v]


def same_name(a: str, b: str) -> bool:
    """Whether two names are the same once normalised (any shared :func:`name_variants` reading)."""
    return bool(set(name_variants(a)) & set(name_variants(b)))


#: How a track with no known artist is credited (GTZAN, untagged files).
UNKNOWN_ARTIST = "[unknown]"
#: Credits that name nobody, in ``normalize_text`` form.
UNKNOWN_ARTISTS = frozenset({"unknown", "unknown artist", "artist unknown", "no artist", "various artists"})


def is_unknown_artist(name: str) -> bool:
    """Whether an artist credit names nobody (``[unknown]``, "Unknown Artist", "Various Artists").

    Such credits must never link tracks (splits, leakage and duplicate checks) nor be looked up.
    """
    return (normalize_text(name) or name.strip().casefold()) in UNKNOWN_ARTISTS
