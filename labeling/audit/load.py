"""Find, validate and join the manifests an audit looks at.

The audit is pointed at one manifest (a ``training.csv`` or any table in a
manifests folder) and uses every sibling table it finds beside it, so the same
command audits a full data folder or a training manifest someone handed over.
Every table found is validated first; one bad cell stops the audit with the
reader's one-line error, before anything is written.

Tables are held as columns (one list of values per column, as ``read_columns`` gives
them), never as a dict per row: at 100,000 tracks the row dicts cost more than the checks
that read them, and columns cross from the helper process at a fraction of the cost.
"""

from __future__ import annotations

import csv
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.errors import UserError
from manifests.io import ManifestError, MissingTable, read_columns
from manifests.layout import Layout
from manifests.overrides import Overrides
from manifests.schema import SCHEMA_COLUMN, TABLES, Table

from ..taxonomy import Taxonomy, load_taxonomy
from .background import Background
from .export import FORMULA_TRIGGERS, is_formula_like

log = logging.getLogger(__name__)

#: Columns whose cells a spreadsheet shows as text (numbers and booleans cannot carry a formula).
TEXT_KINDS = ("str", "list", "floatmap", "listmap")
#: Order in which tables feed the joined per-track view; later tables win for shared columns.
VIEW_ORDER = ("tracks", "labels", "downloads", "splits", "training")

#: The columns of the joined view that the checks, the report and flagged.csv read (after the
#: ``download_``/``label_`` renames); every other column is validated but not joined, which saves a
#: third of the join. ``tests/labeling_audit/test_view_columns.py`` fails when the audit's code
#: names a view column missing here.
VIEW_COLUMNS = frozenset({
    "album", "artists", "audio_duration_s", "audio_path", "download_reason", "download_status", "duration_ms",
    "genres", "isrc", "label_reason", "label_status", "match_score", "origin", "release_date", "retryable",
    "runner_up_id", "runner_up_score", "sha256", "sources", "split", "title", "top_genre", "unmapped",
    "youtube_id"})

#: A table as read: column name -> its values, one per row, in file order.
Columns = dict[str, list[Any]]


def row_count(columns: Mapping[str, list[Any]]) -> int:
    """How many rows a table held as columns has."""
    return len(next(iter(columns.values()), ()))


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
    #: table name -> its columns (schema order)
    tables: dict[str, Columns]
    paths: dict[str, Path]
    taxonomy: Taxonomy
    overrides: Overrides
    risky_cells: list[RiskyCell] = field(default_factory=list)
    #: track_id -> every known column of the track, joined over the tables
    view: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: tables read, validated and kept by the helper process (their checks run there): name -> rows
    kept: dict[str, int] = field(default_factory=dict)
    #: what checks work out once from the tables and share (``checks.claim_facts_of``)
    derived: dict[str, Any] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.tables or table in self.kept

    def row_count(self, table: str) -> int:
        return self.kept[table] if table in self.kept else row_count(self.tables.get(table, {}))

    def columns(self, table: str, *names: str) -> list[list[Any]]:
        """The named columns of a table, to ``zip`` row by row; a column it lacks reads as all None.

        A table the audit did not find has no rows: every column is then empty. A table the
        helper process kept is not here at all (asking for it is a mistake, not an empty table).
        """
        if table in self.kept:
            raise RuntimeError(f"the {table} table is held by the audit's helper process")
        held = self.tables.get(table, {})
        n = row_count(held)
        return [held[name] if name in held else [None] * n for name in names]

    @functools.cached_property
    def dropped(self) -> frozenset[str]:
        """Tracks dropped by an override or by the labels table (worked out once: every check asks)."""
        out = {tid for tid in self.overrides.by_track if self.overrides.is_dropped(tid)}
        out |= {tid for tid, status in zip(*self.columns("labels", "track_id", "status"), strict=True)
                if status == "dropped"}
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


