"""Validated reading and atomic, deterministic writing of manifest CSVs.

Rows are plain ``dict``\\ s holding Python values (``str``, ``int``, ``float``,
``bool``, ``list[str]``, ``dict``); an empty cell is ``None``.  Reading checks the
header, the schema tag and every cell, and fails on the first problem with one
line naming file, line, row, column and problem.  Writing goes to a temporary
file in the same folder and is renamed over the target, so a killed process
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import math
import os
import re
import struct
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from . import codec
from .config import FLUSH_EVERY_ROWS, FLUSH_EVERY_SECONDS
from .errors import UserError, file_system_fault
from .schema import SCHEMA_COLUMN, Column, Table

Row = dict[str, Any]

#: What an empty cell reads as: no value, except for multi-valued kinds (a fresh empty list/map).
EMPTY: dict[str, type] = {"list": list, "floatmap": dict, "listmap": dict}


class ManifestError(UserError, ValueError):
    """A manifest that cannot be trusted: the message names file, row, column and problem."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None,
                 row: int | None = None, column: str | None = None) -> None:
        self.path, self.problem, self.line, self.row, self.column = str(path), problem, line, row, column
        where = [self.path + (f":{line}" if line is not None else "")]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {problem}")


class MissingTable(ManifestError):
    """An input table that does not exist yet: the message names the command that writes it."""

    def __init__(self, path: Path | str, table: Table) -> None:
        super().__init__(path, f"not found: run {table.command} first" if table.command else "not found")
        self.table = table
        # "data/manifests/labels.csv not found: run make labels first" (no colon after the path)
        self.args = (f"{path} {self.problem}",)

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------- cells

def decode_cell(col: Column, text: str, known_genres: frozenset[str] | None = None) -> Any:
    """Text of one cell to its Python value, checking kind, range, pattern and genres."""
    if text == "":
        if col.required:
            raise codec.CodecError("required value is missing")
        return EMPTY[col.kind]() if col.kind in EMPTY else None
    kind = col.kind
    if kind == "str":
        value: Any = text
    elif kind == "int":
        value = codec.parse_int(text)
    elif kind == "float":
        value = codec.parse_float(text)
    elif kind == "bool":
        value = codec.parse_bool(text)
    elif kind == "list":
        value = codec.decode_list(text)
    elif kind == "floatmap":
        value = codec.decode_floatmap(text)
    else:
        value = codec.decode_listmap(text)
    check_value(col, value, known_genres)
    return value


def check_value(col: Column, value: Any, known_genres: frozenset[str] | None = None) -> None:
    """Raise ``CodecError`` when a decoded value breaks the column's rules."""
    if col.allowed is not None and value not in col.allowed:
        raise codec.CodecError(f"{value!r} is not one of {', '.join(col.allowed)}")
    regex = col.regex
    if regex is not None:
        for item in value if isinstance(value, list) else [value]:
            if not regex.match(str(item)):
                raise codec.CodecError(f"{item!r} does not look like a valid {col.name}")
    numbers: list[float] = []
    if col.kind in ("int", "float"):
        numbers = [value]
    elif col.kind == "floatmap":
        numbers = list(value.values())
    for number in numbers:
        if col.minimum is not None and number < col.minimum:
            raise codec.CodecError(f"{codec.format_float(number, col.decimals)} is below {col.minimum:g}")
        if col.maximum is not None and number > col.maximum:
            raise codec.CodecError(f"{codec.format_float(number, col.decimals)} is above {col.maximum:g}")
    if col.path:
        problem = path_problem(str(value))
        if problem:
            raise codec.CodecError(f"{value!r} {problem}")
    if col.genre and known_genres is not None:
        names = list(value) if isinstance(value, dict) else [value]
        for name in names:
            if name not in known_genres:
                raise codec.CodecError(f"unknown genre {name!r} (not in the taxonomy)")


def path_problem(stored: str) -> str | None:
    """Why a path stored in a manifest is not a plain path inside the data folder, or None.

    Manifests travel with their data folder and are edited by hand; a path that is absolute or
    climbs out with ``..`` could make a stage read (or the audit open) any file on the machine.
    """
    if "\\" in stored or "\0" in stored:
        return "is not a plain relative path (use forward slashes)"
    if stored.startswith("/") or (len(stored) > 1 and stored[1] == ":"):
        return "is an absolute path; paths in manifests are relative to the data folder"
    if ".." in stored.split("/"):
        return "leaves the data folder ('..'); paths in manifests stay inside it"
    return None


