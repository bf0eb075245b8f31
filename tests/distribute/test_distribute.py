"""``train --distribute`` on two simulated CPU devices trains as one device does with the same global batch.

Both runs see the same crops (global batch ``i`` of an epoch is drawn from ``(seed, epoch, i)``
whatever the replicas) and start from the same weights; with augmentation and dropout off
nothing else is random.  What differs is float32 arithmetic order: two half-batch gradients
all-reduced instead of one full-batch gradient.  That moves a loss by about 1e-7 relative per
step; over a handful of Adam steps it stays far below 1e-3, the tolerance used, while a wrong
split (each replica training on the whole batch, a doubled learning rate, gradients not
averaged) moves the losses by 1e-2 or more already in the first epoch.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from manifests.errors import UserError
from tests.training_core.corpus import make_corpus
from training.config import TrainConfig
from training.runs.distribute import Replicas, WorkerRole, wait_for_coordinator, worker_role

REPO = Path(__file__).resolve().parents[2]
#: tiny everything: a couple of seconds of compute per run, the rest is start-up and tracing
TINY = ["--model", "baseline3", "--width", "4", "--epochs", "2", "--crops-per-track", "2",
        "--val-crops-per-track", "2", "--crop-seconds", "1", "--n-mels", "16", "--n-fft", "256",
        "--hop-length", "128", "--no-augment", "--dropout", "0", "--min-tracks", "1", "--quiet"]
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_song_accuracy")


def history(run: Path) -> list[dict[str, float]]:
    with open(run / "history.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def assert_same_training(one: Path, two: Path) -> None:
    a, b = history(one), history(two)
    assert len(a) == len(b) == 2
    for row_a, row_b in zip(a, b, strict=True):
        for key in METRICS:
            assert row_b[key] == pytest.approx(row_a[key], rel=1e-3, abs=1e-5), (key, row_a, row_b)
    assert a[-1]["loss"] != pytest.approx(a[0]["loss"], rel=1e-3)  # it did train


def run_devices(backend: str, devices: int, commands: list[list[str]], timeout: float = 150) -> None:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    argv = [str(devices)]
    for i, command in enumerate(commands):
        argv += (["--then"] if i else []) + command
    done = subprocess.run([sys.executable, "-m", "tests.distribute.runner", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("distribute")
    make_corpus(root, per_split=(3, 1, 1), seconds=2.0)
    return root


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_devices_train_as_one(backend: str, corpus: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    data = ["train", "--data", str(corpus), *TINY]
    run_devices(backend, 2, [[*data, "--run", f"{backend}-one", "--batch-size", "8"],
                             [*data, "--run", f"{backend}-two", "--batch-size", "4", "--distribute",
                              "--lr-scaling", "none"]])
    one, two = corpus / "runs" / f"{backend}-one", corpus / "runs" / f"{backend}-two"
    assert_same_training(one, two)
    summary = json.loads((two / "run.json").read_text())
    engine = "tf.distribute.MirroredStrategy" if backend == "tensorflow" else "keras.distribution.DataParallel"
    assert (summary["replicas"], summary["global_batch"], summary["distribute_engine"]) == (2, 8, engine)
    config = json.loads((two / "config.json").read_text())
    assert config["distribute"] is True and config["batch_size"] == 4
    assert "distribute" not in json.loads((one / "config.json").read_text())  # one-device runs as before


def test_linear_scaling_warms_up_to_replicas_times_the_rate() -> None:
    """Linear scaling (default) on 4 replicas: 4 x the rate, reached step by step over the warm-up epochs."""
    config = TrainConfig(distribute=True, batch_size=16, learning_rate=1e-3, warmup_epochs=2)
    replicas = Replicas("test", 4)
    assert replicas.global_batch(config) == 64 and replicas.batch_config(config).batch_size == 64
    assert replicas.peak_learning_rate(config) == pytest.approx(4e-3)
    steps = 10
    rates = [replicas.warmup_rate(config, epoch, step, steps) for epoch in range(3) for step in range(steps)]
    warm = [r for r in rates if r is not None]
    assert len(warm) == 2 * steps and rates[2 * steps:] == [None] * steps
    assert warm == sorted(warm) and warm[0] == pytest.approx(1e-3 + 3e-3 / 20) and warm[-1] == pytest.approx(4e-3)
    assert replicas.warming(config, 1) and not replicas.warming(config, 2)
    none = TrainConfig(distribute=True, lr_scaling="none")
    assert replicas.peak_learning_rate(none) == none.learning_rate and not replicas.warming(none, 0)
    assert Replicas().peak_learning_rate(config) == config.learning_rate  # one replica: nothing changes


def test_a_batch_that_does_not_split_over_the_replicas_is_one_line() -> None:
    """Fewer training crops than one global batch: one short batch, which no replica split can share."""
    replicas = Replicas("test", 2, distribution=object())
    batch = (np.zeros((3, 8), np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(UserError, match="a training batch of 3 crops does not split over 2 replicas"):
        replicas.train_step(None, batch)  # refused before the model is used


def test_tf_config_names_the_chief_and_workers() -> None:
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    assert worker_role({"TF_CONFIG": json.dumps(cluster)}) == WorkerRole(1, 2)
    assert worker_role({}) == WorkerRole(0, 1) and worker_role({}).chief
    with pytest.raises(UserError, match="TF_CONFIG"):
        worker_role({"TF_CONFIG": "{not json"})


def test_jax_processes_come_from_keras_distribution_variables() -> None:
    """KERAS_BACKEND=jax: the role is KERAS_DISTRIBUTION_PROCESS_ID of _NUM_PROCESSES; TF_CONFIG is TensorFlow's."""
    two = {"KERAS_BACKEND": "jax", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1",
           "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234"}
    assert worker_role(two) == WorkerRole(1, 2) and not worker_role(two).chief
    assert worker_role({**two, "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:1234"}) == WorkerRole(1, 2)
    assert worker_role({"KERAS_BACKEND": "jax"}) == WorkerRole(0, 1)
    tf_config = json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}})
    assert worker_role({"KERAS_BACKEND": "jax", "TF_CONFIG": tf_config}) == WorkerRole(0, 1)
    for change, words in (({"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"}, "not a number of processes"),
                          ({"KERAS_DISTRIBUTION_PROCESS_ID": "2"}, "not a process id from 0 to 1"),
                          ({"KERAS_DISTRIBUTION_PROCESS_ID": ""}, "KERAS_DISTRIBUTION_PROCESS_ID=''"),
                          ({"KERAS_DISTRIBUTION_JOB_ADDRESSES": ""}, "KERAS_DISTRIBUTION_JOB_ADDRESSES is not set"),
                          ({"KERAS_DISTRIBUTION_JOB_ADDRESSES": "a:1,b:2,c:3"}, "3 addresses for 2 processes"),
                          ({"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1"}, "'10.0.0.1' is not host:port")):
        with pytest.raises(UserError, match=words):
            worker_role({**two, **change})


def test_jax_process_waits_for_its_coordinator_then_says_so() -> None:
    """A JAX process other than 0 waits for the coordinator's port; nobody there is one line, not jax's abort."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        wait_for_coordinator(address, timeout=5)  # listening: returns at once
    with pytest.raises(UserError, match=f"coordinator \\(JAX process 0\\) at {address} did not answer within 0.5 s"):
        wait_for_coordinator(address, timeout=0.5)


def test_bad_backend_or_missing_jax_is_one_line(corpus: Path) -> None:
    code = ("import sys, importlib.util as u\n"
            "real = u.find_spec\n"
            "u.find_spec = lambda name, *a: None if name == 'jax' else real(name, *a)\n"
            "from training.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    base = ["train", "--data", str(corpus), *TINY, "--distribute", "--run", "nope"]
    for backend, words in (("jax", "jax is not installed"), ("torch", "--distribute runs on tensorflow")):
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run([sys.executable, "-c", code, *base], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2, done.stderr[-2000:]
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert any(words in line for line in lines) and len(lines) == 1, done.stderr[-2000:]