#: Tables the helper process keeps when it reads them: their checks run there (``kept_table``).
KEPT_BY_HELPER = frozenset({"claims"})
#: In the helper process: path -> the columns of a table it read and keeps for a later job.
_KEPT: dict[str, Columns] = {}


def kept_table(path: str) -> Columns:
    """In the helper process: the table read from ``path`` and kept there, handed over once."""
    return _KEPT.pop(path)


def _read_job(path: str, name: str, genres: frozenset[str], keep: bool = False, scan: bool = True
              ) -> tuple[Any, ...]:
    """Read and validate one table, and find its risky cells: ``("ok", columns, risky, rows)`` or the error as data.

    Runs in this process or in the audit's helper process; an error comes back as plain fields
    (a ``ManifestError`` cannot be unpickled) and :func:`_raise` rebuilds it. With ``keep`` (in
    the helper) the columns stay there for :func:`kept_table`, and None comes back instead.
    Without ``scan`` the risky cells are left to :func:`_scan_job` (an empty list comes back).
    """
    table = TABLES[name]
    try:
        columns = read_columns(Path(path), table, known_genres=genres)
        risky = _risky_cells(Path(path), table) if scan else []
        if keep:
            _KEPT[path] = columns
            return "ok", None, risky, row_count(columns)
        return "ok", columns, risky, row_count(columns)
    except MissingTable:
        return ("missing",)
    except ManifestError as exc:
        return "invalid", exc.problem, exc.line, exc.row, exc.column
    except UserError as exc:
        return "user", str(exc)


def _scan_job(paths: list[tuple[str, str]]) -> dict[str, list[RiskyCell]]:
    """In the helper process: the risky cells of the tables this process reads, (name, path) each.

    A scan of their bytes, done there after its own reads while this process still reads and joins.
    """
    return {name: _risky_cells(Path(path), TABLES[name]) for name, path in paths}


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
#: What a table read in the helper costs this process, relative to reading it here (unpickling its columns).
HELPER_SHARE_COST = 1.35
#: The helper's late start (spawning it and its imports), as the bytes of table this process reads meanwhile.
HELPER_START_BYTES = 12 << 20


def helper_share(sizes: Mapping[str, int]) -> set[str]:
    """The tables the helper reads: those this process needs last, as many as keep the two sides even.

    Tables outside the joined view (claims, playlists) come first, then the view's tables from
    the last joined on: this process joins its own tables while the helper still reads. The
    helper's side counts its bytes ``HELPER_SHARE_COST`` times, as its columns must still be
    pickled there and unpickled here, and starts ``HELPER_START_BYTES`` behind.
    """
    total = sum(sizes.values())
    if total < HELPER_MIN_BYTES:
        return set()
    order = sorted(sizes, key=lambda n: (n in VIEW_ORDER, -VIEW_ORDER.index(n) if n in VIEW_ORDER else 0, n))
    best: set[str] = set()
    best_finish = float(total)  # everything read here
    moved = 0
    for k, name in enumerate(order, 1):
        moved += sizes[name]
        finish = max(HELPER_START_BYTES + moved * HELPER_SHARE_COST, total - moved)
        if finish < best_finish:
            best, best_finish = set(order[:k]), finish
    return best


#: Work for the helper process once it has read its tables: called there with the paths of the
#: tables it keeps (name -> path) and the taxonomy (see :func:`read_tables`).
IdleJob = Callable[[dict[str, str], Taxonomy], object]


