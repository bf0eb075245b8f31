"""A run killed mid-epoch and rerun ends exactly where the uninterrupted run ends.

The killed run is a real process ended by SIGKILL in the middle of its third epoch
(:mod:`tests.training_core.kill_runner`); the rerun is the same ``train`` call the command
line makes.  Exactness is bitwise, not approximate: on CPU with TensorFlow the same
inputs give the same floating-point results, run after run and with any number of
batch threads (batch ``i`` of epoch ``e`` is the same whichever thread makes it), so any
difference is state the resume lost.  Neither ``workers=0`` nor TensorFlow's op
determinism switch is needed.  (On a GPU some kernels, cuDNN's convolution gradients
among them, may sum in a varying order; there the resumed run matches only as closely as
two uninterrupted runs match each other.)
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from manifests.errors import UserError  # noqa: E402
from training.runs.rundir import RunDir  # noqa: E402
from training.runs.train import compile_model, train  # noqa: E402

from .corpus import make_corpus  # noqa: E402
from .kill_runner import resume_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EPOCHS, KILLED_IN = 4, 3
#: history columns that measure the machine, not the training
TIMING = {"crops_per_s", "steps_per_s", "seconds"}


def _history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(handle)]


def _checkpoint_state(run_dir: Path) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """state.json, and the last checkpoint's weights and optimizer variables (moments, step count, rate)."""
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    model = keras.models.load_model(run_dir / "checkpoints" / state["checkpoint"])
    return state, [np.asarray(w) for w in model.get_weights()], [np.asarray(v) for v in model.optimizer.variables]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    return make_corpus(tmp_path_factory.mktemp("data"), genres=("ambient", "house", "jazz"),
                       per_split=(4, 2, 1), seconds=2.0, multi=True)


def test_a_run_killed_mid_epoch_and_rerun_reproduces_the_uninterrupted_run_exactly(corpus) -> None:
    layout, _ = corpus
    straight = train(layout, resume_config(EPOCHS), run_name="straight", progress=False)
    assert straight.epochs_done == EPOCHS

    err = layout.root / "killed-stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(err, "wb") as handle:
        killed = subprocess.run([sys.executable, "-m", "tests.training_core.kill_runner", str(layout.root), "killed",
                                 str(EPOCHS), str(KILLED_IN)], cwd=REPO, env=env, stderr=handle, timeout=300,
                                check=False)
    assert killed.returncode == -9, err.read_text()
    run_dir = layout.runs / "killed"
    assert [int(r["epoch"]) for r in _history(run_dir)] == list(range(1, KILLED_IN))  # the third was lost

    resumed = train(layout, resume_config(EPOCHS), run_name="killed", progress=False)
    assert resumed.resumed_from == KILLED_IN - 1 and resumed.epochs_done == EPOCHS

    expected, got = _history(straight.run_dir), _history(run_dir)
    assert len(got) == EPOCHS
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs  # loss, accuracy, validation scores, learning rate: every digit written
    state, weights, slots = _checkpoint_state(run_dir)
    state0, weights0, slots0 = _checkpoint_state(straight.run_dir)
    assert state == state0  # best epoch and value, early-stopping and plateau counters, learning rate
    assert all(np.array_equal(a, b) for a, b in zip(weights, weights0, strict=True))  # bitwise
    assert all(np.array_equal(a, b) for a, b in zip(slots, slots0, strict=True))
    assert json.loads((run_dir / "run.json").read_text())["val_song_accuracy"] == straight.val_song_accuracy


def test_a_checkpoint_that_does_not_fit_the_run_is_one_line(tmp_path: Path) -> None:
    from training.models.cnn import build_model

    config = resume_config(1)
    model = build_model(config, 3)
    compile_model(model, config, None)
    path = tmp_path / "last-0001.keras"
    path.write_bytes(b"not a keras file")
    with pytest.raises(UserError, match=r"cannot continue from this checkpoint .*--fresh"):
        RunDir(tmp_path).load_checkpoint(model, path)
