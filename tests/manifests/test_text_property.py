"""Property: any Unicode text in any free-text column of any table survives a write and a read exactly.

Hypothesis generates the text (line breaks of every kind, quotes, commas, separators,
backslashes, control characters, NUL, BOMs, emoji); every other column holds a valid value.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifests import TABLES
from manifests.io import Row, read_table, render, write_table
from manifests.schema import Column, Table

from .test_roundtrip import _value

GENRES = {"rock", "hip hop"}
#: Characters a CSV writer or reader could get wrong, drawn far more often than chance would.
TRICKY = ["\r", "\n", "\r\n", '"', ",", ";", "=", "\\", " ", "\t", "\x00", "\x0b", "\x0c", "\x1c", "\x1e",
          "\x85", "\u2028", "\u2029", "\ufeff", "'", "=cmd", "é", "🎸"]
TEXT_CHAR = st.characters(codec="utf-8")  # every code point UTF-8 can carry (no lone surrogates)
TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), TEXT_CHAR), max_size=12).map("".join)


def free_text(table: Table) -> list[Column]:
    """Columns that take any string: no allowed values, no pattern, not a genre."""
    return [c for c in table.columns
            if c.kind == "str" and not c.allowed and c.regex is None and not c.genre and not c.path]


def _expected(value: str) -> str | None:
    return value or None  # an empty cell is "no value"


@st.composite
def table_rows(draw: st.DrawFn, table: Table) -> list[Row]:
    columns = free_text(table)
    texts = st.fixed_dictionaries({c.name: TEXT.filter(bool) if c.required else TEXT for c in columns})
    values = draw(st.lists(texts, min_size=1, max_size=3,
                           unique_by=lambda d: tuple(d.get(k, "") for k in table.key)))
    rows = []
    for i, text in enumerate(values):
        row: dict[str, Any] = {c.name: _value(c, i) for c in table.columns}
        row.update(text)
        rows.append(row)
    return rows


def _round_trip(table: Table, rows: list[Row]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{table.name}.csv"
        write_table(path, table, rows, known_genres=GENRES)
        text = path.read_bytes().decode("utf-8")
        assert text == render(table, rows, known_genres=GENRES)
        back = read_table(path, table, known_genres=GENRES)
        assert len(back) == len(rows)
        by_key = {tuple(r[k] for k in table.key): r for r in back}
        for row in rows:
            got = by_key[tuple(_expected(row[k]) if isinstance(row[k], str) else row[k] for k in table.key)]
            for col in free_text(table):
                assert got[col.name] == _expected(row[col.name]), (col.name, row[col.name], got[col.name])
        write_table(path, table, back, known_genres=GENRES)  # what was read writes the same bytes
        assert path.read_bytes().decode("utf-8") == text


@pytest.mark.parametrize("name", sorted(name for name, table in TABLES.items() if free_text(table)))
def test_free_text_round_trips_exactly(name: str) -> None:
    table = TABLES[name]

    @settings(max_examples=60, deadline=None)
    @given(table_rows(table))
    def check(rows: list[Row]) -> None:
        _round_trip(table, rows)

    check()


def test_tricky_text_examples_round_trip() -> None:
    """The characters above, each alone and all together, in every free-text column of tracks."""
    table = TABLES["tracks"]
    examples = [*TRICKY, "".join(TRICKY), "\r\r\n\n", '""', '"\n"', "\x00" * 3]
    for i, text in enumerate(examples):
        row = {c.name: _value(c, i) for c in table.columns}
        row.update({c.name: text for c in free_text(table)})
        _round_trip(table, [row])


@pytest.mark.parametrize("text", ["a\rb", "\r", "ends with CR\r"])
def test_lone_carriage_return_round_trips(text: str) -> None:
    table = TABLES["tracks"]
    row = {c.name: _value(c, 0) for c in table.columns}
    row["title"] = text
    _round_trip(table, [row])
