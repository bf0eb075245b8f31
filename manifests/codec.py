"""Cell encoding: lossless round-trips that still read well in a spreadsheet.

* ``list``: items joined by ``"; "`` (``Daft Punk; Pharrell Williams``).
* ``floatmap``: ``key=value`` pairs joined by ``"; "`` (``rock=0.75; metal=0.25``).
* ``listmap``: ``key=a,b`` pairs joined by ``"; "`` (``rock=playlist,musicbrainz``).

A backslash escapes the separators (``;``, ``=``, ``,``) and itself inside an
item, so any string survives.  Exactly one space after ``;`` belongs to the
separator; further spaces belong to the next item.  Floats are written with a
fixed number of decimals and trailing zeros removed, so files diff cleanly.
"""

from __future__ import annotations

import math

ITEM_SEP = ";"
KEY_SEP = "="
VALUE_SEP = ","
ESCAPE = "\\"


class CodecError(ValueError):
    """A cell that cannot be decoded or a value that cannot be encoded."""


def _escape(text: str, specials: str) -> str:
    out = []
    for ch in text:
        if ch == ESCAPE or ch in specials:
            out.append(ESCAPE)
        out.append(ch)
    return "".join(out)


def _split(text: str, sep: str, skip_space: bool) -> list[str]:
    """Split on unescaped ``sep``, keeping escapes (they are removed by ``_unescape``)."""
    parts: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ESCAPE:
            if i + 1 >= len(text):
                raise CodecError("dangling backslash at the end of the cell")
            buf.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(buf))
            buf = []
            i += 1
            if skip_space and i < len(text) and text[i] == " ":
                i += 1
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def _unescape(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        if text[i] == ESCAPE and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def format_float(value: float, decimals: int = 4) -> str:
    """Stable text for a float: fixed rounding, no trailing zeros, never ``-0``."""
    if not math.isfinite(value):
        raise CodecError(f"{value!r} is not a finite number")
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parse_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CodecError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise CodecError(f"{text!r} is not a finite number")
    return value


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CodecError(f"{text!r} is not a whole number") from None


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise CodecError(f"{text!r} is not true or false")


def encode_list(items: list[str]) -> str:
    for item in items:
        if not isinstance(item, str) or item == "":
            raise CodecError(f"list items must be non-empty strings, got {item!r}")
    return "; ".join(_escape(item, ITEM_SEP) for item in items)


def decode_list(text: str) -> list[str]:
    if text == "":
        return []
    items = [_unescape(part) for part in _split(text, ITEM_SEP, skip_space=True)]
    if any(item == "" for item in items):
        raise CodecError("empty item in list (two separators in a row?)")
    return items


def encode_floatmap(mapping: dict[str, float], decimals: int = 4) -> str:
    parts = []
    for key, value in mapping.items():
        if not isinstance(key, str) or key == "":
            raise CodecError(f"map keys must be non-empty strings, got {key!r}")
        parts.append(f"{_escape(key, ITEM_SEP + KEY_SEP)}{KEY_SEP}{format_float(float(value), decimals)}")
    return "; ".join(parts)


def _pairs(text: str) -> list[tuple[str, str]]:
    if text == "":
        return []
    pairs = []
    for part in _split(text, ITEM_SEP, skip_space=True):
        pieces = _split(part, KEY_SEP, skip_space=False)
        if len(pieces) != 2 or pieces[0] == "":
            raise CodecError(f"{_unescape(part)!r} is not key=value")
        pairs.append((pieces[0], pieces[1]))
    return pairs


def decode_floatmap(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in _pairs(text):
        name = _unescape(key)
        if name in out:
            raise CodecError(f"key {name!r} appears twice")
        out[name] = parse_float(_unescape(value))
    return out


def encode_listmap(mapping: dict[str, list[str]]) -> str:
    parts = []
    for key, values in mapping.items():
        if not isinstance(key, str) or key == "":
            raise CodecError(f"map keys must be non-empty strings, got {key!r}")
        for value in values:
            if not isinstance(value, str) or value == "":
                raise CodecError(f"map values must be non-empty strings, got {value!r}")
        joined = VALUE_SEP.join(_escape(v, ITEM_SEP + KEY_SEP + VALUE_SEP) for v in values)
        parts.append(f"{_escape(key, ITEM_SEP + KEY_SEP)}{KEY_SEP}{joined}")
    return "; ".join(parts)


def decode_listmap(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in _pairs(text):
        name = _unescape(key)
        if name in out:
            raise CodecError(f"key {name!r} appears twice")
        out[name] = [_unescape(v) for v in _split(value, VALUE_SEP, skip_space=False)] if value else []
    return out
