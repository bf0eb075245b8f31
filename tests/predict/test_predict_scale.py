"""``training predict`` over folders: CSV and JSON-lines output, resume (also after a real kill), shards, bounds."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from manifests.audio import decode_audio, ffmpeg_exe
from training.cli import main
from training.data.crops import song_crops
from training.runs.predict import DecodePlan, decode_units

from ..fixtures.processes import kill_leader_and_wait
from ..fixtures.waiting import wait_until
from ..training_eval.corpus import GENRES, RATE, tone
from .conftest import LIBRARY_FILES, UNREADABLE

ROOT = Path(__file__).resolve().parents[2]


def _names(lib: Path, files: list[str] | set[str]) -> list[str]:
    return [f"{lib}/{f}" for f in files]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _jsonl_rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_folder_to_csv_and_jsonl_one_row_per_file(cnn_run: Path, library: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "preds.csv"
    assert main(["predict", str(library), "--run", str(cnn_run), "--out", str(out), "--workers", "2",
                 "--top", "2", "-q"]) == 2  # two files could not be read: said, and the rest is predicted
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
    assert {e.split(": ")[1] for e in errors} == set(_names(library, UNREADABLE))
    assert captured.out.strip() == f"6 file(s) predicted (12 s of audio); 2 could not be read (see the error " \
                                   f"column): {out}"
    rows = _csv_rows(out)
    assert [r["file"] for r in rows] == _names(library, LIBRARY_FILES)  # every audio file once, in name order
    by_file = {r["file"].removeprefix(f"{library}/"): r for r in rows}
    for name, row in by_file.items():
        assert row["run"] == "tiny" and row["model"] == "cnn_bn" and len(row["weights"]) == 12
        if name in UNREADABLE:
            assert row["error"] and row["predicted"] == "" and row["prob_chiptune"] == ""
            continue
        assert row["error"] == "" and float(row["duration_s"]) == pytest.approx(2.0, abs=0.1)
        scores = {g: float(row[f"prob_{g}"]) for g in GENRES}
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
        top = [part.split(":") for part in row["top"].split(";")]
        assert len(top) == 2 and top[0][0] == row["predicted"] == max(scores, key=lambda g: scores[g])
    assert "decode" in by_file["noise/fake.mp3"]["error"] or "audio" in by_file["noise/fake.mp3"]["error"]

    # the same folder as JSON lines: the same files, the same numbers
    out_jsonl = tmp_path / "preds.jsonl"
    assert main(["predict", str(library), "--run", str(cnn_run), "--out", str(out_jsonl), "--workers", "1",
                 "-q"]) == 2
    capsys.readouterr()
    lines = _jsonl_rows(out_jsonl)
    assert [r["file"] for r in lines] == [r["file"] for r in rows]
    for line, row in zip(lines, rows, strict=True):
        assert (line["error"] is None) == (row["error"] == "") and line["weights"] == row["weights"]
        if line["error"] is None:
            probabilities = line["probabilities"]
            assert isinstance(probabilities, dict)
            assert all(abs(probabilities[g] - float(row[f"prob_{g}"])) < 1e-5 for g in GENRES)

    # and the same as predicting one file on the screen, as before
    one = library / "chiptune" / "one.wav"
    assert main(["predict", str(one), "--run", str(cnn_run), "--json", "-q"]) == 0
    alone = json.loads(capsys.readouterr().out)["results"][0]["probabilities"]
    assert all(abs(alone[g] - float(by_file["chiptune/one.wav"][f"prob_{g}"])) < 1e-5 for g in GENRES)


def test_resume_skips_whats_there_and_cuts_a_torn_last_row(cnn_run: Path, library: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    full = tmp_path / "full.csv"
    main(["predict", str(library), "--run", str(cnn_run), "--out", str(full), "-q"])
    capsys.readouterr()
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    partial = tmp_path / "partial.csv"
    partial.write_text("".join(lines[:4]) + lines[4][:25], encoding="utf-8")  # header, 3 rows, a torn fourth
    assert main(["predict", str(library), "--run", str(cnn_run), "--out", str(partial), "-q"]) == 2
    out = capsys.readouterr().out
    # the first three rows (one of them an error) stay; the torn fourth and the other four are done now
    assert out.startswith("4 file(s) predicted") and "; 1 could not be read" in out
    assert "; 3 already in the file skipped" in out
    assert partial.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")

    # a finished file: nothing left to do, nothing written twice, and nothing failed this time
    assert main(["predict", str(library), "--run", str(cnn_run), "--out", str(partial), "-q"]) == 0
    assert "0 file(s) predicted (0 s of audio); 8 already in the file skipped" in capsys.readouterr().out
    assert [r["file"] for r in _csv_rows(partial)] == _names(library, LIBRARY_FILES)

    # JSON lines, torn the same way
    jsonl = tmp_path / "part.jsonl"
    main(["predict", str(library / "ambient"), "--run", str(cnn_run), "--out", str(jsonl), "-q"])
    capsys.readouterr()
    text = jsonl.read_text(encoding="utf-8")
    jsonl.write_text(text[: text.index("\n") + 30], encoding="utf-8")
    capsys.readouterr()
    main(["predict", str(library), "--run", str(cnn_run), "--out", str(jsonl), "-q"])
    assert [r["file"] for r in _jsonl_rows(jsonl)] == _names(library, LIBRARY_FILES)
    assert "1 already in the file skipped" in capsys.readouterr().out

    # another run's file is not continued with this run's rows
    other = Path(str(cnn_run) + "-copy")
    if not other.exists():
        import shutil

        shutil.copytree(cnn_run, other)
        (other / "model.keras").write_bytes((other / "model.keras").read_bytes() + b"\0")
    assert main(["predict", str(library), "--run", str(other), "--out", str(partial), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "written with run 'tiny'" in err


def test_shards_split_a_folder_between_machines(cnn_run: Path, library: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    files: list[str] = []
    for k in (1, 2):
        out = tmp_path / f"part{k}.jsonl"
        main(["predict", str(library), "--run", str(cnn_run), "--out", str(out), "--shard", f"{k}/2", "-q"])
        assert f"shard {k}/2: " in capsys.readouterr().out
        part = [str(r["file"]) for r in _jsonl_rows(out)]
        assert 0 < len(part) < len(LIBRARY_FILES)
        files += part
    assert sorted(files) == sorted(_names(library, LIBRARY_FILES))  # every file once between the two


def test_no_audio_and_bad_options_are_one_line_errors(cnn_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "cover.jpg").write_bytes(b"jpeg")
    assert main(["predict", str(folder), "--run", str(cnn_run), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {folder}: no audio files found")
    song = tmp_path / "song.wav"
    sf.write(song, tone("noise", 1.0, np.random.default_rng(1)), RATE, subtype="PCM_16")
    assert main(["predict", str(song), "--run", str(cnn_run), "--out", str(tmp_path / "p.txt"), "-q"]) == 2
    assert "name it .csv or .jsonl" in capsys.readouterr().err
    assert main(["predict", str(song), "--run", str(cnn_run), "--out", str(tmp_path / "p.txt"), "--format",
                 "csv", "-q"]) == 0
    assert [r["file"] for r in _csv_rows(tmp_path / "p.txt")] == [str(song)]


def test_a_killed_run_resumes_without_duplicates(cnn_run: Path, tmp_path: Path) -> None:
    """SIGKILL mid-run (no cleanup at all): the file holds whole rows, no worker is left, a rerun finishes it."""
    lib = tmp_path / "many"
    song = tmp_path / "song.wav"
    sf.write(song, tone("ambient", 1.0, np.random.default_rng(2)), RATE, subtype="PCM_16")
    for k in range(16):
        (lib / f"d{k % 3}").mkdir(parents=True, exist_ok=True)
        os.link(song, lib / f"d{k % 3}" / f"s{k:02d}.wav")
    slow = tmp_path / "slow-ffmpeg"  # every decode takes a little while: the kill lands mid-run
    slow.write_text(f"#!/bin/sh\nsleep 0.15\nexec '{ffmpeg_exe()}' \"$@\"\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "preds.csv"
    env = {**os.environ, "GENRE_FFMPEG": str(slow)}
    command = [sys.executable, "-m", "training", "predict", str(lib), "--run", str(cnn_run), "--out", str(out),
               "--workers", "2", "-q"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: out.is_file() and out.read_text().count("\n") >= 4, timeout=120,
                   what="three predicted rows")
    finally:
        left = kill_leader_and_wait(proc)
    assert left == []  # the decoding workers ended with it
    text = out.read_text(encoding="utf-8")
    complete = list(csv.DictReader(io.StringIO(text[: text.rfind("\n") + 1], newline="")))
    assert 3 <= len(complete) < 16, "the kill should land mid-run"
    assert all(None not in row and row["file"] and row["prob_ambient"] for row in complete)  # whole rows
    assert main(["predict", str(lib), "--run", str(cnn_run), "--out", str(out), "-q"]) == 0
    rows = _csv_rows(out)
    assert sorted(r["file"] for r in rows) == sorted(f"{lib}/d{k % 3}/s{k:02d}.wav" for k in range(16))
    assert all(r["error"] == "" for r in rows)


def test_long_files_reach_the_model_in_bounded_pieces(tmp_path: Path) -> None:
    """Short files are cut exactly as evaluate cuts them; a long one is streamed into at most max_units crops."""
    wav = tmp_path / "long.wav"
    wave = tone("chiptune", 12.0, np.random.default_rng(3))
    sf.write(wav, wave, RATE, subtype="PCM_16")
    decoded = decode_audio(wav, RATE)
    whole = decode_units(wav, DecodePlan(RATE, crop_samples=RATE))
    assert np.array_equal(whole.units.astype(np.float32) / 32768.0, song_crops(decoded, RATE))
    assert whole.n_samples == decoded.size

    tiles = decoded.reshape(12, RATE)  # the song's consecutive 1-s crops
    for seconds in (12.0, 11.5):
        cut = tmp_path / f"{seconds}.wav"
        sf.write(cut, wave[: int(seconds * RATE)], RATE, subtype="PCM_16")
        bounded = decode_units(cut, DecodePlan(RATE, crop_samples=RATE, long_seconds=3.0, max_units=5))
        assert bounded.n_samples == int(seconds * RATE) and 3 <= bounded.units.shape[0] <= 5
        crops = bounded.units.astype(np.float32) / 32768.0
        kept = [next(k for k, t in enumerate(tiles) if np.array_equal(c, t)) for c in crops[:-1]]
        assert kept == list(range(0, 12, kept[1]))[: len(kept)] and kept[1] >= 2  # every k-th, from the start
        assert np.array_equal(crops[-1], decoded[int(seconds * RATE) - RATE: int(seconds * RATE)])  # the end

    from training.models.pretrained.patches import patch_windows
    from training.models.pretrained.registry import get_pretrained

    spec = get_pretrained("musicnn-MSD").spectrogram
    patches = decode_units(wav, DecodePlan(RATE, spectrogram=spec, hop_frames=spec.patch_frames // 2))
    expected, _ = patch_windows(decoded, spec, spec.patch_frames // 2)
    assert np.array_equal(patches.units.astype(np.float32) / 32768.0, expected)
    few = decode_units(wav, DecodePlan(RATE, spectrogram=spec, hop_frames=spec.patch_frames // 2,
                                       long_seconds=3.0, max_units=4))
    assert 2 <= few.units.shape[0] <= 4 and few.n_samples == decoded.size
    assert all(any(np.array_equal(p, e) for e in expected) for p in few.units.astype(np.float32) / 32768.0)


def test_a_probe_run_predicts_a_folder(probe_run: Path, library: Path, tmp_path: Path) -> None:
    """The probe's patches are cut in the workers and embedded here (test_probe checks they predict well)."""
    from training.models.pretrained.patches import hop_frames_for, patch_starts
    from training.models.pretrained.registry import get_pretrained

    out = tmp_path / "probe.jsonl"
    assert main(["predict", str(library / "chiptune"), str(library / "noise" / "three.ogg"), "--run",
                 str(probe_run), "--out", str(out), "--workers", "2", "-q"]) == 0
    rows = _jsonl_rows(out)
    assert [r["file"] for r in rows] == [f"{library}/chiptune/live/two.flac", f"{library}/chiptune/one.wav",
                                         f"{library}/noise/three.ogg"]
    assert {r["model"] for r in rows} == {"probe:musicnn-MSD/penultimate"} and {r["run"] for r in rows} == {"probe"}
    spec = get_pretrained("musicnn-MSD").spectrogram
    for row in rows:
        probabilities = row["probabilities"]
        assert isinstance(probabilities, dict) and row["error"] is None
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        n_samples = decode_audio(str(row["file"]), spec.sample_rate).size  # every half-overlapping patch
        assert row["n_crops"] == len(patch_starts(n_samples, spec, hop_frames_for(spec, 0.5)))