def encode_cell(col: Column, value: Any) -> str:
    """Python value of one cell to its canonical text."""
    if value is None or (isinstance(value, (str, list, dict)) and len(value) == 0) or (
            isinstance(value, float) and value != value):
        if col.required:
            raise codec.CodecError("required value is missing")
        return ""
    kind = col.kind
    if kind == "str":
        return str(value)
    if kind == "int":
        if isinstance(value, bool) or int(value) != value:
            raise codec.CodecError(f"{value!r} is not a whole number")
        return str(int(value))
    if kind == "float":
        return codec.format_float(float(value), col.decimals)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "list":
        return codec.encode_list(list(value))
    if kind == "floatmap":
        return codec.encode_floatmap(dict(value), col.decimals)
    return codec.encode_listmap({k: list(v) for k, v in dict(value).items()})


# ---------------------------------------------------------------- reading

def _check_header(path: Path, table: Table, header: list[str]) -> None:
    expected = table.header
    if table.versioned and SCHEMA_COLUMN not in header:
        raise ManifestError(path, f"no {SCHEMA_COLUMN!r} column: not a {table.tag} manifest "
                                  f"(expected columns: {', '.join(expected)})", line=1)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ManifestError(path, "column appears twice in the header", line=1, column=name)
        seen.add(name)
        if name not in expected:
            raise ManifestError(path, f"unknown column for table {table.tag}", line=1, column=name)
    for col in table.columns:
        if col.required and col.name not in seen:
            raise ManifestError(path, "required column is missing from the header", line=1, column=col.name)


#: Rows validated together on the fast path; a chunk with any problem is read again cell by cell.
CHUNK_ROWS = 16_384


class _Doubt(Exception):
    """The fast path cannot vouch for a chunk: the exact cell-by-cell path decides (and names the cell)."""


_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_REGEX: dict[str, re.Pattern[str]] = {}


def _regex(col: Column) -> re.Pattern[str] | None:
    if col.pattern is None:
        return None
    found = _REGEX.get(col.pattern)
    if found is None:
        found = _REGEX[col.pattern] = re.compile(rf"(?:{col.pattern})\Z")
    return found


def _plain_items(text: str) -> list[str]:
    """``codec.decode_list`` for a cell without backslashes (the common case), without escapes to undo."""
    parts = text.split(";")
    items = [parts[0]] + [p[1:] if p[:1] == " " else p for p in parts[1:]]
    if "" in items:
        raise _Doubt
    return items


def _plain_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in _plain_items(text):
        key, sep, value = part.partition("=")
        if not sep or not key or "=" in value:
            raise _Doubt
        pairs.append((key, value))
    return pairs


def _fast_floatmap(text: str) -> dict[str, float]:
    if "\\" in text:
        return codec.decode_floatmap(text)
    out = {key: float(value) for key, value in _plain_pairs(text)}
    if len(out) != text.count(";") + 1 or not all(map(math.isfinite, out.values())):
        raise _Doubt
    return out


def _fast_listmap(text: str) -> dict[str, list[str]]:
    if "\\" in text:
        return codec.decode_listmap(text)
    out = {key: value.split(",") if value else [] for key, value in _plain_pairs(text)}
    if len(out) != text.count(";") + 1:
        raise _Doubt
    return out


def _fast_list(text: str) -> list[str]:
    if "\\" in text:
        return codec.decode_list(text)
    return [text] if ";" not in text else _plain_items(text)


def _copy_listmap(value: dict[str, list[str]]) -> dict[str, list[str]]:
    return {key: list(items) for key, items in value.items()}


def _decoded(texts: list[str], decode: Callable[[str], Any], copy: Callable[[Any], Any]) -> list[Any]:
    """``decode`` of every text; a column with many repeated texts decodes each once and copies.

    Every row gets its own list or dict, so a caller that edits one row's value changes no other row.
    """
    distinct = set(texts)
    if len(distinct) * 2 > len(texts):
        return list(map(decode, texts))
    known = {text: decode(text) for text in distinct}
    return [copy(known[text]) for text in texts]


def _maybe_path_problem(paths: set[str]) -> bool:
    """False only when no path has a ``path_problem``: the same tests, on all the paths at once.

    Joined by newlines, a path starting with ``/`` shows as ``\\n/`` or at the very start; the
    other problems are characters or ``..`` anywhere in it. True asks every path one by one.
    """
    joined = "\n".join(paths)
    if "\\" in joined or "\0" in joined or ":" in joined or ".." in joined or "\n/" in joined or joined[:1] == "/":
        return any(map(path_problem, paths))
    return False


