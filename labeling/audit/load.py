"""Find, validate and join the manifests an audit looks at.

The audit is pointed at one manifest (a ``training.csv`` or any table in a
manifests folder) and uses every sibling table it finds beside it, so the same
command audits a full data folder or a training manifest someone handed over.
Every table found is validated first; one bad cell stops the audit with the
reader's one-line error, before anything is written.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.errors import UserError
from manifests.io import ManifestError, MissingTable, Row, read_table
from manifests.layout import Layout
from manifests.overrides import Overrides
from manifests.schema import SCHEMA_COLUMN, TABLES, Table

from ..taxonomy import Taxonomy, load_taxonomy
from .background import Background
from .export import is_formula_like

log = logging.getLogger(__name__)

#: Columns whose cells a spreadsheet shows as text (numbers and booleans cannot carry a formula).
TEXT_KINDS = ("str", "list", "floatmap", "listmap")
#: Order in which tables feed the joined per-track view; later tables win for shared columns.
VIEW_ORDER = ("tracks", "labels", "downloads", "splits", "training")


@dataclass(frozen=True)
class RiskyCell:
    """A manifest cell a spreadsheet would run as a formula."""

    table: str
    path: Path
    line: int
    column: str
    text: str
    track_id: str | None


@dataclass
class AuditInput:
    """Everything the checks read: validated tables, the joined view, overrides and taxonomy."""

    primary: tuple[str, Path]
    folder: Path
    root: Path
    tables: dict[str, list[Row]]
    paths: dict[str, Path]
    taxonomy: Taxonomy
    overrides: Overrides
    risky_cells: list[RiskyCell] = field(default_factory=list)
    #: track_id -> every known column of the track, joined over the tables
    view: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.tables

    @functools.cached_property
    def dropped(self) -> frozenset[str]:
        """Tracks dropped by an override or by the labels table (worked out once: every check asks)."""
        out = {tid for tid in self.overrides.by_track if self.overrides.is_dropped(tid)}
        out |= {r["track_id"] for r in self.tables.get("labels", []) if r["status"] == "dropped"}
        return frozenset(out)

    @functools.cached_property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        """Every known track that is not dropped (read only: the checks share it)."""
        dropped = self.dropped
        return {tid: e for tid, e in self.view.items() if tid not in dropped}


def detect_table(path: Path) -> Table:
    """Which table a CSV holds: its ``schema`` tag, else its file name (``overrides.csv``)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            first = next(reader, None)
    except FileNotFoundError:
        raise _missing(path) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: cannot read as a CSV manifest: {exc}") from None
    if SCHEMA_COLUMN in header and first and len(first) == len(header):
        tag = first[header.index(SCHEMA_COLUMN)]
        name = tag.split("@", 1)[0]
        if name in TABLES:
            return TABLES[name]
    if path.stem in TABLES:
        return TABLES[path.stem]
    raise UserError(f"{path}: cannot tell which table this is (no schema tag and the file name is not one "
                    f"of {', '.join(t + '.csv' for t in TABLES)})")


def _missing(path: Path) -> UserError:
    """A named manifest that does not exist: the reader's MissingTable line when the name is a table's."""
    if path.stem in TABLES:
        return MissingTable(path, TABLES[path.stem])
    return UserError(f"{path}: file not found")


def locate(manifest: Path | str | None, data: Path | str | None) -> tuple[Path | None, Path, Path]:
    """(primary file or None, manifests folder, data root) from the command-line arguments."""
    if manifest is None:
        layout = Layout.at(data)
        return None, layout.manifests, layout.root
    path = Path(manifest)
    if path.is_dir():
        folder = path / "manifests" if (path / "manifests").is_dir() else path
        primary = None
    elif path.exists():
        folder, primary = path.parent, path
    else:
        raise _missing(path)
    root = Path(data) if data is not None else folder.parent if folder.name == "manifests" else folder
    return primary, folder, root


