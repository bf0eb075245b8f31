"""A corpus run killed alone leaves no render worker behind; Ctrl-C stops it in one line.

Render workers are forked children of the command.  Killed alone (``kill -9``, the
out-of-memory killer) the command cannot stop them: they must end on their own, without
the ``BrokenPipeError`` traceback a worker prints when it finds nobody to take its result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.processes import kill_leader_and_wait, session_processes
from tests.fixtures.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
NOISE = ("Traceback", "BrokenPipeError", "EOFError", "KeyboardInterrupt")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads the session's processes from /proc")


def _start(data: Path, err_file: Path) -> subprocess.Popen[bytes]:
    """``python -m collectors corpus`` with two render workers, in a session of its own."""
    args = [sys.executable, "-m", "collectors", "corpus", "--data", str(data), "--tracks-per-genre", "4",
            "--artists-per-genre", "2", "--seconds", "6", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(err_file, "wb") as err:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    # kill it once it renders: the workers are busy, with results on their way back
    wait_until(lambda: any((data / "audio").glob("*.wav")) or proc.poll() is not None, timeout=60,
               interval=0.02, what="a rendered track")
    if proc.poll() is not None:
        pytest.fail(f"the corpus run ended before it could be stopped: {err_file.read_text()}")
    return proc


def test_killing_the_corpus_command_alone_ends_its_workers_without_a_traceback(tmp_path: Path) -> None:
    err_file = tmp_path / "stderr.txt"
    proc = _start(tmp_path / "data", err_file)
    try:
        workers = [p for p in session_processes(proc.pid) if p.pid != proc.pid]
        assert len(workers) == 2, workers
        left = kill_leader_and_wait(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert left == [], f"still running after the corpus command was killed: {left}"
    stderr = err_file.read_text(errors="replace")
    for noise in NOISE:
        assert noise not in stderr, stderr


def test_ctrl_c_stops_the_command_and_its_workers_with_one_line(tmp_path: Path) -> None:
    err_file = tmp_path / "stderr.txt"
    proc = _start(tmp_path / "data", err_file)
    try:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        assert proc.wait(timeout=30) == 130
        wait_until(lambda: not session_processes(proc.pid), timeout=20, what="the workers to end")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr = err_file.read_text(errors="replace")
    for noise in NOISE:
        assert noise not in stderr, stderr
    assert "interrupted: finished work was saved; rerun the same command to continue" in stderr
    assert not list((tmp_path / "data" / "audio").glob(".*")), "a half-written file was left"
