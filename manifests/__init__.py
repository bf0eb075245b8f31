"""The contract between stages: table schemas, validated reading, atomic writing.

This package imports nothing else from the project; every stage imports it.
"""

from .clock import utc_now_text
from .errors import UserError
from .frames import read_frame
from .hashing import sha256_file
from .io import (
    ManifestError,
    MissingTable,
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
    "TABLES", "Column", "Layout", "ManifestError", "MissingTable", "Row", "Table", "TableStore", "UserError",
    "atomic_write_bytes", "atomic_write_text", "read_frame", "read_rows", "read_table", "render",
    "sha256_file", "table", "utc_now_text", "write_table",
]