def _read_job(path: str, name: str, genres: frozenset[str]) -> tuple[Any, ...]:
    """Read and validate one table, and find its risky cells: ``("ok", rows, risky)`` or the error as data.

    Runs in this process or in the audit's helper process; an error comes back as plain fields
    (a ``ManifestError`` cannot be unpickled) and :func:`_raise` rebuilds it.
    """
    table = TABLES[name]
    try:
        return "ok", read_table(Path(path), table, known_genres=genres), _risky_cells(Path(path), table)
    except MissingTable:
        return ("missing",)
    except ManifestError as exc:
        return "invalid", exc.problem, exc.line, exc.row, exc.column
    except UserError as exc:
        return "user", str(exc)


def _raise(path: Path, name: str, outcome: tuple[Any, ...], taxonomy: Taxonomy) -> None:
    """Raise the error :func:`_read_job` reported, as reading in this process would have."""
    kind = outcome[0]
    if kind == "missing":
        raise MissingTable(path, TABLES[name])
    if kind == "user":
        raise UserError(outcome[1])
    problem, line, row, column = outcome[1:]
    if "unknown genre" in problem:
        problem = (f"{problem}; pass --taxonomy (or set GENRE_TAXONOMY) to the taxonomy the labels were made "
                   f"with (this audit used {taxonomy.source})")
    raise ManifestError(path, problem, line=line, row=row, column=column)


#: Below this many bytes of tables a helper process costs more than it saves.
HELPER_MIN_BYTES = 4 << 20
#: What a row read in the helper costs this process, relative to reading it here (unpickling it).
HELPER_SHARE_COST = 1.35


def helper_share(sizes: Mapping[str, int]) -> set[str]:
    """The tables the helper reads: biggest first, each to whichever side is less loaded.

    The helper's side counts its bytes ``HELPER_SHARE_COST`` times, as its rows must still be
    pickled there and unpickled here; the two sides then finish at about the same time.
    """
    if sum(sizes.values()) < HELPER_MIN_BYTES:
        return set()
    here = away = 0.0
    share = set()
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        if away + sizes[name] * HELPER_SHARE_COST < here + sizes[name]:
            away += sizes[name] * HELPER_SHARE_COST
            share.add(name)
        else:
            here += sizes[name]
    return share


def read_tables(paths: Mapping[str, Path], genres: frozenset[str], taxonomy: Taxonomy,
                background: Background) -> tuple[dict[str, list[Row]], list[RiskyCell]]:
    """Every table of ``paths`` read and validated (some in the helper process), and their risky cells.

    The first invalid table in ``paths`` order is the one reported, wherever it was read.
    """
    names = list(paths)
    away = helper_share({n: paths[n].stat().st_size for n in names}) if background.enabled else set()
    pending = {n: background.submit(_read_job, str(paths[n]), n, genres, big=True) for n in names if n in away}
    outcomes: dict[str, tuple[Any, ...]] = {}
    for name in names:
        if name in away:
            continue
        outcomes[name] = _read_job(str(paths[name]), name, genres)
        if outcomes[name][0] != "ok":
            break  # a later table cannot be the first error
    for name, future in pending.items():
        outcomes[name] = future.result()  # unpickled now, once this process has read its own
    tables: dict[str, list[Row]] = {}
    risky: list[RiskyCell] = []
    for name in names:
        outcome = outcomes.get(name)
        if outcome is None:
            continue  # after a table that failed here
        if outcome[0] != "ok":
            _raise(paths[name], name, outcome, taxonomy)
        tables[name], cells = outcome[1], outcome[2]
        risky += cells
        log.info("validated %s (%d rows)", paths[name], len(tables[name]))
    return tables, risky


#: Where a cell can start in CSV text (after a newline, a comma or an opening quote; or the very
#: start) followed by a formula trigger (``export.FORMULA_TRIGGERS``). A file without any is read no
#: further. One character class first lets the regex engine skip ahead fast (``^`` would not). Bytes,
#: not text: every trigger and separator is ASCII, and UTF-8 never uses ASCII bytes inside a character.
_MAYBE_FORMULA = re.compile(rb'[\n,"][=+\-@\t\r]')
_TRIGGERS = b"=+-@\t\r"
_BOM = b"\xef\xbb\xbf"


