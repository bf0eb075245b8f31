"""The conversion pool puts each worker, and the ffmpeg it starts, on a core of its own."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from collectors.audio.pool import conversion_pool, end_with_owner, should_pin, usable_cpus
from manifests.config import usable_cores
from tests.fixtures.processes import kill_leader_and_wait, session_processes

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or usable_cores() < 2,
                                reason="needs Linux CPU affinity and at least 2 usable cores")


def _placement(barrier: Any = None) -> tuple[int, frozenset[int], str]:
    """In a worker: its pid, its CPU mask and the mask a child process (like ffmpeg) inherits.

    With a two-party ``barrier`` a worker waits here until the other worker holds a task too,
    so the two tasks of each pair always land on different workers, however loaded the machine.
    """
    if barrier is not None:
        barrier.wait(timeout=60)
    child = subprocess.run(["grep", "Cpus_allowed_list", "/proc/self/status"], capture_output=True, text=True)
    return os.getpid(), frozenset(os.sched_getaffinity(0)), child.stdout.split()[-1]


def test_two_workers_get_one_distinct_core_each_and_their_children_inherit_it() -> None:
    with multiprocessing.Manager() as manager, conversion_pool(2) as pool:
        barrier = manager.Barrier(2)
        seen = {pid: (mask, child) for pid, mask, child in pool.map(_placement, [barrier] * 4)}
    assert len(seen) == 2
    masks = [mask for mask, _ in seen.values()]
    assert all(len(mask) == 1 for mask in masks)
    assert masks[0] != masks[1]
    assert set().union(*masks) <= set(usable_cpus())
    for mask, child in seen.values():
        assert child == str(next(iter(mask)))
    assert len(os.sched_getaffinity(0)) == usable_cores() == len(usable_cpus())  # the caller itself is never pinned


def test_a_single_worker_and_unpinned_pools_run_free() -> None:
    cores = set(usable_cpus())
    for workers, pin in ((1, None), (2, False)):
        with conversion_pool(workers, pin) as pool:
            masks = {mask for _, mask, _ in pool.map(_placement, [None, None])}
        assert masks == {frozenset(cores)}, (workers, pin)


def test_pinning_policy() -> None:
    n = usable_cores()
    assert not should_pin(1)  # alone, ffmpeg's own threads are best spread over the cores
    assert should_pin(2) and should_pin(n)
    assert not should_pin(n + 1)  # more workers than cores: pinning would stack them
    assert not should_pin(2, pin=False)
    assert should_pin(1, pin=True) and not should_pin(n + 1, pin=True)


OWNER = """
import sys, time
from collectors.audio.pool import conversion_pool
pool = conversion_pool(2, pin={pin})
for future in [pool.submit(time.sleep, 0.3) for _ in range(2)]:
    future.result()
print(" ".join(str(pid) for pid in pool._processes), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("pin", [False, True])
def test_workers_end_quietly_when_the_process_owning_the_pool_is_killed(tmp_path, pin: bool) -> None:
    """Forkserver workers are the forkserver's children, and it waits for them: only the owner's end tells them.

    (What stderr may hold is multiprocessing's resource tracker saying it removed the semaphores
    the killed owner could not: one warning line, no traceback.)
    """
    err_file = tmp_path / "stderr.txt"
    with open(err_file, "wb") as err:
        owner = subprocess.Popen([sys.executable, "-c", OWNER.format(pin=pin)], stdout=subprocess.PIPE, stderr=err,
                                 start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert owner.stdout is not None
        workers = {int(pid) for pid in owner.stdout.readline().split()}
        assert len(workers) == 2 and workers <= {p.pid for p in session_processes(owner.pid)}
        left = kill_leader_and_wait(owner, timeout=15)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    assert left == []
    stderr = err_file.read_text()
    for noise in ("Traceback", "BrokenPipeError", "EOFError", "KeyboardInterrupt"):
        assert noise not in stderr, stderr


def _worker_start_up(owner: int, ready: Any) -> None:
    """What every pool worker runs first (``end_with_owner``), then waits as an idle worker does."""
    end_with_owner(owner)
    ready.set()
    time.sleep(60)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_worker_stopped_by_sigint_or_sigterm_ends_at_once(signum: int) -> None:
    """Ctrl-C reaches every process of the terminal's group: the owner reports it, its workers just end.

    The worker start-up runs in a plain process here: through a pool, the executor's own thread
    and the test would race to read the one exit code the forkserver reports. (That workers say
    nothing is checked where their stderr can be read: the corpus and download kill tests.)
    """
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    process = context.Process(target=_worker_start_up, args=(os.getpid(), ready))
    process.start()
    try:
        assert ready.wait(timeout=30)
        os.kill(process.pid, signum)
        process.join(timeout=10)
        assert process.exitcode == 128 + signum  # our handler's code: no KeyboardInterrupt in the worker
    finally:
        if process.is_alive():
            process.kill()
            process.join()
