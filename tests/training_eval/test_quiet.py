"""Commands that load TensorFlow print their own output only: no CUDA, oneDNN or absl start-up lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from .corpus import RATE, tone

REPO = Path(__file__).resolve().parents[2]
NOISE_WORDS = ("cuInit", "oneDNN", "absl", "E0000", "W0000", "I0000", "cuda", "CUDA", "cuDNN")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """A command as a user types it: no TensorFlow settings in the environment (the test suite sets some)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_"))}
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _noise(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if re.match(r"[IWEF]\d{4} ", line) or any(word in line for word in NOISE_WORDS)]


def test_predict_loads_tensorflow_and_prints_only_its_own_lines(single_run: Path, tmp_path: Path) -> None:
    song = tmp_path / "song.wav"
    sf.write(song, tone("chiptune", 2.0, np.random.default_rng(1)), RATE, subtype="PCM_16")
    done = _run("predict", str(song), "--run", str(single_run))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"run: {single_run} (single-label, 3 genres)")
    assert _noise(done.stdout + done.stderr) == [], done.stderr
    assert done.stderr == ""

    helped = _run("train", "--help")
    assert helped.returncode == 0 and "--fresh" in helped.stdout
    assert _noise(helped.stdout + helped.stderr) == [] and helped.stderr == ""


def test_embed_prints_only_its_own_lines(tmp_path: Path) -> None:
    """embed loads musicnn (and so TensorFlow) only when something is missing: still no start-up lines."""
    from .corpus import make_corpus

    layout = make_corpus(tmp_path / "data", {"train": 1, "validation": 1, "test": 1}, seconds=3.5, seed=4)
    done = _run("embed", "--data", str(layout.root), "--max-patches", "1")
    assert done.returncode == 0, done.stderr
    assert "embedded now" in done.stdout
    assert _noise(done.stdout + done.stderr) == [], done.stderr


def test_vv_turns_the_filter_off(tmp_path: Path) -> None:
    done = _run("report", "nowhere", "--data", str(tmp_path), "-vv")
    assert done.returncode == 2
    assert "TensorFlow's start-up messages are not filtered (-vv)" in done.stderr
