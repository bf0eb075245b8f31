"""Manifests as pandas DataFrames, for people auditing a collection in a notebook.

``read_frame("labels", "data")`` reads through the same validation as every stage
(a bad cell is one ``ManifestError`` naming file, row and column), then gives
each column a useful dtype: text as ``string``, counts as nullable ``Int64``,
flags as ``boolean``, timestamps and dates parsed, list cells as Python lists,
and weighted-genre cells split into the genres (a list, strongest first) and
their weights (a ``{genre: float}`` dict in a ``<column>_weights`` column).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import read_columns
from .layout import Layout
from .schema import DATE_PATTERN, TABLES, TIMESTAMP_PATTERN, Table

if TYPE_CHECKING:
    import pandas as pd

_DTYPES = {"str": "string", "int": "Int64", "float": "float64", "bool": "boolean"}


def _strongest_first(weights: dict[str, float]) -> list[str]:
    return sorted(weights, key=lambda genre: (-weights[genre], genre))


def frame_from_rows(table: Table, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as ``read_table`` returns them, as a typed DataFrame (columns in schema order)."""
    return frame_from_columns(table, {col.name: [row.get(col.name) for row in rows] for col in table.columns},
                              len(rows))


def frame_from_columns(table: Table, columns: dict[str, list[Any]], n_rows: int) -> pd.DataFrame:
    """Values as ``read_columns`` returns them (one list per column), as a typed DataFrame."""
    import pandas as pd

    data: dict[str, Any] = {}
    for col in table.columns:
        values = columns.get(col.name) or [None] * n_rows
        if col.kind == "floatmap":
            maps = [dict(v or {}) for v in values]
            data[col.name] = pd.Series([_strongest_first(m) for m in maps], dtype=object)
            data[f"{col.name}_weights"] = pd.Series(
                [{g: float(w) for g, w in m.items()} for m in maps], dtype=object)
        elif col.kind in ("list", "listmap"):
            data[col.name] = pd.Series([v if v is not None else ([] if col.kind == "list" else {})
                                        for v in values], dtype=object)
        elif col.pattern in (TIMESTAMP_PATTERN, DATE_PATTERN):
            data[col.name] = pd.to_datetime(pd.Series(values, dtype="string"), utc=True, format="ISO8601",
                                            errors="coerce")
        else:
            data[col.name] = pd.Series(values, dtype=_DTYPES[col.kind])
    return pd.DataFrame(data, index=pd.RangeIndex(n_rows))


def read_frame(name: str, data_dir: Path | str | None = None, *, path: Path | str | None = None) -> pd.DataFrame:
    """The table ``name`` of a data folder (or the file at ``path``) as a typed DataFrame.

    A missing table raises ``MissingTable`` naming the command that writes it.
    """
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
    table = TABLES[name]
    source = Path(path) if path is not None else Layout.at(data_dir).table_path(table)
    columns = read_columns(source, table)
    return frame_from_columns(table, columns, len(columns[table.columns[0].name]))
