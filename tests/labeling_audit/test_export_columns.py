"""flagged.csv's fast, column-at-a-time neutralisation gives what neutralising each cell gives."""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.audit.export import neutralize, render_spreadsheet_csv

_TEXT = st.text(alphabet=st.sampled_from(list("ab =+-@\t\r\n,\"'é")), max_size=6)
_CELL = st.one_of(_TEXT, st.none(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False))


def _one_by_one(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralize(h) for h in header])
    for row in rows:
        writer.writerow([neutralize("" if v is None else v if isinstance(v, str) else str(v)) for v in row])
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 4), data=st.data())
def test_the_same_text_as_neutralising_every_cell(width: int, data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=8))
    header = data.draw(st.lists(_TEXT, min_size=width, max_size=width))
    assert render_spreadsheet_csv(header, rows) == _one_by_one(header, rows)


@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=4), max_size=6))
def test_rows_of_different_lengths_too(rows: list[list[Any]]) -> None:
    assert render_spreadsheet_csv(["h"], rows) == _one_by_one(["h"], rows)


def test_a_newline_inside_a_cell_is_no_formula_but_a_leading_trigger_is() -> None:
    text = render_spreadsheet_csv(["a", "b"], [["x\n=y", "=z"], ["plain", "-1"]])
    cells = list(csv.reader(io.StringIO(text)))
    assert cells[1:] == [["x\n=y", "'=z"], ["plain", "'-1"]]


def test_a_large_table_is_written_whole_and_in_order() -> None:
    """More rows than one writerows call takes: every row once, in order, the late triggers neutralised too."""
    rows = [[f"t{i}", "=1" if i % 997 == 0 else f"song {i}", i] for i in range(5000)]
    text = render_spreadsheet_csv(["track_id", "title", "n"], rows)
    assert text == _one_by_one(["track_id", "title", "n"], rows)
    assert text.count("'=1") == len(range(0, 5000, 997))
