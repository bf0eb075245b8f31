"""The contract between stages: table schemas, validated reading, atomic writing.

This package imports nothing else from the project; every stage imports it.
"""

from .io import (
    ManifestError,
    Row,
    TableStore,
    atomic_write_bytes,
    atomic_write_text,
    read_rows,
    read_table,
    render,
    write_table,
)
from .layout import Layout
from .schema import TABLES, Column, Table, table

__all__ = [
    "TABLES", "Column", "Layout", "ManifestError", "Row", "Table", "TableStore", "atomic_write_bytes",
    "atomic_write_text", "read_rows", "read_table", "render", "table", "write_table",
]