def _fast_column(col: Column, texts: Sequence[str], genres: frozenset[str] | None) -> list[Any]:
    """Decode one column of a chunk at once; ``_Doubt`` whenever any cell might break a rule.

    Accepts exactly what :func:`decode_cell` accepts and gives the same values, but checks a
    column's distinct values once and uses the C builtins (``int``, ``float``, set operations).
    """
    if "" in texts:
        if col.required:
            raise _Doubt
        filled = [t for t in texts if t]
    else:
        filled = list(texts)
    kind, regex = col.kind, _regex(col)
    values: list[Any]
    if kind == "str":
        distinct = set(filled)
        if col.allowed is not None and not distinct <= set(col.allowed):
            raise _Doubt
        if regex is not None and not all(map(regex.match, distinct)):
            raise _Doubt
        if col.path and _maybe_path_problem(distinct):
            raise _Doubt
        if col.genre and genres is not None and not distinct <= genres:
            raise _Doubt
        values = filled
    elif col.allowed is not None or regex is not None or col.path or col.genre and kind not in ("floatmap", "listmap"):
        values = [decode_cell(col, t, genres) for t in filled]  # rules this path does not inline
    elif kind in ("int", "float"):
        values = list(map(int if kind == "int" else float, filled))
        if kind == "float" and not all(map(math.isfinite, values)):
            raise _Doubt
        if values and ((col.minimum is not None and min(values) < col.minimum)
                       or (col.maximum is not None and max(values) > col.maximum)):
            raise _Doubt
    elif kind == "bool":
        values = [_BOOLS[t] for t in filled]
    elif kind == "list":
        values = _decoded(filled, _fast_list, list)
    else:
        values = _decoded(filled, _fast_floatmap, dict) if kind == "floatmap" else _decoded(filled, _fast_listmap,
                                                                                           _copy_listmap)
        if col.genre and genres is not None and not all(m.keys() <= genres for m in values):
            raise _Doubt
        if kind == "floatmap" and (col.minimum is not None or col.maximum is not None):
            numbers = [w for m in values for w in m.values()]
            if numbers and ((col.minimum is not None and min(numbers) < col.minimum)
                            or (col.maximum is not None and max(numbers) > col.maximum)):
                raise _Doubt
    if len(filled) == len(texts):
        return values
    if kind == "str":
        return [t or None for t in texts]
    empty = EMPTY.get(kind)
    following = iter(values).__next__
    if empty is None:
        return [following() if t else None for t in texts]
    return [following() if t else empty() for t in texts]


def _decode_chunk(table: Table, header: list[str], block: list[list[str]], genres: frozenset[str] | None,
                  keys: set[tuple[Any, ...]]) -> list[list[Any]]:
    """The values of a block, column by column (schema order); ``_Doubt`` when any row, cell or key needs a closer look."""
    width = len(header)
    if set(map(len, block)) != {width} or [""] * width in block:  # short/long/blank rows: the exact path
        raise _Doubt
    return _decode_columns(table, header, list(zip(*block, strict=True)), len(block), genres, keys)


def _decode_columns(table: Table, header: list[str], by_column: Sequence[Sequence[str]], n_rows: int,
                    genres: frozenset[str] | None, keys: set[tuple[Any, ...]]) -> list[list[Any]]:
    """``_decode_chunk`` of a block already split into columns (in header order), none of its rows blank."""
    position = {name: i for i, name in enumerate(header)}
    if table.versioned and set(by_column[position[SCHEMA_COLUMN]]) != {table.tag}:
        raise _Doubt
    blank = ("",) * n_rows
    names = [col.name for col in table.columns]
    try:
        columns = [_fast_column(col, by_column[position[col.name]] if col.name in position else blank, genres)
                   for col in table.columns]
    except (ValueError, KeyError, TypeError, codec.CodecError):
        raise _Doubt from None
    key_columns = [columns[names.index(k)] for k in table.key]
    found = list(zip(*key_columns, strict=True))
    if len(set(found)) != len(found) or not keys.isdisjoint(found):
        raise _Doubt
    keys.update(found)
    return columns


