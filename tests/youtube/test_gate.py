"""The global YouTube request pace holds across threads."""

from __future__ import annotations

import threading
import time

import pytest

from collectors.youtube.gate import RequestGate


def test_requests_from_several_threads_are_spaced_by_the_interval() -> None:
    gate = RequestGate(0.05, 0.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            gate.wait()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 9 and gate.requests == 9
    # 9 requests need 8 intervals, however many threads ask (thread wake-ups only add time)
    assert max(stamps) - started >= 8 * 0.05


def test_jitter_only_adds_time_and_bad_values_are_refused() -> None:
    gate = RequestGate(0.02, 0.02, seed=1)
    started = time.monotonic()
    for _ in range(4):
        gate.wait()
    assert time.monotonic() - started >= 3 * 0.02 and gate.waited_s >= 3 * 0.02
    with pytest.raises(ValueError):
        RequestGate(-1.0)
