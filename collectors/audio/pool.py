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

Workers end with the process that owns the pool (:func:`end_with_owner`; :class:`OwnedPool`
is a ``multiprocessing`` pool that does the same, for the synthetic corpus): killed alone (``kill -9``, the out-of-memory killer), the
owner cannot shut its pool down, and a worker left behind either waits forever for work
or, finding its pipes broken, prints a ``BrokenPipeError`` traceback.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.pool
import os
import queue
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from manifests.config import usable_cores
from manifests.workers import end_with_owner, exit_quietly

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
    """A pool of ``workers`` conversion processes; pinned one per core when :func:`should_pin` says so.

    Every worker ends, quietly, when this process does (:func:`end_with_owner`).
    """
    context = pool_context()
    cores: multiprocessing.Queue[int] | None = None
    if should_pin(workers, pin):
        chosen = usable_cpus()[:workers]
        cores = context.Queue()
        for core in chosen:
            cores.put(core)
        log.debug("conversion workers pinned one per core: %s", chosen)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_conversion_worker,
                               initargs=(os.getpid(), cores))


def _start_conversion_worker(owner: int, cores: multiprocessing.Queue[int] | None) -> None:
    end_with_owner(owner)
    if cores is not None:
        _pin_to_next_core(cores)


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


# ---------------------------------------------------------------- ending with the owner

class OwnedPool(multiprocessing.pool.Pool):
    """A ``multiprocessing`` pool whose workers end with the process that made it, quietly.

    Each worker runs :func:`end_with_owner`, then the given initializer.  A worker whose
    pipes to the owner break (the owner is gone: nobody is left to take its result) ends
    quietly instead of printing the ``BrokenPipeError`` or ``EOFError`` traceback
    ``multiprocessing`` prints: the pipe can break a moment before the kernel's death signal
    arrives.
    """

    def __init__(self, processes: int, context: multiprocessing.context.BaseContext,
                 initializer: Callable[..., object] | None = None, initargs: Iterable[Any] = ()) -> None:
        super().__init__(processes, _start_owned_worker, (os.getpid(), initializer, tuple(initargs)),
                         context=context)

    @staticmethod
    def Process(ctx: Any, *args: Any, **kwds: Any) -> Any:  # multiprocessing's name and signature
        target, target_args = kwds.pop("target"), kwds.pop("args", ())
        return ctx.Process(*args, target=_run_quietly, args=(target, *target_args), **kwds)


def _start_owned_worker(owner: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    end_with_owner(owner)
    if initializer is not None:
        initializer(*initargs)


def _run_quietly(target: Callable[..., object], *args: Any) -> None:
    """A pool worker's loop; a pipe to the owner that broke ends the worker without a word."""
    try:
        target(*args)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        exit_quietly(signal.SIGTERM, None)