def _open_manifest(path: Path, table: Table) -> tuple[Any, Any, list[str]]:
    """(file handle, csv reader past the header, header) of a manifest whose header is right."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise MissingTable(path, table) from None
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader)
        _check_header(path, table, header)
    except StopIteration:
        handle.close()
        raise ManifestError(path, "file is empty (no header)") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        handle.close()
        raise ManifestError(path, f"unreadable header: {exc}", line=1) from None
    except BaseException:
        handle.close()
        raise
    return handle, reader, header


#: Set to ``0`` to read every manifest with Python's csv module only (to compare, or to rule pyarrow out).
ARROW_ENV = "MANIFESTS_ARROW_CSV"
_BOM = b"\xef\xbb\xbf"


def _arrow_cells(path: Path, header: list[str]) -> list[list[str]] | None:
    """Every cell after the header as text, one list per column (header order), parsed by pyarrow; or None.

    None whenever pyarrow's parse might differ from the ``csv`` module's, so that the ``csv``
    path decides (and names any problem) exactly as before: a carriage return or NUL byte
    anywhere, a blank line, a row that is not exactly one line, invalid UTF-8, a wrong cell
    count, anything pyarrow refuses. Lines holding a quote are parsed again by ``csv`` and
    must give the same cells; all other lines have no quoting, so both split them alike.
    """
    if os.environ.get(ARROW_ENV, "1") == "0":
        return None
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:  # pragma: no cover - a base dependency; the csv path still reads everything
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if b"\r" in data or b"\0" in data or b"\n\n" in data or not data.endswith(b"\n"):
        return None
    lines = data.count(b"\n")
    try:
        parsed = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in header},
                                                  null_values=[], strings_can_be_null=False,
                                                  quoted_strings_can_be_null=False))
        if parsed.column_names != header or parsed.num_rows != lines - 1:
            return None
        columns: list[list[str]] = [parsed.column(i).to_pylist() for i in range(parsed.num_columns)]
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if b'"' in data and not _same_as_csv(parsed, data, header, columns):
        return None
    return columns


def _same_as_csv(parsed: Any, data: bytes, header: list[str], columns: list[list[str]]) -> bool:
    """Whether the ``csv`` module reads every line of ``data`` (one row each) as the cells pyarrow found.

    Each row is written back the way ``render`` writes it (a cell holding a comma or a quote is
    quoted, quotes doubled) and compared with its line, all inside pyarrow; a line equal to that
    reads back as those very cells. Any other line (quoted needlessly, oddly, or wrongly) is read
    by ``csv`` itself and compared.
    """
    import pyarrow.compute as pc

    quote, comma, nothing = _arrow_strings(b'"', b",", b"")
    encoded = []
    for column in parsed.columns:
        needs = pc.or_(pc.match_substring(column, ","), pc.match_substring(column, '"'))
        if pc.any(needs).as_py():
            quoted = pc.binary_join_element_wise(quote, pc.replace_substring(column, '"', '""'), quote, nothing)
            column = pc.if_else(needs, quoted, column)
        encoded.append(column)
    written = pc.binary_join_element_wise(*encoded, comma)
    lines = pc.split_pattern(_arrow_strings(data), "\n").flatten()
    body = lines.slice(1, len(lines) - 2)  # the header and the empty text after the last newline left out
    suspects = [0] if '"' in lines[0].as_py() else []
    if len(written) and not pc.all(pc.equal(written, body)).as_py():
        differ = pc.indices_nonzero(pc.invert(pc.equal(written, body))).to_pylist()
        suspects += [i + 1 for i in differ]
    for i in suspects:
        try:
            cells = next(csv.reader([lines[i].as_py()], strict=True), [])
        except csv.Error:
            return False
        if cells != (header if i == 0 else [column[i - 1] for column in columns]):
            return False
    return True


def _arrow_strings(*items: bytes) -> Any:
    """A pyarrow string array of UTF-8 ``items``, made from their bytes.

    ``pa.array`` and ``pa.scalar`` (and a compute function given a Python string) first look
    whether they were handed a pandas object, and that look imports pandas: a third of a
    second in every process that reads a table with a quoted cell, for nothing.
    """
    import pyarrow as pa

    offsets = [0]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    buffers = [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(b"".join(items))]
    return pa.Array.from_buffers(pa.binary(), len(items), buffers).cast(pa.string())


def _blank_rows(columns: list[list[str]]) -> bool:
    """Whether any row has only empty cells (the exact path skips such a row; the fast path leaves it to it)."""
    candidates = [i for i, text in enumerate(columns[0]) if text == ""]
    return any(all(column[i] == "" for column in columns) for i in candidates)


def _blocks(path: Path, table: Table, genres: frozenset[str] | None) -> Iterator[list[list[Any]] | None]:
    """Decoded column blocks of a manifest; ``None`` (then nothing more) when the exact path must take over."""
    handle, reader, header = _open_manifest(path, table)
    keys: set[tuple[Any, ...]] = set()
    with handle:
        cells = _arrow_cells(path, header)
        if cells is not None:
            n_rows = len(cells[0]) if cells else 0
            for start in range(0, n_rows, CHUNK_ROWS):
                part = [column[start:start + CHUNK_ROWS] for column in cells]
                try:
                    if _blank_rows(part):
                        raise _Doubt
                    columns = _decode_columns(table, header, part, len(part[0]), genres, keys)
                except _Doubt:
                    yield None
                    return
                yield columns
            return
        while True:
            try:
                block = list(itertools.islice(reader, CHUNK_ROWS))
                if not block:
                    return
                columns = _decode_chunk(table, header, block, genres, keys)
            except (_Doubt, csv.Error, UnicodeDecodeError):
                yield None
                return
            yield columns


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (restored after success and failure alike).

    For work that makes hundreds of thousands of rows, keys and groups and no reference cycles:
    the collector runs after every few hundred new lists and dicts and then walks the ever larger
    heap of rows already made; on a table of 100,000 rows that costs as much as the reading itself.
    Reading a table, ``labeling split``, ``build`` and ``audit`` each run inside one.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def read_rows(path: Path | str, table: Table, *,
              known_genres: Iterable[str] | None = None) -> Iterator[Row]:
    """Yield validated rows of one manifest; raise ``ManifestError`` at the first bad cell.

    Rows are read a block at a time and checked column by column (fast). When anything in a
    block looks wrong (a malformed or blank line, a bad cell, a repeated key), the file is read
    again row by row and cell by cell from the start, past the rows already yielded: that path
    finds the first problem exactly as a plain loop would, with its line, row and column.
    """
    path = Path(path)
    genres = frozenset(known_genres) if known_genres is not None else None
    names = [col.name for col in table.columns]
    yielded = 0
    blocks = _blocks(path, table, genres)
    while True:
        with gc_paused():  # not while the caller has a row: only around the work of one block
            columns = next(blocks, ())
            if columns is None:
                break
            rows = [dict(zip(names, values, strict=False))  # equal lengths: made so above (strict costs)
                    for values in zip(*columns, strict=False)]
        if not rows:
            return
        yield from rows
        yielded += len(rows)
    yield from _exact_rows(path, table, genres, skip=yielded)


def read_columns(path: Path | str, table: Table, *,
                 known_genres: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """A whole manifest as one list of values per column (schema order): what a DataFrame is built from.

    The same checks, values and errors as :func:`read_rows`, without a dict per row.
    """
    path = Path(path)
    genres = frozenset(known_genres) if known_genres is not None else None
    names = [col.name for col in table.columns]
    out: dict[str, list[Any]] = {name: [] for name in names}
    with gc_paused():
        for columns in _blocks(path, table, genres):
            if columns is None:
                rows = list(_exact_rows(path, table, genres, skip=0))
                return {name: [row[name] for row in rows] for name in names}
            for name, values in zip(names, columns, strict=True):
                out[name].extend(values)
    return out


def _exact_rows(path: Path, table: Table, genres: frozenset[str] | None, *, skip: int) -> Iterator[Row]:
    """The exact path: row by row, cell by cell; raises at the first problem, naming it.

    The first ``skip`` rows (already yielded by the fast path) are checked again but not yielded.
    """
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except (csv.Error, UnicodeDecodeError, StopIteration) as exc:  # it read fine a moment ago
            raise ManifestError(path, f"unreadable header: {exc}", line=1) from None
        keys: dict[tuple[Any, ...], int] = {}
        row_no = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ManifestError(path, f"malformed CSV: {exc}", line=reader.line_num,
                                    row=row_no + 1) from None
            except UnicodeDecodeError as exc:
                raise ManifestError(path, f"not UTF-8 text: {exc.reason}", row=row_no + 1) from None
            row_no += 1
            line = reader.line_num
            if not cells or cells == [""] * len(cells):
                continue
            if len(cells) != len(header):
                raise ManifestError(path, f"{len(cells)} cells but the header has {len(header)}",
                                    line=line, row=row_no)
            raw = dict(zip(header, cells, strict=True))
            if table.versioned and raw[SCHEMA_COLUMN] != table.tag:
                found = raw[SCHEMA_COLUMN] or "nothing"
                raise ManifestError(path, f"written as {found}, this toolkit reads {table.tag}; "
                                          "rerun the stage that writes it", line=line, row=row_no,
                                    column=SCHEMA_COLUMN)
            row: Row = {}
            for col in table.columns:
                try:
                    row[col.name] = decode_cell(col, raw.get(col.name, ""), genres)
                except codec.CodecError as exc:
                    raise ManifestError(path, str(exc), line=line, row=row_no, column=col.name) from None
            key = tuple(row[k] for k in table.key)
            if key in keys:
                raise ManifestError(path, f"duplicate key {_key_text(table, key)} (first at row {keys[key]})",
                                    line=line, row=row_no, column=table.key[0])
            keys[key] = row_no
            if skip:
                skip -= 1
                continue
            yield row


def read_table(path: Path | str, table: Table, *, known_genres: Iterable[str] | None = None,
               missing_ok: bool = False) -> list[Row]:
    """Read and validate a whole manifest. ``missing_ok`` turns a missing file into no rows."""
    if missing_ok and not Path(path).exists():
        return []
    with gc_paused():
        return list(read_rows(path, table, known_genres=known_genres))


def _key_text(table: Table, key: tuple[Any, ...]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in zip(table.key, key, strict=True))


# ---------------------------------------------------------------- writing

def _sort_key(table: Table, row: Row) -> tuple[Any, ...]:
    order = table.sort_by or table.key
    return tuple((row.get(name) is None, str(row.get(name) or "")) for name in order)


def _sorted_rows(table: Table, rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """The rows as dicts (a ``dict`` as it is, only read), in file order: sorted by ``_sort_key``.

    When the table sorts on one column holding non-empty strings only (the track IDs of nearly
    every table), ordering on those strings is ordering on the key, without a key tuple per row.
    """
    dicts = [r if r.__class__ is dict else dict(r) for r in rows]
    order = table.sort_by or table.key
    if len(order) == 1:
        values = [row.get(order[0]) for row in dicts]
        if set(map(type, values)) <= {str} and "" not in values:  # every key (False, value)
            by_value = cast("Callable[[int], str]", values.__getitem__)
            return [dicts[i] for i in sorted(range(len(dicts)), key=by_value)]
    return sorted(dicts, key=lambda r: _sort_key(table, r))


def render(table: Table, rows: Iterable[Mapping[str, Any]], *, path: Path | str = "<memory>",
           known_genres: Iterable[str] | None = None) -> str:
    """Validate rows and render the CSV text (sorted by key, columns in schema order)."""
    genres = frozenset(known_genres) if known_genres is not None else None
    names = {c.name for c in table.columns}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header)
    seen: set[tuple[Any, ...]] = set()
    ordered = _sorted_rows(table, rows)
    try:
        writer.writerows(_encoded_rows(table, ordered, genres))
        return out.getvalue()
    except _Doubt:  # something is wrong or unusual: the exact path below names the row and column
        out.seek(0)
        out.truncate()
        writer.writerow(table.header)
    for index, row in enumerate(ordered, start=1):
        extra = set(row) - names - {SCHEMA_COLUMN}
        if extra:
            raise ManifestError(path, f"unknown column for table {table.tag}", row=index,
                                column=sorted(extra)[0])
        cells = []
        for col in table.columns:
            value = row.get(col.name)
            try:
                text = encode_cell(col, value)
                if text:  # re-decode: the written text must read back under the same rules
                    decode_cell(col, text, genres)
            except (codec.CodecError, TypeError, ValueError) as exc:
                raise ManifestError(path, str(exc), row=index, column=col.name) from None
            cells.append(text)
        key = tuple(row.get(k) for k in table.key)
        frozen = tuple(tuple(k) if isinstance(k, list) else k for k in key)
        if frozen in seen:
            raise ManifestError(path, f"duplicate key {_key_text(table, key)}", row=index,
                                column=table.key[0])
        seen.add(frozen)
        if table.versioned:
            cells.append(table.tag)
        if any("\r" in cell for cell in cells):
            out.write(_crlf_row(cells))
        else:
            writer.writerow(cells)
    return out.getvalue()


#: What ``codec`` escapes in a list item, and in a map key (always with the backslash itself).
_ITEM_SPECIALS = frozenset(";\\")
_KEY_SPECIALS = frozenset(";=\\")
_VALUE_SPECIALS = frozenset(";=,\\")


def _plain(text: Any, specials: frozenset[str]) -> bool:
    """A non-empty string with nothing to escape (``codec`` would write it as it is)."""
    return text.__class__ is str and text != "" and specials.isdisjoint(text)


def _encode_fast(col: Column, value: Any) -> str:
    """``encode_cell`` for the common list and map cells, without escaping character by character."""
    kind = col.kind
    if kind == "list" and value.__class__ is list and value and all(_plain(i, _ITEM_SPECIALS) for i in value):
        return "; ".join(value)
    if kind == "floatmap" and value.__class__ is dict and value and all(_plain(k, _KEY_SPECIALS) for k in value):
        return "; ".join(f"{k}={codec.format_float(float(v), col.decimals)}" for k, v in value.items())
    if kind == "listmap" and value.__class__ is dict and value and all(
            _plain(k, _KEY_SPECIALS) and v.__class__ is list and all(_plain(i, _VALUE_SPECIALS) for i in v)
            for k, v in value.items()):
        return "; ".join(f"{k}={','.join(v)}" for k, v in value.items())
    return encode_cell(col, value)


def _plain_lists(values: Sequence[Any]) -> list[str] | None:
    """A list column's cells when every value is a non-empty list of plain strings (else None).

    The same test and text as ``_encode_fast`` value by value, made on the whole column at once:
    one type check and one search for what would need escaping in all items joined.
    """
    if set(map(type, values)) != {list} or not all(values):
        return None
    items = list(itertools.chain.from_iterable(values))
    if set(map(type, items)) != {str} or not all(items):
        return None
    joined = "".join(items)
    if ";" in joined or "\\" in joined:
        return None
    return list(map("; ".join, values))


def _plain_floatmaps(values: Sequence[Any], decimals: int) -> list[str] | None:
    """A floatmap column's cells when every value is a non-empty map of plain keys to numbers (else None).

    Each distinct (key, weight) pair is formatted once: a column of genre weights repeats few pairs.
    Pairs that compare equal hold numbers of equal value, whose text is the same.
    """
    if set(map(type, values)) != {dict} or not all(values):
        return None
    if not all(_plain(k, _KEY_SPECIALS) for k in set(itertools.chain.from_iterable(values))):
        return None
    pairs = set(itertools.chain.from_iterable(map(dict.items, values)))
    if not {type(weight) for _, weight in pairs} <= {float, int}:
        return None
    texts = {(k, w): f"{k}={codec.format_float(float(w), decimals)}" for k, w in pairs}
    return ["; ".join(map(texts.__getitem__, value.items())) for value in values]


def _encode_column(col: Column, values: Sequence[Any]) -> Sequence[str]:
    """``encode_cell`` of every value; whole columns of the usual types are done at C speed."""
    kind = col.kind
    types = set(map(type, values))
    if kind == "str":
        if types <= {str} and "" not in values:
            return values
        return [v if v.__class__ is str and v else encode_cell(col, v) for v in values]
    if kind == "int" and types == {int}:  # not bool, not a subclass: the text is str(value)
        return list(map(str, values))
    if kind == "float" and types == {float}:  # a non-finite value raises here and is reported below
        texts = {value: codec.format_float(value, col.decimals) for value in set(values)}
        return list(map(texts.__getitem__, values))
    if kind == "list":
        plain = _plain_lists(values)
        if plain is not None:
            return plain
    if kind == "floatmap":
        plain = _plain_floatmaps(values, col.decimals)
        if plain is not None:
            return plain
    if kind in ("list", "floatmap", "listmap"):
        return [_encode_fast(col, v) for v in values]
    return [encode_cell(col, v) for v in values]


def _duplicate_keys(table: Table, ordered: list[Row]) -> bool:
    """Whether two rows share a key (a list in a key compares as the tuple of its items)."""
    if len(table.key) == 1:
        values = [row.get(table.key[0]) for row in ordered]
        if not any(issubclass(kind, list) for kind in set(map(type, values))):  # no list to make a tuple
            try:
                return len(set(values)) != len(values)
            except TypeError:  # something unhashable: the general form below raises as it always did
                pass
    keys = [tuple(tuple(k) if isinstance(k, list) else k for k in (row.get(name) for name in table.key))
            for row in ordered]
    return len(set(keys)) != len(keys)


def _encoded_rows(table: Table, ordered: list[Row], genres: frozenset[str] | None) -> list[tuple[str, ...]]:
    """The cells of every row, encoded and checked column by column; ``_Doubt`` on anything to report.

    Accepts exactly the rows the row-by-row path of :func:`render` accepts and encodes them the same way.
    """
    allowed = {c.name for c in table.columns} | {SCHEMA_COLUMN}
    if not allowed.issuperset(itertools.chain.from_iterable(ordered)):  # every key of every row
        raise _Doubt
    columns: list[Sequence[str]] = []
    try:
        for col in table.columns:
            texts = _encode_column(col, [row.get(col.name) for row in ordered])
            _fast_column(col, texts, genres)  # the written text must read back under the same rules
            if "\r" in "".join(texts):
                raise _Doubt
            columns.append(texts)
    except (codec.CodecError, TypeError, ValueError, KeyError):
        raise _Doubt from None
    if _duplicate_keys(table, ordered):
        raise _Doubt
    if table.versioned:
        columns.append([table.tag] * len(ordered))
    return list(zip(*columns, strict=True))


def _crlf_row(cells: list[str]) -> str:
    """One row whose cells hold a carriage return, quoted so that it reads back as written.

    Before Python 3.13 the csv writer quotes only the characters of its line terminator
    (here ``\\n``), so a lone ``\\r`` would be written bare and split the row on reading.
    A writer ending lines with ``\\r\\n`` quotes both; its own terminator is put back to ``\\n``.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2] + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path | str, text: str, *, encoding: str = "utf-8") -> None:
    """Write a text file so that readers see the old content or the new, never a mix."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write a file so that readers see the old content or the new, never a mix.

    When the file system refuses (read-only, full, permission), the old file is left as it
    was and a ``FileSystemFault`` names ``path`` (not the temporary file beside it).
    """
    path = Path(path)
    try:
        _replace_atomically(path, data)
    except Exception as exc:
        fault = file_system_fault(exc, path)
        if fault is None:
            raise
        raise fault from exc


