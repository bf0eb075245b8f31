"""The block reader (fast path) of large manifests reports problems exactly as the row-by-row path does.

Manifests of more than ``CHUNK_ROWS`` rows are read a block at a time; a problem in a later
block must still name its line, row and column, and every good row before it must be yielded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.frames import read_frame
from manifests.io import CHUNK_ROWS, ManifestError, read_columns, read_rows, read_table, write_table
from manifests.schema import TABLES

SPLITS = TABLES["splits"]
N = CHUNK_ROWS + 3000


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "splits.csv"
    write_table(path, SPLITS, [{"track_id": f"t{i:07d}", "split": ("train", "validation", "test")[i % 3],
                                "group": f"artist {i // 4}", "seed": 42} for i in range(N)])
    return path


def _edit(path: Path, row: int, column: int, value: str | None) -> None:
    """Set one cell of data row ``row`` (1-based), or drop it when ``value`` is None."""
    lines = path.read_text(encoding="utf-8").split("\n")
    cells = lines[row].split(",")
    if value is None:
        del cells[column]
    else:
        cells[column] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")


def test_a_large_table_reads_the_same_rows_as_columns_and_as_a_frame(tmp_path: Path) -> None:
    path = _write(tmp_path)
    rows = read_table(path, SPLITS)
    assert len(rows) == N and rows[-1] == {"track_id": f"t{N - 1:07d}", "split": ("train", "validation", "test")[
        (N - 1) % 3], "group": f"artist {(N - 1) // 4}", "seed": 42}
    columns = read_columns(path, SPLITS)
    assert columns["track_id"] == [r["track_id"] for r in rows] and columns["seed"] == [42] * N
    assert read_frame("splits", path=path)["split"].tolist() == [r["split"] for r in rows]


def test_a_bad_cell_in_a_later_block_names_its_row_and_the_rows_before_it_are_yielded(tmp_path: Path) -> None:
    path = _write(tmp_path)
    bad = CHUNK_ROWS + 1000  # data row number (1-based); file line bad + 1
    _edit(path, bad, 1, "training")
    yielded = []
    with pytest.raises(ManifestError) as caught:
        for row in read_rows(path, SPLITS):
            yielded.append(row["track_id"])
    assert str(caught.value) == (f"{path}:{bad + 1}, row {bad}, column 'split': 'training' is not one of "
                                 "train, validation, test")
    assert len(yielded) == bad - 1 and len(set(yielded)) == bad - 1
    with pytest.raises(ManifestError, match=f"row {bad}, column 'split'"):
        read_columns(path, SPLITS)


def test_a_key_repeated_across_blocks_names_both_rows(tmp_path: Path) -> None:
    path = _write(tmp_path)
    dup = CHUNK_ROWS + 5
    _edit(path, dup, 0, "t0000010")
    with pytest.raises(ManifestError) as caught:
        read_table(path, SPLITS)
    assert str(caught.value) == (f"{path}:{dup + 1}, row {dup}, column 'track_id': duplicate key "
                                 "track_id='t0000010' (first at row 11)")


def test_blank_lines_and_a_short_row_after_the_first_block(tmp_path: Path) -> None:
    path = _write(tmp_path)
    lines = path.read_text(encoding="utf-8").split("\n")
    lines.insert(CHUNK_ROWS + 10, "")  # a blank line is skipped but counted as a row
    path.write_text("\n".join(lines), encoding="utf-8")
    assert len(read_table(path, SPLITS)) == N
    _edit(path, CHUNK_ROWS + 20, 3, None)
    with pytest.raises(ManifestError, match=rf":{CHUNK_ROWS + 21}, row {CHUNK_ROWS + 20}: 4 cells but the header has 5"):
        read_table(path, SPLITS)
