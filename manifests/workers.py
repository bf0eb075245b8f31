"""Worker processes that end with the process that owns them, quietly.

Killed alone (``kill -9``, the out-of-memory killer), a process cannot shut its pool down,
and a worker left behind either waits forever for work or, finding its pipes broken, prints
a ``BrokenPipeError`` traceback. Every pool of the toolkit (audio conversion, the synthetic
corpus, ``training predict``'s decoders) starts its workers with :func:`end_with_owner`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import sys
import threading
import time
from types import FrameType

__all__ = ["OWNER_POLL_S", "end_with_owner", "exit_quietly"]

#: ``prctl`` option: the signal the kernel sends this process when its parent ends (linux/prctl.h)
PR_SET_PDEATHSIG = 1
#: how often a worker without ``pidfd_open`` looks whether its owner still runs
OWNER_POLL_S = 0.5


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
        signal.signal(signum, exit_quietly)
    if owner == os.getppid():
        _set_parent_death_signal(signal.SIGTERM)
    threading.Thread(target=_watch_owner, args=(owner,), name="owner-watch", daemon=True).start()
    if not _is_running(owner):  # it ended before the watch began
        exit_quietly(signal.SIGTERM, None)


def exit_quietly(signum: int, frame: FrameType | None) -> None:
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
    exit_quietly(signal.SIGTERM, None)
