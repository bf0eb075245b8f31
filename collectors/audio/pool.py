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

import ctypes
import ctypes.util
import logging
import multiprocessing
import multiprocessing.pool
import os
import queue
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from types import FrameType
from typing import Any

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

#: ``prctl`` option: the signal the kernel sends this process when its parent ends (linux/prctl.h)
PR_SET_PDEATHSIG = 1
#: how often a worker without ``pidfd_open`` looks whether its owner still runs
OWNER_POLL_S = 0.5


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
        _exit_quietly(signal.SIGTERM, None)


def end_with_owner(owner: int) -> None:
    """Worker start-up: end this worker quietly, with its children, when process ``owner`` ends.

    ``owner`` is the process that created the pool.  Three things together:

    * SIGTERM and SIGINT end the worker at once and say nothing (``os._exit``): a pool that
      terminates its workers, or a Ctrl-C that reaches every process of the terminal's group,
      would otherwise have each worker print a ``KeyboardInterrupt`` or ``BrokenPipeError``
      traceback.  The owner handles Ctrl-C; what a worker had half done is redone by a rerun.
    * When ``owner`` is the worker's parent (a fork pool), the kernel sends SIGTERM when it
      ends (Linux ``prctl(PR_SET_PDEATHSIG)``), even while the worker is busy in C code.
    * A watcher thread waits for ``owner`` to end (``pidfd_open``, or a look every
      :data:`OWNER_POLL_S` seconds elsewhere): a forkserver's workers are children of the
      forkserver, which itself waits for its workers, so only the owner's end tells them.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_quietly)
    if owner == os.getppid():
        _set_parent_death_signal(signal.SIGTERM)
    threading.Thread(target=_watch_owner, args=(owner,), name="owner-watch", daemon=True).start()
    if not _is_running(owner):  # it ended before the watch began
        _exit_quietly(signal.SIGTERM, None)


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    """End now, children first (an ffmpeg would finish its file for nobody), without a word."""
    for child in _children():
        try:
            os.kill(child, signal.SIGTERM)
        except OSError:  # ended meanwhile
            pass
    os._exit(128 + signum)


def _children() -> list[int]:
    """This process's children (Linux ``/proc``; none known elsewhere).

    Read as bytes: this may run while the interpreter is shutting down, when even looking
    up a text codec can fail.
    """
    found: list[int] = []
    try:
        for task in os.scandir("/proc/self/task"):
            with open(os.path.join(task.path, "children"), "rb") as handle:
                found += [int(pid) for pid in handle.read().split()]
    except (OSError, ValueError):
        pass
    return found


def _set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel for ``signum`` when the parent ends (Linux); False where that cannot be had."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _is_running(pid: int) -> bool:
    """Whether process ``pid`` still runs (POSIX; elsewhere assumed, as ``os.kill`` would end it)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running, as someone else
        return True
    return True


def _watch_owner(owner: int) -> None:
    """Watcher thread: ends the process quietly once ``owner`` has ended (POSIX only)."""
    if os.name != "posix":
        return
    handle = None
    if hasattr(os, "pidfd_open"):
        try:
            handle = os.pidfd_open(owner)
        except OSError:  # no such process any more, or a kernel before 5.3
            handle = None
    if handle is not None:
        select.select([handle], [], [])  # readable when the process ends
    else:
        while _is_running(owner):
            time.sleep(OWNER_POLL_S)
    _exit_quietly(signal.SIGTERM, None)
