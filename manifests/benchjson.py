"""How every benchmark ends: its table on screen and its figures as JSON under ``DATA/bench/``.

One function, so every ``make bench-*`` target writes its file the same way (atomically, UTF-8,
indented) to the same place, and says where.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .io import atomic_write_text
from .layout import Layout

__all__ = ["publish"]


def publish(result: Any, table: str, *, data: str | Path | None, name: str, out: str | Path | None = None) -> Path:
    """Print ``table``, write ``result`` to ``out`` (default ``DATA/bench/NAME.json``); the path written."""
    path = Path(out) if out else Layout.at(data).root / "bench" / f"{name}.json"
    print(table)
    atomic_write_text(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {path}")
    return path
