"""Files people open in spreadsheets, written so that opening them is safe.

Why: a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some spreadsheets skip before looking) is run as a formula by
Excel, LibreOffice and Google Sheets.  A track title from the internet is
untrusted input, so every string cell of an export gets a leading single quote
when it starts with one of those characters (OWASP's advice for CSV injection).
The BOM (``utf-8-sig``) makes Excel read the file as UTF-8, so non-Latin titles
and emoji show correctly.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from manifests.io import atomic_write_bytes

#: First characters that make a spreadsheet cell a formula (or hide one behind whitespace).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)  # each one character: ``text[:1] in`` it is ``startswith``


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet treat this cell as a formula?"""
    return isinstance(text, str) and text.startswith(FORMULA_TRIGGERS)


def neutralize(value: Any) -> Any:
    """A string cell made inert for spreadsheets; other values are returned unchanged."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def _safe_column(values: Sequence[Any]) -> Sequence[str]:
    """One column's cells (or one row's, when rows differ in length) as neutralised text (None as empty).

    An audit of 100,000 tracks writes close to a million cells: a column of plain strings
    where no line starts like a formula (:func:`_maybe_trigger` on the joined column) is used as it is.
    """
    if set(map(type, values)) <= {str}:
        texts: Sequence[str] = values
    else:
        texts = ["" if v is None else v if isinstance(v, str) else str(v) for v in values]
    if not _maybe_trigger("\n".join(texts)):
        return texts
    triggers = _TRIGGER_CHARS
    return [("'" + text) if text[:1] in triggers else text for text in texts]


#: A newline and a trigger: how a cell starting like a formula shows in a column's cells joined by newlines.
_AFTER_NEWLINE = tuple("\n" + trigger for trigger in FORMULA_TRIGGERS)


def _maybe_trigger(joined: str) -> bool:
    """Whether some cell of a column joined by newlines may start like a formula.

    A newline inside a cell may give a false alarm: then every cell of the column is looked at
    on its own. Six substring searches take a fifth of one regex's time over the same text.
    """
    return joined[:1] in _TRIGGER_CHARS or any(pair in joined for pair in _AFTER_NEWLINE)


def render_spreadsheet_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], *,
                           lineterminator: str = "\r\n") -> str:
    """CSV text with every string cell neutralised (header included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([neutralize(h) for h in header])
    rows = list(rows)
    widths = {len(row) for row in rows}
    if len(widths) == 1 and widths != {1} and lineterminator == "\r\n":  # a table: column by column
        columns = [_csv_fields(_safe_column(column)) for column in zip(*rows, strict=True)]
        if all(column is not None for column in columns):
            out.write("\r\n".join(map(",".join, zip(*columns, strict=True))) + "\r\n")
            return out.getvalue()
    if len(widths) == 1:
        table = zip(*(_safe_column(column) for column in zip(*rows, strict=True)), strict=True)
        # in slices: one writerows call never lets go of the interpreter lock, and the audit's
        # own threads (feeding its helper process) need it now and then
        while chunk := list(itertools.islice(table, _ROWS_PER_CALL)):
            writer.writerows(chunk)
    else:
        writer.writerows(_safe_column(row) for row in rows)
    return out.getvalue()


#: Rows one ``writerows`` call writes (a few milliseconds' work).
_ROWS_PER_CALL = 2048
#: What makes the csv module quote a cell (the delimiter, the quote and the line ends' characters).
_QUOTE_IF = (",", '"', "\r", "\n")


def _csv_fields(texts: Sequence[str]) -> Sequence[str] | None:
    """A column's cells as the csv module writes them (quoted where needed), or None when it must write them.

    Joining these with commas and the rows with CRLF gives ``csv.writer``'s text: what the
    ``_QUOTE_IF`` characters and quote doubling make of a cell. A NUL anywhere is left to the
    csv module. A column of 100,000 cells goes in a few C calls instead of a ``writerows`` loop.
    """
    joined = "\x1f".join(texts)
    if "\0" in joined:
        return None
    if not any(char in joined for char in _QUOTE_IF):
        return texts
    return [('"' + text.replace('"', '""') + '"') if "," in text or '"' in text or "\r" in text or "\n" in text
            else text for text in texts]  # _QUOTE_IF, spelt out: a generator per cell costs three times as much


def spreadsheet_csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The file :func:`write_spreadsheet_csv` writes: neutralised CSV, UTF-8 with a BOM."""
    return render_spreadsheet_csv(header, rows).encode("utf-8-sig")


def write_spreadsheet_csv(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a neutralised, BOM-prefixed UTF-8 CSV atomically; returns the number of data rows."""
    rows = list(rows)
    atomic_write_bytes(path, spreadsheet_csv_bytes(header, rows))
    return len(rows)
