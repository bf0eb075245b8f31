"""The audit's quick look for formula-like cells never misses one that reading every cell finds."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.audit.export import is_formula_like
from labeling.audit.load import _risky_cells
from manifests.schema import TABLES

TRACKS = TABLES["tracks"]
HEADER = [c.name for c in TRACKS.columns]
TEXT_COLUMNS = {c.name for c in TRACKS.columns if c.kind in ("str", "list")}
# separators, triggers, quotes, the quick look's own marker bytes (\x01 \x02) and a non-ASCII letter
_TEXT = st.text(alphabet=st.sampled_from(list("ab =+-@\t\r\n,\"'\x01\x02é;")), max_size=5)


def _every_cell(path: Path) -> set[tuple[int, str, str]]:
    """(line, column, text) of every formula-like text cell, reading each one."""
    found = set()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for cells in reader:
            for name, text in zip(header, cells, strict=True):
                if name in TEXT_COLUMNS and is_formula_like(text):
                    found.add((reader.line_num, name, text))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_TEXT, min_size=len(HEADER), max_size=len(HEADER)), max_size=5),
       bom=st.booleans())
def test_finds_what_reading_every_cell_finds(tmp_path: Path, rows: list[list[str]], bom: bool) -> None:
    path = tmp_path / "tracks.csv"
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    found = {(c.line, c.column, c.text) for c in _risky_cells(path, TRACKS)}
    assert found == _every_cell(path)


def test_a_clean_file_and_one_dangerous_cell(tmp_path: Path) -> None:
    path = tmp_path / "tracks.csv"
    clean = [HEADER, ["t1", "Song - Live", "A; B", "x", "2020-01-01", "1000", "", "", "", "", "", ""]]
    path.write_text("\r\n".join(",".join(row) for row in clean) + "\r\n", encoding="utf-8")
    assert _risky_cells(path, TRACKS) == []
    dangerous = [*clean, ["t2", '"=HYPERLINK(""x"")"', "A", "", "", "", "", "", "", "", "", ""]]
    path.write_text("\r\n".join(",".join(row) for row in dangerous) + "\r\n", encoding="utf-8")
    [cell] = _risky_cells(path, TRACKS)
    assert (cell.track_id, cell.column, cell.text, cell.line) == ("t2", "title", '=HYPERLINK("x")', 3)
