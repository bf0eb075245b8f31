"""build reads only the cells it uses (``read_used``) and gets what whole rows would give it.

Also: split and build pause the cyclic garbage collector while they run and leave it as they found it.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from labeling.build import USED_COLUMNS, build_rows, read_used, run_build
from labeling.splits import run_split
from labeling.taxonomy import load_taxonomy
from manifests.errors import UserError
from manifests.io import read_table, write_table
from manifests.layout import Layout
from manifests.overrides import Overrides
from manifests.schema import DOWNLOADS, LABELS, OVERRIDES, SPLITS_TABLE, TRACKS, Table
from tests.fixtures.corpus import download_row as download
from tests.fixtures.corpus import label_row as label
from tests.fixtures.corpus import track_row as track


class _Recording(dict[str, Any]):
    """A row that notes which of its cells are read."""

    read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        _Recording.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        _Recording.read.add(key)
        return super().get(key, default)


def _folder(tmp_path: Path) -> tuple[Layout, Overrides]:
    """Tables in which every exclusion reason and every optional cell occurs."""
    layout = Layout.at(tmp_path)
    ids = ["keep", "keep-amb", "amb-weak", "dropped", "dropped-now", "no-labels", "unlabeled", "no-dl", "no-match",
           "failed", "missing-audio", "no-split", "incomplete"]
    tracks = [track(i, isrc="QZA000000001" if i == "keep" else None) for i in ids]
    labels = [label(i, {"rock": 1.0}) for i in ids if i not in ("no-labels", "keep-amb", "amb-weak", "dropped",
                                                                 "unlabeled")]
    labels += [label("keep-amb", {"rock": 0.6, "metal": 0.55}, "ambiguous"),
               label("amb-weak", {"rock": 0.3, "jazz": 0.3}, "ambiguous", reason="close call"),
               label("dropped", {"rock": 1.0}, "dropped", reason="not music"),
               label("unlabeled", {}, "unlabeled"), label("orphan", {"rock": 1.0})]
    downloads = [download(layout, i) for i in ids if i not in ("no-dl", "no-match", "failed", "missing-audio",
                                                               "incomplete")]
    downloads += [download(layout, "no-match", "no_match"), download(layout, "failed", "failed"),
                  download(layout, "missing-audio", make_file=False), download(layout, "orphan"),
                  {"track_id": "incomplete", "status": "ok", "audio_path": "audio/incomplete.wav"}]
    splits = [{"track_id": i, "split": "test" if i == "keep-amb" else "train", "group": i, "seed": 7}
              for i in ids if i != "no-split"]
    tables: list[tuple[Table, list[dict[str, Any]]]] = [
        (TRACKS, tracks), (LABELS, labels), (DOWNLOADS, downloads), (SPLITS_TABLE, splits)]
    for table, rows in tables:
        write_table(layout.table_path(table), table, rows)
    write_table(layout.overrides, OVERRIDES, [{"track_id": "dropped-now", "action": "drop", "note": "dup"}])
    return layout, Overrides.load(layout.overrides)


def test_used_cells_give_what_whole_rows_give(tmp_path: Path) -> None:
    layout, overrides = _folder(tmp_path)
    genres = load_taxonomy().genres
    def exists(stored: str) -> bool:
        return layout.resolve(stored).is_file()

    def rows(read: Any, table: Table) -> list[dict[str, Any]]:
        return list(read(layout.table_path(table), table, known_genres=genres if table is LABELS else None))

    from_whole = build_rows(rows(read_table, TRACKS), rows(read_table, LABELS), rows(read_table, DOWNLOADS),
                            rows(read_table, SPLITS_TABLE), overrides, 0.5, exists)
    assert build_rows(rows(read_used, TRACKS), rows(read_used, LABELS), rows(read_used, DOWNLOADS),
                      rows(read_used, SPLITS_TABLE), overrides, 0.5, exists) == from_whole
    assert {reason for _, reason, _ in from_whole[1]} >= {"dropped", "no_labels", "unlabeled", "ambiguous",
                                                          "no_download", "audio_incomplete", "audio_missing",
                                                          "no_split"}


def test_build_reads_no_cell_outside_the_used_columns(tmp_path: Path) -> None:
    layout, overrides = _folder(tmp_path)
    for table in (TRACKS, LABELS, DOWNLOADS, SPLITS_TABLE):
        _Recording.read = set()
        tables = {t.name: read_table(layout.table_path(t), t) for t in (TRACKS, LABELS, DOWNLOADS, SPLITS_TABLE)}
        tables[table.name] = [_Recording(row) for row in tables[table.name]]
        build_rows(tables["tracks"], tables["labels"], tables["downloads"], tables["splits"], overrides, 0.5,
                   lambda p: layout.resolve(p).is_file())
        assert _Recording.read and _Recording.read <= set(USED_COLUMNS[table.name]), table.name


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_restored_after_success_and_failure(tmp_path: Path, enabled: bool) -> None:
    layout, _ = _folder(tmp_path)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        run_split(layout, fresh=True)
        run_build(layout, load_taxonomy())
        assert gc.isenabled() is enabled
        write_table(layout.table_path(LABELS), LABELS, [])
        with pytest.raises(UserError, match="no track can be split"):
            run_split(layout, fresh=True)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
