"""pyarrow reads manifests fast, and accepts, refuses and reports exactly what the ``csv`` module path does.

Every case is read twice, with the pyarrow path on and off (``MANIFESTS_ARROW_CSV=0``): the rows
or the one-line error must be the same, whatever odd quoting, line ending or byte a hand-edited
file holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from manifests import io as manifest_io
from manifests.io import ManifestError, read_columns, read_rows, read_table, render
from manifests.schema import TABLES

LABELS = TABLES["labels"]
GOOD = render(LABELS, [
    {"track_id": "t0000001", "genres": {"rock": 0.75, "pop": 0.25}, "top_genre": "rock",
     "sources": {"rock": ["musicbrainz", "playlist"], "pop": ["lastfm"]}, "n_sources": 3, "status": "ok"},
    {"track_id": "t0000002", "genres": {"jazz": 1.0}, "top_genre": "jazz", "sources": {"jazz": ["lastfm"]},
     "n_sources": 1, "unmapped": ["weird, \"stuff\""], "status": "ok"},
    {"track_id": "t0000003", "status": "unlabeled", "reason": "nothing known"},
])


def _outcome(path: Path, monkeypatch: pytest.MonkeyPatch, arrow: bool) -> tuple[str, Any]:
    monkeypatch.setenv(manifest_io.ARROW_ENV, "1" if arrow else "0")
    try:
        return "rows", (read_table(path, LABELS), read_columns(path, LABELS))
    except ManifestError as exc:
        return "error", str(exc)


def _variants() -> dict[str, bytes]:
    good = GOOD.encode()
    header, first, second, third, _ = good.split(b"\n")
    return {
        "canonical": good,
        "needless quotes": good.replace(b"t0000003,", b'"t0000003",'),
        "text after a closing quote": good.replace(b'"weird', b'"weird"x'),
        "quote inside a bare cell": good.replace(b"nothing known", b'nothing "known"'),
        "quoted newline": good.replace(b"nothing known", b'"nothing\nknown"'),
        "crlf line ends": good.replace(b"\n", b"\r\n"),
        "lone carriage return in a cell": good.replace(b"nothing known", b'"nothing\rknown"'),
        "byte order mark": b"\xef\xbb\xbf" + good,
        "blank line": b"\n".join([header, first, b"", second, third, b""]),
        "row of empty cells": b"\n".join([header, first, b"," * 8, second, third, b""]),
        "no final newline": good[:-1],
        "nul byte": good.replace(b"nothing known", b"nothing\0known"),
        "invalid utf-8": good.replace(b"nothing known", b"nothing \xff known"),
        "encoded surrogate": good.replace(b"nothing known", b"nothing \xed\xa0\x80 known"),
        "short row": good.replace(b",unlabeled,", b",unlabeled"),
        "long row": good.replace(b",unlabeled,", b",unlabeled,,"),
        "unterminated quote": good.replace(b"nothing known", b'"nothing known'),
        "quoted header": good.replace(b"track_id,", b'"track_id",', 1),
        "duplicate key": b"\n".join([header, first, first, b""]),
        "bad number": good.replace(b",3,", b",three,"),
        "header only": header + b"\n",
    }


@pytest.mark.parametrize("name", sorted(_variants()))
def test_pyarrow_and_csv_paths_agree_on_every_odd_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       name: str) -> None:
    path = tmp_path / "labels.csv"
    data = _variants()[name]
    assert (data == GOOD.encode()) == (name == "canonical")
    path.write_bytes(data)
    assert _outcome(path, monkeypatch, arrow=True) == _outcome(path, monkeypatch, arrow=False)


def test_a_canonical_file_is_read_by_pyarrow(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(GOOD, encoding="utf-8")
    header = GOOD.split("\n")[0].split(",")
    cells = manifest_io._arrow_cells(path, header)
    assert cells is not None and cells[0] == ["t0000001", "t0000002", "t0000003"]
    assert read_table(path, LABELS)[1]["unmapped"] == ['weird, "stuff"']


def test_the_garbage_collector_is_paused_only_inside_the_reader(tmp_path: Path) -> None:
    """Decoding runs without cyclic GC (faster), but a caller never gets control with it off, not even after an error."""
    import gc

    path = tmp_path / "labels.csv"
    path.write_text(GOOD, encoding="utf-8")
    rows = read_rows(path, LABELS)
    next(rows)
    assert gc.isenabled()  # the caller holds a row: its own code runs with the collector on
    assert len(list(rows)) == 2 and gc.isenabled()
    path.write_bytes(_variants()["bad number"])
    with pytest.raises(ManifestError):
        read_table(path, LABELS)
    assert gc.isenabled()
    gc.disable()  # a program that turned it off itself keeps it off
    try:
        with pytest.raises(ManifestError):
            read_columns(path, LABELS)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_reading_a_table_with_quoted_cells_does_not_import_pandas(tmp_path: Path) -> None:
    """pandas costs a third of a second to import, and the audit's two processes read tables only."""
    import subprocess
    import sys

    path = tmp_path / "labels.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert '"weird' in GOOD  # the path that checks quoting against the csv module runs
    code = ("import sys; from manifests.io import read_columns; from manifests.schema import TABLES; "
            f"columns = read_columns({str(path)!r}, TABLES['labels']); "
            "assert columns['unmapped'][1] == ['weird, \"stuff\"'], columns; print('pandas' in sys.modules)")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
