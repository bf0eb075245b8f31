"""``python -m manifests merge``: shard folders back into one data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from manifests.cli import main
from manifests.hashing import sha256_file
from manifests.io import read_table, write_table
from manifests.layout import Layout
from manifests.schema import TABLES
from manifests.shard import Shard
from tests.fixtures.corpus import write_wav


def _tables(layout: Layout) -> dict[str, list[dict[str, object]]]:
    out = {}
    for name, table in TABLES.items():
        rows = read_table(layout.table_path(name), table, missing_ok=True)
        out[name] = sorted(rows, key=lambda r: tuple(str(r[k]) for k in table.key))
    return out


def _shards(whole: Layout, root: Path, count: int = 2) -> list[Layout]:
    """Cut a data folder into ``count`` shard folders the way --shard K/N runs would leave them."""
    shards = []
    for index in range(1, count + 1):
        shard, part = Shard(index, count), Layout.at(root / f"shard{index}")
        for name, rows in _tables(whole).items():
            if "track_id" in TABLES[name].key:
                rows = [r for r in rows if shard.owns(str(r["track_id"]))]
            if rows:
                write_table(part.table_path(name), TABLES[name], rows)
        for row in read_table(part.table_path("downloads"), TABLES["downloads"], missing_ok=True):
            if row.get("audio_path"):
                (part.root / row["audio_path"]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(whole.root / row["audio_path"], part.root / row["audio_path"])
        shards.append(part)
    return shards


@pytest.fixture
def whole(tiny_data: Layout) -> Layout:
    """The tiny folder with distinct audio per track (so every file has its own hash)."""
    import numpy as np

    rows = read_table(tiny_data.table_path("downloads"), TABLES["downloads"])
    for index, row in enumerate(rows):
        path = tiny_data.root / row["audio_path"]
        write_wav(path, np.full(800, (index + 1) / 100, dtype=np.float32))
        row["sha256"] = sha256_file(path)
    write_table(tiny_data.table_path("downloads"), TABLES["downloads"], rows)
    return tiny_data


def test_two_shards_merge_to_the_unsharded_tables_and_audio(whole: Layout, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    shards = _shards(whole, tmp_path)
    assert all(_tables(s)["tracks"] for s in shards), "both shards hold some tracks"
    out = Layout.at(tmp_path / "merged")
    assert main(["merge", *(str(s.root) for s in shards), "--data", str(out.root)]) == 0
    assert _tables(out) == _tables(whole)
    for row in _tables(whole)["downloads"]:
        assert sha256_file(out.root / str(row["audio_path"])) == row["sha256"]
    assert "audio into" in capsys.readouterr().out
    assert not list(out.root.rglob(".*.tmp-*"))


def test_embedding_caches_of_the_shards_are_merged(whole: Layout, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """training embed --shard K/N fills each machine's cache; the merged folder has them all."""
    shards = _shards(whole, tmp_path)
    key = "musicnn-MSD-penultimate-mean-o50-all"
    names = []
    for index, shard in enumerate(shards):
        folder = shard.cache / "embeddings" / key
        folder.mkdir(parents=True)
        name = f"{index:064x}.npy"
        (folder / name).write_bytes(b"vector %d" % index)
        (folder / f".{name}.tmp-killed").write_bytes(b"half")  # a killed writer's leftover: not merged
        names.append(name)
    out = Layout.at(tmp_path / "merged")
    argv = ["merge", *(str(s.root) for s in shards), "--data", str(out.root)]
    assert main(argv) == 0
    assert sorted(p.name for p in (out.cache / "embeddings" / key).iterdir()) == names
    assert "cache (embeddings): 2 files added" in capsys.readouterr().out
    assert main(argv) == 0  # again: nothing to add
    assert "cache (embeddings)" not in capsys.readouterr().out


def test_rerun_is_idempotent_and_links_when_asked(whole: Layout, tmp_path: Path) -> None:
    shards = _shards(whole, tmp_path)
    out = Layout.at(tmp_path / "merged")
    argv = ["merge", *(str(s.root) for s in shards), "--data", str(out.root), "--link", "-q"]
    assert main(argv) == 0
    first = {p: p.read_bytes() for p in out.manifests.glob("*.csv")}
    audio = sorted(out.audio.iterdir())
    assert all(p.stat().st_nlink == 2 for p in audio), "--link hard-links into the shard's files"
    mtimes = {p: p.stat().st_mtime_ns for p in audio}
    assert main(argv) == 0
    assert {p: p.read_bytes() for p in out.manifests.glob("*.csv")} == first
    assert {p: p.stat().st_mtime_ns for p in audio} == mtimes, "files already there are not copied again"


def test_conflict_is_refused_naming_the_track_and_both_folders(whole: Layout, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    a, b = Layout.at(tmp_path / "a"), Layout.at(tmp_path / "b")
    shutil.copytree(whole.root, a.root)
    shutil.copytree(whole.root, b.root)
    rows = read_table(b.table_path("downloads"), TABLES["downloads"])
    rows[0]["sha256"] = "0" * 64
    write_table(b.table_path("downloads"), TABLES["downloads"], rows)
    out = tmp_path / "merged"
    assert main(["merge", str(a.root), str(b.root), "--data", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert rows[0]["track_id"] in err[0] and f"{a.root}/" in err[0] and f"{b.root}/" in err[0]
    assert "sha256" in err[0]
    assert not out.exists(), "nothing written"
    # --prefer first takes a's row
    assert main(["merge", str(a.root), str(b.root), "--data", str(out), "--prefer", "first", "-q"]) == 0
    assert _tables(Layout.at(out))["downloads"] == _tables(a)["downloads"]


def test_corrupted_audio_is_reported_and_tables_not_written(whole: Layout, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    shards = _shards(whole, tmp_path)
    row = read_table(shards[0].table_path("downloads"), TABLES["downloads"])[0]
    broken = shards[0].root / row["audio_path"]
    broken.write_bytes(broken.read_bytes()[:-10] + b"x" * 10)
    out = Layout.at(tmp_path / "merged")
    assert main(["merge", *(str(s.root) for s in shards), "--data", str(out.root), "-q"]) == 2
    captured = capsys.readouterr()
    assert str(broken) in captured.err and "sha256" in captured.err
    assert not out.manifests.exists(), "no table written while an audio file is wrong"
    assert not (out.root / row["audio_path"]).exists()
