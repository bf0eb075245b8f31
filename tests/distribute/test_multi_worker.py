"""Two worker processes on 127.0.0.1 (TF MultiWorkerMirroredStrategy through TF_CONFIG) train as one device.

Slow tier (``make test-slow``): two TensorFlow start-ups and a collective handshake.  Each
worker has its own data folder, as on two hosts; the chief writes the run, worker 1 its own
copy beside it (``<run>.worker1``).  Same comparison and tolerance as the two-device tests.
"""

from __future__ import annotations

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


def test_two_workers_train_as_one_device(tmp_path: Path) -> None:
    roots = [tmp_path / "host0", tmp_path / "host1"]
    for root in roots:
        make_corpus(root, per_split=(3, 1, 1), seconds=2.0)
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index, root in enumerate(roots):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CONFIG": json.dumps(tf_config),
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "training", "train", "--data", str(root), *TINY, "--run", "mw",
             "--batch-size", "4", "--distribute", "--lr-scaling", "none"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    chief, other = roots[0] / "runs" / "mw", roots[1] / "runs" / "mw.worker1"
    summary = json.loads((chief / "run.json").read_text())
    assert (summary["replicas"], summary["distribute_engine"]) == (2, "tf.distribute.MultiWorkerMirroredStrategy")
    assert history(chief) == history(other) or all(
        a[k] == pytest.approx(b[k]) for a, b in zip(history(chief), history(other), strict=True)
        for k in ("loss", "val_loss"))
    run_devices("tensorflow", 1, [["train", "--data", str(roots[0]), *TINY, "--run", "one", "--batch-size", "8"]])
    assert_same_training(roots[0] / "runs" / "one", chief)
