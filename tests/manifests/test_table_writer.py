"""The one resumable table writer: flushes after N rows or T seconds, runs after_flush, keeps rows on errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests import TableStore, read_table
from manifests.schema import SPLITS as _SPLIT_NAMES
from manifests.schema import TABLES

SPLITS = TABLES["splits"]


def _row(i: int) -> dict[str, object]:
    return {"track_id": f"track-{i:03d}", "split": _SPLIT_NAMES[i % 3], "group": f"artist-{i}", "seed": 0}


def _on_disk(path: Path) -> list[str]:
    return [r["track_id"] for r in read_table(path, SPLITS, missing_ok=True)]


def test_flushes_after_n_rows_not_before(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    store = TableStore(path, SPLITS, flush_every=3, flush_seconds=None)
    store.put(_row(1))
    store.put(_row(2))
    assert not path.exists() and store.pending == 2
    store.put(_row(3))
    assert _on_disk(path) == ["track-001", "track-002", "track-003"] and store.pending == 0


def test_flushes_when_the_time_budget_is_spent(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    store = TableStore(path, SPLITS, flush_every=1000, flush_seconds=0.0)
    store.put(_row(1))
    assert _on_disk(path) == ["track-001"]


def test_after_flush_runs_right_after_each_write(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    seen: list[list[str]] = []
    store = TableStore(path, SPLITS, flush_every=2, flush_seconds=None, after_flush=lambda: seen.append(_on_disk(path)))
    for i in range(5):
        store.put(_row(i))
    store.finish()
    assert seen == [["track-000", "track-001"], ["track-000", "track-001", "track-002", "track-003"],
                    [f"track-00{i}" for i in range(5)]]


def test_a_rerun_continues_and_an_error_keeps_finished_rows(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    with pytest.raises(RuntimeError), TableStore(path, SPLITS, flush_every=100, flush_seconds=None) as store:
        store.put(_row(1))
        raise RuntimeError("stage crashed")
    assert _on_disk(path) == ["track-001"]
    again = TableStore(path, SPLITS)
    assert "track-001" in again and len(again) == 1


def test_stale_temp_files_of_a_killed_writer_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    stale = tmp_path / ".splits.csv.tmp-abc123"
    stale.write_text("half a file", encoding="utf-8")
    TableStore(path, SPLITS)
    assert not stale.exists()


def test_a_batch_is_written_whole_and_touch_counts_a_change_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "splits.csv"
    store = TableStore(path, SPLITS, flush_every=2, flush_seconds=None)
    store.put(_row(1))
    with store.batch():  # replacing a track's rows: never a file with the old one gone and the new one missing
        store.remove("track-001")
        assert not path.exists()
        store.put(_row(2))
        store.put(_row(3))
        assert not path.exists()
    assert _on_disk(path) == ["track-002", "track-003"]
    store.touch()
    assert store.pending == 1
    store.touch()  # a second row-less change reaches the row budget: written, like any change
    assert store.pending == 0
