"""``import-audio --shard K/N`` (by track ID, from the content hash) and ``--clip-seconds`` on real files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import soundfile as sf

from collectors.cli import main as collectors_main
from manifests import Layout, read_table
from manifests.schema import CLAIMS, DOWNLOADS, TRACKS
from tests.local import media


def _library(root: Path, n: int) -> Path:
    for index in range(n):
        media.id3(media.tone(root / "rock" / f"song{index}.mp3", seconds=6.0, freq=300 + 10 * index), 4,
                  title=f"Song {index}", artists=[f"Band {index}"], genres=["Rock"])
    return root


def _tables(data: Path) -> dict[str, dict[str, dict]]:
    layout = Layout.at(data)
    out = {}
    for table in (TRACKS, DOWNLOADS):
        out[table.name] = {r["track_id"]: {k: v for k, v in r.items() if k not in ("updated_at", "source_path")}
                           for r in read_table(layout.table_path(table), table)}
    out["claims"] = {f"{r['track_id']}|{r['raw_genre']}": r for r in read_table(layout.table_path(CLAIMS), CLAIMS)}
    return out


def test_two_shards_import_every_file_once_with_the_output_of_one_run(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    lib = _library(tmp_path / "lib", 6)
    lines = []
    for shard in ("1/2", "2/2"):
        assert collectors_main(["import-audio", "-q", "--data", str(tmp_path / shard[0]), "--workers", "1", "--min-seconds", "1",
                                "--layout", "genre", "--shard", shard, str(lib)]) == 0
        lines.append(capsys.readouterr().out)
    assert collectors_main(["import-audio", "-q", "--data", str(tmp_path / "all"), "--workers", "1", "--min-seconds", "1",
                            "--layout", "genre", str(lib)]) == 0
    one, two, whole = _tables(tmp_path / "1"), _tables(tmp_path / "2"), _tables(tmp_path / "all")
    for name in ("tracks", "downloads", "claims"):
        assert one[name] and two[name] and not set(one[name]) & set(two[name]), name  # both worked, none twice
        assert {**one[name], **two[name]} == whole[name], name
    assert f"shard 1/2: {len(two['tracks'])} files left to the other shards" in lines[0]
    assert f"shard 2/2: {len(one['tracks'])} files left to the other shards" in lines[1]
    with open(tmp_path / "1" / "reports" / "import_audio.csv", encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert sorted(r["outcome"] for r in report) == ["imported"] * len(one["tracks"]) + ["other shard"] * len(two["tracks"])
    # a rerun of a shard keeps its files and still leaves the others alone
    assert collectors_main(["import-audio", "-q", "--data", str(tmp_path / "1"), "--workers", "1", "--min-seconds", "1",
                            "--layout", "genre", "--shard", "1/2", str(lib)]) == 0
    assert f"{len(one['tracks'])} kept from an earlier run" in capsys.readouterr().out
    assert _tables(tmp_path / "1") == one


def test_clip_keeps_the_middle_excerpt_records_it_and_never_pads(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    media.tone(lib / "long.flac", seconds=10.0)
    media.tone(lib / "short.flac", seconds=3.0)
    data = tmp_path / "data"
    assert collectors_main(["import-audio", "-q", "--data", str(data), "--workers", "1", "--min-seconds", "1",
                            "--clip-seconds", "4", str(lib)]) == 0
    layout = Layout.at(data)
    rows = {Path(r["source_path"]).name: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}
    long, short = rows["long.flac"], rows["short.flac"]
    assert (long["clip_start_seconds"], long["clip_seconds"]) == (3.0, 4.0)  # (10 - 4) / 2
    assert sf.info(str(layout.resolve(long["audio_path"]))).duration == pytest.approx(4.0, abs=0.002)
    assert long["audio_duration_s"] == pytest.approx(4.0, abs=0.002)
    assert (short["clip_start_seconds"], short["clip_seconds"]) == (0.0, 4.0)
    assert short["audio_duration_s"] == pytest.approx(3.0, abs=0.002)  # kept whole, not padded to 4 s
    # --clip-offset start: the excerpt starts at 0
    assert collectors_main(["import-audio", "-q", "--data", str(tmp_path / "start"), "--workers", "1", "--min-seconds", "1",
                            "--clip-seconds", "4", "--clip-offset", "start", str(lib / "long.flac")]) == 0
    (row,) = read_table(Layout.at(tmp_path / "start").table_path(DOWNLOADS), DOWNLOADS)
    assert (row["clip_start_seconds"], row["clip_seconds"], row["audio_duration_s"]) == (0.0, 4.0, 4.0)