def _risky_cells(path: Path, table: Table) -> list[RiskyCell]:
    """Cells that start like a formula, read raw: this is what a spreadsheet would see."""
    text_columns = {c.name for c in table.columns if c.kind in TEXT_KINDS}
    out: list[RiskyCell] = []
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not (data[:1] and data[0] in _TRIGGERS) and not _MAYBE_FORMULA.search(data):
        return out  # no cell anywhere starts like a formula
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for cells in reader:
            if len(cells) != len(header):
                continue
            raw = dict(zip(header, cells, strict=True))
            for name in header:
                if name in text_columns and is_formula_like(raw[name]):
                    out.append(RiskyCell(table.name, path, reader.line_num, name, raw[name], raw.get("track_id")))
    return out


def load_input(manifest: Path | str | None = None, *, data: Path | str | None = None,
               taxonomy_path: Path | str | None = None, background: Background | None = None) -> AuditInput:
    """Validate the named manifest and its siblings, then join them per track.

    With a ``background`` that may use a helper process, a large audit reads some tables there.
    """
    primary_path, folder, root = locate(manifest, data)
    taxonomy = load_taxonomy(taxonomy_path)
    genres = taxonomy.genres
    paths: dict[str, Path] = {}
    if primary_path is not None:
        primary_table = detect_table(primary_path)
        paths[primary_table.name] = primary_path
    layout = Layout(root)
    for name in TABLES:
        if name in paths:
            continue
        candidate = folder / f"{name}.csv"
        if name == "overrides":
            candidate = layout.overrides if folder.name == "manifests" else folder / "overrides.csv"
        if candidate.exists():
            paths[name] = candidate
    if not paths:  # nothing to audit yet: the first stage's table is the one missing
        raise MissingTable(folder / "tracks.csv", TABLES["tracks"])
    if primary_path is None:
        name = next(n for n in ("training", "labels", "tracks", *TABLES) if n in paths)
        primary = (name, paths[name])
    else:
        primary = (primary_table.name, primary_path)

    tables, risky = read_tables({n: p for n, p in paths.items() if n != "overrides"}, genres, taxonomy,
                                background or Background())
    overrides = Overrides.load(paths["overrides"], genres) if "overrides" in paths else Overrides()
    if "overrides" in paths:
        tables["overrides"] = read_table(paths["overrides"], TABLES["overrides"])
        risky += _risky_cells(paths["overrides"], TABLES["overrides"])
    data_in = AuditInput(primary=primary, folder=folder, root=root, tables=tables, paths=paths,
                         taxonomy=taxonomy, overrides=overrides, risky_cells=risky)
    data_in.view = join_view(tables)  # before anything asks for the catalogue
    return data_in


def join_view(tables: Mapping[str, list[Row]]) -> dict[str, dict[str, Any]]:
    """track_id -> columns from every per-track table; downloads' status/reason become download_*.

    A later table's value wins, except that an empty one (None, [] or {}) only fills a gap. Only
    a column some earlier table also has can meet a value already there; every other column is
    copied as it is, with one ``dict.update`` (a hundred thousand rows of five tables).
    """
    view: dict[str, dict[str, Any]] = {}
    renamed = {"labels": {"status": "label_status", "reason": "label_reason"},
               "downloads": {"status": "download_status", "reason": "download_reason"}}
    earlier: set[str] = {"track_id", "in_tables"}
    for name in VIEW_ORDER:
        rename = renamed.get(name)
        columns: set[str] = set()
        keys: Any = None  # the last row's column names, and their new names
        for row in tables.get(name, ()):
            tid = row["track_id"]
            if row.keys() != keys:  # once per table when every row has the same columns (as read)
                keys = row.keys()
                names = [rename.get(column, column) for column in keys] if rename else list(keys)
                columns.update(names)
            if rename:
                row = dict(zip(names, row.values(), strict=True))
            entry = view.get(tid)
            if entry is None:  # nothing to keep: every column as it is
                view[tid] = {"track_id": tid, "in_tables": [name], **row}
                continue
            entry["in_tables"].append(name)
            shared = earlier.intersection(row)
            if shared == {"track_id"}:  # the usual case: nothing this row could overwrite
                entry.update(row)
                continue
            for column, value in row.items():
                if column not in shared or value or (value is not None and not isinstance(value, (list, dict))):
                    entry[column] = value  # a value (0, False and "" are values too)
                else:
                    entry.setdefault(column, value)
        earlier |= columns
    return view
