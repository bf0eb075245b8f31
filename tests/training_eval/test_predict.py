"""`python -m training predict`: any format through the shared ffmpeg, table or JSON, clear failures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from manifests.audio import ffmpeg_exe
from training.cli import main

from .corpus import GENRES, RATE, tone

REAL = "Kevin_MacLeod_-_Vibe_Ace.ogg"


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 3.5 s WAV of a 'chiptune' tone, the same tone as a 44.1 kHz stereo MP3, and a broken file."""
    folder = tmp_path_factory.mktemp("audio")
    wave = tone("chiptune", 3.5, np.random.default_rng(3))
    wav = folder / "chip tune.wav"
    sf.write(wav, wave, RATE, subtype="PCM_16")
    mp3 = folder / "chiptune.mp3"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(wav), "-ac", "2", "-ar", "44100",
                    "-codec:a", "libmp3lame", "-b:a", "128k", str(mp3)], check=True)
    broken = folder / "broken.mp3"
    broken.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00this is not audio at all" * 20)
    # a download cut off halfway: the MP3's header (Xing frame count) still promises all 8 s
    long_wav = folder / "long.wav"
    sf.write(long_wav, tone("chiptune", 8.0, np.random.default_rng(4)), RATE, subtype="PCM_16")
    whole = folder / "whole.mp3"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(long_wav), "-codec:a", "libmp3lame",
                    "-b:a", "64k", str(whole)], check=True)
    cut = folder / "cut off.mp3"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    return {"wav": wav, "mp3": mp3, "broken": broken, "cut": cut}


def test_predict_json_on_mp3_wav_and_real_ogg(single_run: Path, audio_files: dict[str, Path], shared_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    real = shared_dir / "real-audio" / REAL
    files = [audio_files["mp3"], audio_files["wav"], real]
    assert main(["predict", *map(str, files), "--run", str(single_run), "--json", "--top", "2", "-q"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["task"] == "single" and payload["labels"] == list(GENRES) and payload["errors"] == []
    results = {Path(r["file"]).name: r for r in payload["results"]}
    assert list(results) == [f.name for f in files]
    for result in results.values():
        assert "warning" not in result  # whole files: nothing to warn about
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert len(result["top"]) == 2
        assert result["top"][0]["probability"] >= result["top"][1]["probability"]
        assert result["predicted"] == [result["top"][0]["genre"]]
    # 3.5 s at 1 s crops: ceil(3.5) = 4 evenly spaced crops; the mp3 decodes to the same length (+ codec padding)
    assert results["chip tune.wav"]["n_crops"] == 4 and results["chip tune.wav"]["duration_s"] == 3.5
    assert results["chiptune.mp3"]["duration_s"] == pytest.approx(3.5, abs=0.1)
    # the model learned the tone: both encodings of it are recognised, and agree closely
    assert results["chip tune.wav"]["predicted"] == ["chiptune"] == results["chiptune.mp3"]["predicted"]
    wav_p = np.array(list(results["chip tune.wav"]["probabilities"].values()))
    mp3_p = np.array(list(results["chiptune.mp3"]["probabilities"].values()))
    assert np.abs(wav_p - mp3_p).max() < 0.1
    # the real song is long: every part of it is heard
    info = sf.info(str(real))
    assert results[REAL]["n_crops"] == int(np.ceil(info.frames / info.samplerate - 1e-9))


def test_predict_table_output(single_run: Path, audio_files: dict[str, Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(audio_files["wav"]), "--run", str(single_run), "--top", "3", "-q"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"run: {single_run} (single-label, 3 genres)" and lines[1] == ""
    assert lines[2] == f"{audio_files['wav']}  (3.5 s, 4 crops)"
    assert lines[3].split()[:2] == ["1.", "chiptune"]
    assert [line.split()[0] for line in lines[3:6]] == ["1.", "2.", "3."]
    probs = [float(line.split()[2].rstrip("%")) for line in lines[3:6]]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(100, abs=0.2)


def test_bad_files_get_one_line_errors_and_the_rest_is_still_predicted(
        single_run: Path, audio_files: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.flac"
    args = [str(audio_files["broken"]), str(missing), str(audio_files["wav"])]
    assert main(["predict", *args, "--run", str(single_run), "--json", "-q"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {audio_files['broken']}: ") and "decode" in errors[0]
    assert errors[1] == f"error: {missing}: no such file"
    payload = json.loads(captured.out)
    assert [Path(r["file"]).name for r in payload["results"]] == ["chip tune.wav"]
    assert [e["file"] for e in payload["errors"]] == [str(audio_files["broken"]), str(missing)]
    # table mode too: the good file prints, the exit status still says something failed
    assert main(["predict", str(missing), str(audio_files["wav"]), "--run", str(single_run), "-q"]) == 2
    captured = capsys.readouterr()
    assert "chiptune" in captured.out and captured.err.strip() == f"error: {missing}: no such file"


def test_default_run_is_the_newest_trained_one(single_run: Path, multi_run: Path, audio_files: dict[str, Path],
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    old = Path(shutil.copytree(single_run, runs / "zzz-older"))
    new = Path(shutil.copytree(multi_run, runs / "aaa-newer"))
    os.utime(old / "model.keras", (1_000_000_000, 1_000_000_000))
    (runs / "unfinished").mkdir()  # no model.keras: never chosen
    assert main(["predict", str(audio_files["wav"]), "--data", str(tmp_path), "--json", "-q"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["run"] == str(new) and payload["task"] == "multi" and payload["threshold"] == 0.5
    result = payload["results"][0]
    assert result["predicted"] == [g for g, p in result["probabilities"].items() if p >= 0.5]
    empty = tmp_path / "empty"
    (empty / "runs").mkdir(parents=True)
    assert main(["predict", str(audio_files["wav"]), "--data", str(empty), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no trained run found" in err


def test_a_truncated_file_is_predicted_with_a_warning(single_run: Path, audio_files: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """ffmpeg decodes a cut-off MP3 without complaint; predict says so instead of hiding it."""
    cut, wav = audio_files["cut"], audio_files["wav"]
    assert main(["predict", str(cut), str(wav), "--run", str(single_run), "--json", "-q"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["errors"] == []
    result, whole = payload["results"]
    assert result["file"] == str(cut) and "warning" not in whole
    assert result["duration_s"] == pytest.approx(4.0, abs=0.3)
    assert re.fullmatch(r"decoded 4\.\d s but the container says 8\.0 s \(truncated file\?\)", result["warning"])
    assert result["predicted"] and sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert captured.err.strip().splitlines() == [f"warning: {cut}: {result['warning']}"]
    # the table marks the file too, right under its name
    assert main(["predict", str(cut), "--run", str(single_run), "-q"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[2].startswith(f"{cut}  (4.") and lines[3] == f"  warning: {result['warning']}"
    assert lines[4].split()[0] == "1."
    assert captured.err.strip() == f"warning: {cut}: {result['warning']}"