def _replace_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        # mkstemp makes 0600 files; keep the old file's mode, else what the umask gives.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(path: Path | str) -> list[Path]:
    """Delete temporary files a killed writer of ``path`` left behind (the stage owns the file)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = sorted(path.parent.glob(f".{path.name}.tmp-*"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def write_table(path: Path | str, table: Table, rows: Iterable[Mapping[str, Any]], *,
                known_genres: Iterable[str] | None = None) -> int:
    """Validate, sort and atomically write a manifest. Returns the number of rows written.

    Nothing is written when any row is invalid, so a bad row never replaces a good file.
    """
    rows = list(rows)
    text = render(table, rows, path=path, known_genres=known_genres)
    atomic_write_text(path, text)
    return len(rows)


class TableStore:
    """The one resumable table writer: rows kept in memory by key, flushed atomically as they come.

    This is how every stage that writes row by row resumes: it opens the store
    (finished rows are read back, a killed writer's temp files swept), skips keys
    that are already done, ``put``\\ s each finished row, and ``finish``\\ es
    (or leaves the ``with`` block). The file is rewritten after ``flush_every``
    new rows or ``flush_seconds`` seconds, whichever comes first, so an
    interrupted run loses at most that much work and never corrupts the file.
    ``after_flush`` runs right after each write (e.g. to save a progress file
    that must never claim more than the table holds).
    """

    def __init__(self, path: Path | str, table: Table, *, flush_every: int = FLUSH_EVERY_ROWS,
                 flush_seconds: float | None = FLUSH_EVERY_SECONDS,
                 known_genres: Iterable[str] | None = None,
                 after_flush: Callable[[], None] | None = None) -> None:
        self.path = Path(path)
        self.table = table
        self.flush_every = max(1, flush_every)
        self.flush_seconds = flush_seconds
        self.known_genres = frozenset(known_genres) if known_genres is not None else None
        self.after_flush = after_flush
        self.rows: dict[tuple[Any, ...], Row] = {}
        remove_stale_temp_files(self.path)
        for row in read_table(self.path, table, known_genres=self.known_genres, missing_ok=True):
            self.rows[self.key_of(row)] = row
        self._dirty = 0
        self._batching = 0
        self._last_flush = time.monotonic()

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(k) for k in self.table.key)

    def __contains__(self, key: object) -> bool:
        return (key if isinstance(key, tuple) else (key,)) in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, key: tuple[Any, ...] | str) -> Row | None:
        return self.rows.get(key if isinstance(key, tuple) else (key,))

    def put(self, row: Mapping[str, Any]) -> None:
        """Insert or replace one row; writes the file when enough rows or time are pending."""
        self.rows[self.key_of(row)] = dict(row)
        self._dirty += 1
        self.maybe_flush()

    def remove(self, key: tuple[Any, ...] | str) -> None:
        if self.rows.pop(key if isinstance(key, tuple) else (key,), None) is not None:
            self._dirty += 1
            self.maybe_flush()

    @property
    def pending(self) -> int:
        """Changes not on disk yet."""
        return self._dirty

    def touch(self) -> None:
        """Count a change that wrote no row (a lookup that found nothing), so it is saved on schedule too.

        What depends on it (e.g. a progress file written by ``after_flush``) then reaches the disk
        as often as rows do.
        """
        self._dirty += 1
        self.maybe_flush()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Changes made inside are written together: never a file with only some of them.

        E.g. a track's old rows removed and its new ones added; the policy is applied on leaving.
        """
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
        if not self._batching:
            self.maybe_flush()

    def maybe_flush(self) -> bool:
        """Write if the row or time budget is spent (never inside ``batch``); True when it wrote."""
        if not self._dirty or self._batching:
            return False
        overdue = self.flush_seconds is not None and time.monotonic() - self._last_flush >= self.flush_seconds
        if self._dirty >= self.flush_every or overdue:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write every row now (atomically), then run ``after_flush``."""
        write_table(self.path, self.table, self.rows.values(), known_genres=self.known_genres)
        self._dirty = 0
        self._last_flush = time.monotonic()
        if self.after_flush is not None:
            self.after_flush()

    def finish(self) -> None:
        """The final write of a stage (also after errors and Ctrl-C: finished rows are kept)."""
        self.flush()

    def __enter__(self) -> TableStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
