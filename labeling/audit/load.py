"""Find, validate and join the manifests an audit looks at.

The audit is pointed at one manifest (a ``training.csv`` or any table in a
manifests folder) and uses every sibling table it finds beside it, so the same
command audits a full data folder or a training manifest someone handed over.
Every table found is validated first; one bad cell stops the audit with the
reader's one-line error, before anything is written.
"""

from __future__ import annotations

import csv
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

    @property
    def dropped(self) -> set[str]:
        out = {tid for tid in self.overrides.by_track if self.overrides.is_dropped(tid)}
        out |= {r["track_id"] for r in self.tables.get("labels", []) if r["status"] == "dropped"}
        return out

    def audio_file(self, stored: str) -> Path:
        return Layout(self.root).resolve(stored)


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


def _read(path: Path, table: Table, genres: frozenset[str], taxonomy: Taxonomy) -> list[Row]:
    try:
        return read_table(path, table, known_genres=genres)
    except ManifestError as exc:
        if "unknown genre" in exc.problem:
            raise ManifestError(exc.path, f"{exc.problem}; pass --taxonomy (or set GENRE_TAXONOMY) to the "
                                          f"taxonomy the labels were made with (this audit used "
                                          f"{taxonomy.source})", line=exc.line, row=exc.row,
                                column=exc.column) from None
        raise


#: Where a cell can start in CSV text (after a newline, a comma or an opening quote; or the very
#: start) followed by a formula trigger (``export.FORMULA_TRIGGERS``). A file without any is read no
#: further. One character class first lets the regex engine skip ahead fast (``^`` would not).
_MAYBE_FORMULA = re.compile(r'[\n,"][=+\-@\t\r]')
_TRIGGERS = "=+-@\t\r"


def _risky_cells(path: Path, table: Table) -> list[RiskyCell]:
    """Cells that start like a formula, read raw: this is what a spreadsheet would see."""
    text_columns = {c.name for c in table.columns if c.kind in TEXT_KINDS}
    out: list[RiskyCell] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
        if not (text[:1] and text[0] in _TRIGGERS) and not _MAYBE_FORMULA.search(text):
            return out  # no cell anywhere starts like a formula
        handle.seek(0)
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
               taxonomy_path: Path | str | None = None) -> AuditInput:
    """Validate the named manifest and its siblings, then join them per track."""
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

    tables: dict[str, list[Row]] = {}
    risky: list[RiskyCell] = []
    for name, path in paths.items():
        if name == "overrides":
            continue
        tables[name] = _read(path, TABLES[name], genres, taxonomy)
        risky += _risky_cells(path, TABLES[name])
        log.info("validated %s (%d rows)", path, len(tables[name]))
    overrides = Overrides.load(paths["overrides"], genres) if "overrides" in paths else Overrides()
    if "overrides" in paths:
        tables["overrides"] = read_table(paths["overrides"], TABLES["overrides"])
        risky += _risky_cells(paths["overrides"], TABLES["overrides"])
    data_in = AuditInput(primary=primary, folder=folder, root=root, tables=tables, paths=paths,
                         taxonomy=taxonomy, overrides=overrides, risky_cells=risky)
    data_in.view = join_view(tables)
    return data_in


def join_view(tables: Mapping[str, list[Row]]) -> dict[str, dict[str, Any]]:
    """track_id -> columns from every per-track table; downloads' status/reason become download_*."""
    view: dict[str, dict[str, Any]] = {}
    renamed = {"labels": {"status": "label_status", "reason": "label_reason"},
               "downloads": {"status": "download_status", "reason": "download_reason"}}
    for name in VIEW_ORDER:
        rename = renamed.get(name, {})
        for row in tables.get(name, []):
            tid = row["track_id"]
            entry = view.get(tid)
            if entry is None:
                entry = view[tid] = {"track_id": tid, "in_tables": []}
            entry["in_tables"].append(name)
            for column, value in row.items():
                column = rename.get(column, column)
                if value is None or (not value and isinstance(value, (list, dict))):  # empty: fills only a gap
                    entry.setdefault(column, value)
                else:
                    entry[column] = value
    return view