def read_tables(paths: Mapping[str, Path], genres: frozenset[str], taxonomy: Taxonomy, background: Background,
                view: ViewJoin | None = None, idle: IdleJob | None = None
                ) -> tuple[dict[str, Columns], dict[str, int], list[RiskyCell]]:
    """Every table of ``paths`` read and validated (some in the helper process), and their risky cells.

    Returns the tables here, the row counts of those the helper keeps (``KEPT_BY_HELPER``), and
    the risky cells. The first invalid table in ``paths`` order is the one reported, wherever it
    was read. Tables are offered to ``view`` as they arrive: this process joins its own while the
    helper reads. ``idle`` runs in the helper after its reads, when it reads any (it would
    otherwise wait for this process to finish reading and joining).
    """
    names = list(paths)
    away = helper_share({n: paths[n].stat().st_size for n in names}) if background.enabled else set()
    # the view's tables first, in the order they are joined here; the tables the helper keeps last
    sent = sorted(away, key=lambda n: (n in KEPT_BY_HELPER, VIEW_ORDER.index(n) if n in VIEW_ORDER else 0, n))
    pending = {n: background.submit(_read_job, str(paths[n]), n, genres, n in KEPT_BY_HELPER, big=True)
               for n in sent}
    here = [n for n in names if n not in away]
    scan = background.submit(_scan_job, [(n, str(paths[n])) for n in here], big=True) if pending else None
    if pending and idle is not None:
        background.submit(idle, {n: str(paths[n]) for n in sent if n in KEPT_BY_HELPER}, taxonomy, big=True)
    outcomes: dict[str, tuple[Any, ...]] = {}
    for name in here:
        outcomes[name] = _read_job(str(paths[name]), name, genres, scan=scan is None)
        if outcomes[name][0] != "ok":
            break  # a later table cannot be the first error
    if view is not None and all(outcome[0] == "ok" for outcome in outcomes.values()):
        for name, outcome in outcomes.items():
            view.offer(name, outcome[1])
    for name, future in pending.items():
        outcomes[name] = future.result()  # unpickled now, once this process has read its own
        if view is not None and outcomes[name][0] == "ok" and outcomes[name][1] is not None:
            view.offer(name, outcomes[name][1])
    for name in names:
        if name in outcomes and outcomes[name][0] != "ok":
            _raise(paths[name], name, outcomes[name], taxonomy)
    scanned = scan.result() if scan is not None else {}
    tables: dict[str, Columns] = {}
    kept: dict[str, int] = {}
    risky: list[RiskyCell] = []
    for name in names:
        _, columns, cells, rows = outcomes[name]
        cells = scanned.get(name, cells)
        if columns is None:
            kept[name] = rows
        else:
            tables[name] = columns
        risky += cells
        log.info("validated %s (%d rows)%s", paths[name], rows, " (kept by the helper)" if columns is None else "")
    return tables, kept, risky


_TRIGGERS = "".join(FORMULA_TRIGGERS).encode("ascii")
_BOM = b"\xef\xbb\xbf"


def _cell_start_map() -> bytes:
    """A ``bytes.translate`` table: where a cell can start (newline, comma, opening quote) -> 1, a trigger -> 2."""
    table = bytearray(range(256))
    table[1] = table[2] = 0  # the markers themselves must not occur in the text
    for byte in b'\n,"':
        table[byte] = 1
    for byte in _TRIGGERS:
        table[byte] = 2
    return bytes(table)


#: A cell starting like a formula (``export.FORMULA_TRIGGERS``) shows as the pair ``1 2`` once a
#: file's bytes go through this table: one translate and one substring search, three times as fast
#: as a regex over 100 MB of tables. A file without the pair is read no further. Bytes, not text:
#: every trigger and separator is ASCII, and UTF-8 never uses ASCII bytes inside a character.
_CELL_STARTS = _cell_start_map()


