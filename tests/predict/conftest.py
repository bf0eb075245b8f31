"""Fixtures for ``training predict`` at scale: one tiny CNN run, one hand-made probe run, a messy library."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from manifests.audio import ffmpeg_exe
from tests.training_eval.corpus import GENRES, RATE, make_corpus, tone

pytest.importorskip("keras")


@pytest.fixture(scope="package")
def cnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real saved Keras run (1-s crops, the three tone genres), fitted for a moment on a tiny corpus."""
    from tests.training_eval.conftest import make_run

    layout = make_corpus(tmp_path_factory.mktemp("predict-data"), {"train": 3, "validation": 1, "test": 1},
                         seconds=1.5, seed=21)
    return make_run(layout.runs / "tiny", layout, "single", epochs=3)


@pytest.fixture(scope="package")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A probe run folder as ``train --model probe`` leaves it, with a fixed (not fitted) probe on musicnn-MSD."""
    from manifests.io import atomic_write_bytes
    from training.config import TrainConfig
    from training.runs.probe import LinearProbe
    from training.runs.rundir import RunDir

    run = RunDir(tmp_path_factory.mktemp("probe-runs") / "probe")
    run.path.mkdir()
    config = TrainConfig(model="probe", task="single")
    run.write_config(config)
    run.write_labels(list(GENRES))
    rng = np.random.default_rng(5)
    dim, n = 200, len(GENRES)  # musicnn-MSD penultimate, mean-pooled
    probe = LinearProbe("single", n, np.zeros(dim), np.ones(dim), rng.normal(0, 0.5, (n, dim)), np.zeros(n),
                        np.arange(n), np.zeros(0), np.array([1.0]))
    atomic_write_bytes(run.probe_file, probe.to_bytes())
    return run.path


def _encode(wav: Path, target: Path) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(wav), str(target)], check=True)


@pytest.fixture(scope="package")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nested folders of songs in four formats, plus what libraries also hold.

    A text file named .mp3 and a zero-byte .wav (both audio candidates that cannot be
    decoded), cover art and notes (not audio), a hidden file and a folder link leading back up.
    """
    lib = tmp_path_factory.mktemp("library") / "music"
    rng = np.random.default_rng(9)
    songs = {"chiptune/one.wav": "chiptune", "chiptune/live/two.flac": "chiptune", "noise/three.ogg": "noise",
             "noise/deep/er/four.mp3": "noise", "ambient/five.wav": "ambient", "ambient/six.mp3": "ambient"}
    for name, genre in songs.items():
        target = lib / name
        target.parent.mkdir(parents=True, exist_ok=True)
        wav = target.with_suffix(".wav")
        sf.write(wav, tone(genre, 2.0, rng), RATE, subtype="PCM_16")
        if target.suffix != ".wav":
            _encode(wav, target)
            wav.unlink()
    (lib / "noise" / "fake.mp3").write_text("these are liner notes, not audio\n" * 20)
    (lib / "ambient" / "empty.wav").write_bytes(b"")
    (lib / "ambient" / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (lib / "notes.txt").write_text("hello")
    (lib / ".hidden.wav").write_bytes((lib / "ambient" / "five.wav").read_bytes())
    (lib / "noise" / "deep" / "up").symlink_to("..")  # a loop: walked once
    return lib


#: The files of ``library`` that predict must report, in its stable order, with the two that cannot be read.
LIBRARY_FILES = ["ambient/empty.wav", "ambient/five.wav", "ambient/six.mp3", "chiptune/live/two.flac",
                 "chiptune/one.wav", "noise/deep/er/four.mp3", "noise/fake.mp3", "noise/three.ogg"]
UNREADABLE = {"ambient/empty.wav", "noise/fake.mp3"}
