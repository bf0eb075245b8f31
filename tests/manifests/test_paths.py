"""Paths in manifests are a contract: relative to the data folder, never leaving it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from manifests import Layout, ManifestError, UserError, read_table, write_table
from manifests.schema import TRAINING


def _training_csv(path: Path, audio_path: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("track_id,title,artists,genres,top_genre,split,audio_path,sample_rate,audio_duration_s,"
                    "sha256,schema\n"
                    "abc001,Song,Artist,rock=1,rock,train,audio/abc001.wav,16000,30,,training@1\n"
                    f"abc002,Song,Artist,rock=1,rock,train,{audio_path},16000,30,,training@1\n", encoding="utf-8")


@pytest.mark.parametrize(("stored", "problem"), [
    ("../../../../etc/passwd", "leaves the data folder ('..')"),
    ("audio/../../secret.wav", "leaves the data folder ('..')"),
    ("/etc/passwd", "is an absolute path"),
    ("C:/Users/x.wav", "is an absolute path"),
    ("audio\\\\abc002.wav", "is not a plain relative path"),
])
def test_a_path_that_leaves_the_data_folder_is_refused_naming_the_row(tmp_path: Path, stored: str,
                                                                       problem: str) -> None:
    path = tmp_path / "manifests" / "training.csv"
    _training_csv(path, stored)
    with pytest.raises(ManifestError, match=rf"training.csv:3, row 2, column 'audio_path': .*{problem[:20]}"):
        read_table(path, TRAINING)


def test_such_a_path_is_never_written_either(tmp_path: Path) -> None:
    row = {"track_id": "abc002", "title": "S", "artists": ["A"], "genres": {"rock": 1.0}, "split": "train",
           "audio_path": "../x.wav"}
    with pytest.raises(ManifestError, match="row 1, column 'audio_path'"):
        write_table(tmp_path / "training.csv", TRAINING, [row])
    assert not (tmp_path / "training.csv").exists()


def test_plain_relative_paths_pass(tmp_path: Path) -> None:
    path = tmp_path / "manifests" / "training.csv"
    _training_csv(path, "audio/sub folder/abc002 (live).wav")
    assert [r["audio_path"] for r in read_table(path, TRAINING)] == [
        "audio/abc001.wav", "audio/sub folder/abc002 (live).wav"]


def test_a_symbolic_link_out_of_the_data_folder_is_refused_where_it_is_opened(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path / "data")
    layout.audio.mkdir(parents=True)
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"RIFF")
    os.symlink(outside, layout.audio / "abc002.wav")
    with pytest.raises(UserError, match="a symbolic link that leads out of the data folder"):
        layout.resolve("audio/abc002.wav")
    os.symlink(tmp_path, layout.root / "escape")  # a linked folder on the way counts too
    with pytest.raises(UserError, match="leads out of the data folder"):
        layout.resolve("escape/outside.wav")
    inside = layout.audio / "abc003.wav"
    inside.write_bytes(b"RIFF")
    os.symlink(inside, layout.audio / "alias.wav")  # a link that stays inside is fine
    assert layout.resolve("audio/alias.wav") == layout.audio / "alias.wav"


def test_build_refuses_a_downloads_table_pointing_outside(tiny_data: Layout,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from labeling.cli import main

    path = tiny_data.table_path("downloads")
    text = path.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines()[1:] if "audio/" in line)
    stored = next(cell for cell in first.split(",") if cell.startswith("audio/"))
    path.write_text(text.replace(stored, "../../../../etc/passwd", 1), encoding="utf-8")
    assert main(["resolve", "--data", str(tiny_data.root), "-q"]) == 0
    assert main(["build", "--data", str(tiny_data.root)]) == 2
    err = capsys.readouterr().err
    assert "downloads.csv:" in err and "column 'audio_path'" in err and "leaves the data folder" in err
    assert not tiny_data.table_path("training").exists()