def _risky_cells(path: Path, table: Table) -> list[RiskyCell]:
    """Cells that start like a formula, read raw: this is what a spreadsheet would see."""
    text_columns = {c.name for c in table.columns if c.kind in TEXT_KINDS}
    out: list[RiskyCell] = []
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not (data[:1] and data[0] in _TRIGGERS) and b"\x01\x02" not in data.translate(_CELL_STARTS):
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
               taxonomy_path: Path | str | None = None, background: Background | None = None,
               idle: IdleJob | None = None) -> AuditInput:
    """Validate the named manifest and its siblings, then join them per track.

    With a ``background`` that may use a helper process, a large audit reads some tables there,
    and then runs ``idle`` there (:data:`IdleJob`) while this process still reads.
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

    view = ViewJoin(paths)
    tables, kept, risky = read_tables({n: p for n, p in paths.items() if n != "overrides"}, genres, taxonomy,
                                background or Background(), view, idle)
    overrides = Overrides.load(paths["overrides"], genres) if "overrides" in paths else Overrides()
    if "overrides" in paths:
        tables["overrides"] = read_columns(paths["overrides"], TABLES["overrides"])
        risky += _risky_cells(paths["overrides"], TABLES["overrides"])
    data_in = AuditInput(primary=primary, folder=folder, root=root, tables=tables, paths=paths,
                         taxonomy=taxonomy, overrides=overrides, risky_cells=risky, kept=kept)
    data_in.view = view.result()  # before anything asks for the catalogue
    return data_in


class ViewJoin:
    """The joined per-track view, built table by table in ``VIEW_ORDER`` as the tables arrive.

    track_id -> columns from every per-track table; downloads' status/reason become download_*.
    A later table's value wins, except that an empty one (None, [] or {}) only fills a gap. Only
    a column some earlier table also has can meet a value already there; every other column is
    copied as it is. Only ``VIEW_COLUMNS`` are joined. The work goes column by column: a table's
    rows find their entries once, then every column is poured into them (a hundred thousand rows
    of five tables).
    """

    RENAMED = {"labels": {"status": "label_status", "reason": "label_reason"},
               "downloads": {"status": "download_status", "reason": "download_reason"}}

    def __init__(self, tables: Iterable[str]) -> None:
        present = set(tables)
        self.view: dict[str, dict[str, Any]] = {}
        self._waiting = [name for name in VIEW_ORDER if name in present]
        self._held: dict[str, Mapping[str, list[Any]]] = {}
        self._earlier: set[str] = {"track_id", "in_tables"}

    def offer(self, name: str, columns: Mapping[str, list[Any]]) -> None:
        """A table read and validated: joined now if every table before it is, else when they are."""
        if name not in self._waiting:
            return  # not part of the view (claims, playlists, overrides)
        self._held[name] = columns
        while self._waiting and self._waiting[0] in self._held:
            first = self._waiting.pop(0)
            self._join(first, self._held.pop(first))

    def result(self) -> dict[str, dict[str, Any]]:
        if self._waiting:
            raise RuntimeError(f"the view still waits for {', '.join(self._waiting)}")
        return self.view

    def _join(self, name: str, columns: Mapping[str, list[Any]]) -> None:
        view, earlier = self.view, self._earlier
        rename = self.RENAMED.get(name, {})
        entries = []
        known = view.get
        for tid in columns.get("track_id", ()):
            entry = known(tid)
            if entry is None:
                entry = view[tid] = {"track_id": tid, "in_tables": [name]}
            else:
                entry["in_tables"].append(name)
            entries.append(entry)
        for column, values in columns.items():
            column = rename.get(column, column)
            if column not in VIEW_COLUMNS:
                continue  # track_id is there already; the rest nothing reads
            if column not in earlier:  # nothing to keep: every value as it is
                for entry, value in zip(entries, values, strict=True):
                    entry[column] = value
                continue
            for entry, value in zip(entries, values, strict=True):
                if value or (value is not None and not isinstance(value, (list, dict))):
                    entry[column] = value  # a value (0, False and "" are values too)
                else:
                    entry.setdefault(column, value)
        earlier.update(rename.get(column, column) for column in columns)


def join_view(tables: Mapping[str, Mapping[str, list[Any]]]) -> dict[str, dict[str, Any]]:
    """:class:`ViewJoin` of tables all read already."""
    view = ViewJoin(tables)
    for name, columns in tables.items():
        view.offer(name, columns)
    return view.result()
