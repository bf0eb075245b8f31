"""The process pool that converts audio: forkserver workers, each pinned to a core of its own.

Why pin: ffmpeg (7 and later) runs demuxer, decoder, filters, encoder and muxer in
threads of their own that hand every frame to the next. One conversion therefore
spreads over about 1.5 cores, and when several conversions share the cores their
threads keep waking each other across cores (close to half of ffmpeg's CPU time is system time). Pinning
each worker, and so the ffmpeg it starts (children inherit the CPU mask), to one core
keeps those hand-offs on one core: less CPU per file, so N pinned workers convert
more than N free ones, and throughput grows almost linearly with workers up to the
core count (see ``python -m collectors.audio.bench``).

A single worker is left free: alone, ffmpeg's threads are best spread over the cores.
Pinning needs ``os.sched_setaffinity`` (Linux); elsewhere workers run free.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from concurrent.futures import ProcessPoolExecutor

from manifests.config import usable_cores

log = logging.getLogger(__name__)


def usable_cpus() -> list[int]:
    """The IDs of the CPUs this process may run on, to pin workers to (their number is ``usable_cores()``)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(usable_cores()))


def pool_context() -> multiprocessing.context.BaseContext:
    """Process start method for conversion workers: never plain fork (our threads may hold locks).

    forkserver forks each worker from one clean, single-threaded server that has the
    converter imported already, so starting workers costs milliseconds, not an import.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["collectors.audio.convert"])
        return context
    return multiprocessing.get_context("spawn")


def should_pin(workers: int, pin: bool | None = None) -> bool:
    """``pin`` None means automatic: pin when 2 <= workers <= usable cores and the OS allows it."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    if pin is not None:
        return pin and workers <= usable_cores()
    return 2 <= workers <= usable_cores()


def conversion_pool(workers: int, pin: bool | None = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` conversion processes; pinned one per core when :func:`should_pin` says so."""
    context = pool_context()
    if not should_pin(workers, pin):
        return ProcessPoolExecutor(workers, mp_context=context)
    chosen = usable_cpus()[:workers]
    cores: multiprocessing.Queue[int] = context.Queue()
    for core in chosen:
        cores.put(core)
    log.debug("conversion workers pinned one per core: %s", chosen)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_pin_to_next_core, initargs=(cores,))


def _pin_to_next_core(cores: multiprocessing.Queue[int]) -> None:
    """Worker start-up: take a core nobody else has and stay on it (so does every ffmpeg it starts)."""
    try:
        core = cores.get(timeout=5)
    except queue.Empty:  # a replacement worker after every core was handed out: run free
        return
    try:
        os.sched_setaffinity(0, {core})
    except OSError as exc:  # the core went away (CPU hot-unplug, a changed cpuset): run free
        log.debug("could not pin conversion worker to CPU %s: %s", core, exc)
