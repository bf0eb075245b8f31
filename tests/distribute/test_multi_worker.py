"""Two worker processes on 127.0.0.1 train as one device: TF MultiWorkerMirroredStrategy through TF_CONFIG,
and JAX processes joined by ``jax.distributed`` (``KERAS_DISTRIBUTION_*``, gloo on CPU).

Slow tier (``make test-slow``): two backend start-ups and a collective handshake each.  Each
worker has its own data folder, as on two hosts; the chief writes the run, worker 1 its own
copy beside it (``<run>.worker1``).  Same comparison and tolerance as the two-device tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distribute.test_distribute import REPO, TINY, assert_same_training, history, run_devices
from tests.training_core.corpus import make_corpus

pytestmark = pytest.mark.slow


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def train_on_two_hosts(tmp_path: Path, envs: list[dict[str, str]], batch_size: int) -> list[Path]:
    """``train --distribute`` in two processes, each with its own data folder and environment."""
    roots = [tmp_path / "host0", tmp_path / "host1"]
    procs = []
    for root, env in zip(roots, envs, strict=True):
        make_corpus(root, per_split=(3, 1, 1), seconds=2.0)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "training", "train", "--data", str(root), *TINY, "--run", "mw",
             "--batch-size", str(batch_size), "--distribute", "--lr-scaling", "none"],
            cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return roots


def assert_trained_as_one_device(backend: str, roots: list[Path], replicas: int, engine: str) -> None:
    """The chief's run: ``replicas`` replicas, worker 1's copy alike, the metrics of one device with the global batch."""
    chief, other = roots[0] / "runs" / "mw", roots[1] / "runs" / "mw.worker1"
    summary = json.loads((chief / "run.json").read_text())
    assert (summary["replicas"], summary["global_batch"], summary["distribute_engine"]) == (replicas, 8, engine)
    assert not (roots[1] / "runs" / "mw").exists() and not (roots[0] / "runs" / "mw.worker1").exists()
    assert history(chief) == history(other) or all(
        a[k] == pytest.approx(b[k]) for a, b in zip(history(chief), history(other), strict=True)
        for k in ("loss", "val_loss"))
    run_devices(backend, 1, [["train", "--data", str(roots[0]), *TINY, "--run", "one", "--batch-size", "8"]])
    assert_same_training(roots[0] / "runs" / "one", chief)


def test_two_workers_train_as_one_device(tmp_path: Path) -> None:
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    envs = [{"KERAS_BACKEND": "tensorflow", "TF_CONFIG": json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})} for index in range(2)]
    roots = train_on_two_hosts(tmp_path, envs, batch_size=4)
    assert_trained_as_one_device("tensorflow", roots, 2, "tf.distribute.MultiWorkerMirroredStrategy")


def test_two_jax_processes_train_as_one_device(tmp_path: Path) -> None:
    """Two JAX processes of two CPU devices each: four replicas of 2 crops, the global batch of 8 split by process."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    coordinator = f"127.0.0.1:{free_ports(1)[0]}"
    envs = [{"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
             "KERAS_DISTRIBUTION_JOB_ADDRESSES": coordinator, "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
             "KERAS_DISTRIBUTION_PROCESS_ID": str(index)} for index in range(2)]
    roots = train_on_two_hosts(tmp_path, envs, batch_size=2)
    assert_trained_as_one_device("jax", roots, 4, "jax.distributed + keras.distribution.DataParallel")
