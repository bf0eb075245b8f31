"""A second process for the audit's big, independent parts, so a large audit uses two cores.

At 100,000 tracks the audit is CPU-bound Python: validating seven tables, then a dozen checks.
Some parts need little from the rest while they run: reading some of the tables, checking
every audio file's WAV header, the checks on the claims table (which the helper keeps), and
drawing the plots. :class:`Background` runs such a part in one helper process (spawned, so
it shares no state and no threads with this one) while this process does the rest; small
audits, ``--workers 1`` and one-core machines run everything here, with the same results.
Only plain data crosses between the two (columns, file lists, track IDs, sections as
tuples), never the audit's objects.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from manifests.io import gc_paused
from manifests.workers import end_with_owner

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Pickled jobs and answers larger than this go through a file rather than the pool's pipe.
SPILL_BYTES = 256 << 10


def _spill(data: bytes, folder: str, limit: int) -> bytes | str:
    """``data`` itself when under ``limit`` bytes, else the path of a file in ``folder`` that holds it.

    Through the pool's pipe, a message of megabytes (100,000 file paths, a table's columns)
    goes 64 KiB at a time, each piece sent or taken by a thread of the audit's own process
    that must wait for the interpreter lock while that process works: half-second stalls
    measured at 100,000 tracks. A file is written and read in one system call each.
    """
    if len(data) < limit:
        return data
    try:
        fd, path = tempfile.mkstemp(dir=folder, suffix=".pickle")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError:  # a full or read-only temporary folder: the pipe still works
        return data
    return path


def _unspill(message: bytes | str) -> bytes:
    """What :func:`_spill` was given (the file, read once, is removed)."""
    if isinstance(message, bytes):
        return message
    try:
        with open(message, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(message)


def _call_packed(job: bytes | str, folder: str, limit: int) -> bytes | str:
    """In the helper process: unpickle ``(fn, args)``, call it, and pickle the answer here too.

    The collector is paused meanwhile, as in the audit's own process (see ``gc_paused``).
    """
    with gc_paused():
        fn, args = pickle.loads(_unspill(job))
        return _spill(pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL), folder, limit)


class Pending(Generic[T]):
    """A job's answer, unpickled by whoever asks for it (``result``), in the thread that asks.

    The pool's own thread would otherwise pickle the arguments and unpickle the answers of
    hundreds of thousands of rows while this process works, the two fighting over the GIL.
    """

    def __init__(self, future: Future[bytes | str]) -> None:
        self._future = future

    def result(self) -> T:
        answer: T = pickle.loads(_unspill(self._future.result()))  # from our own helper process
        return answer


class Done(Generic[T]):
    """A job run here at once: its answer, or the exception it raised, delivered by ``result``."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._value: T | None = None
        self._error: Exception | None = None
        try:
            self._value = fn(*args)
        except Exception as exc:  # delivered by result(), as from the helper
            self._error = exc

    def result(self) -> T:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set unless _error is


class Background:
    """At most one helper process, started on the first job worth one; jobs too small run here at once.

    ``workers`` is ``labeling audit --workers``: 1 keeps everything in this process. A job for
    the helper is a module-level function and plain data: both cross pickled, by the side that
    has them (:class:`Pending`).
    """

    def __init__(self, workers: int = 1) -> None:
        self.enabled = workers > 1
        self._pool: ProcessPoolExecutor | None = None
        self._folder: str | None = None  # where large jobs and answers travel (removed by close)
        self._futures: list[Future[bytes | str]] = []

    def submit(self, fn: Callable[..., T], *args: Any, big: bool) -> Pending[T] | Done[T]:
        """``fn(*args)`` in the helper process when ``big`` (and a helper is allowed), else now, here."""
        if not (self.enabled and big):
            return Done(fn, args)
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._folder = tempfile.mkdtemp(prefix="audit-helper-")
            self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=end_with_owner,
                                             initargs=(os.getpid(),))
            log.debug("started the audit's helper process")
        assert self._folder is not None
        job = _spill(pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL), self._folder, SPILL_BYTES)
        future = self._pool.submit(_call_packed, job, self._folder, SPILL_BYTES)
        self._futures.append(future)
        return Pending(future)

    @property
    def started(self) -> bool:
        """Whether the helper process has been started (a job was worth one)."""
        return self._pool is not None

    def close(self) -> None:
        """Stop the helper; wait for it only while a job of it still runs (an audit that failed midway).

        Once every answer is in, the helper's own exit (tearing down its interpreter, a tenth of a
        second or more) overlaps with this process writing the report; the pool reaps it later.
        """
        if self._pool is not None:
            busy = any(not future.done() for future in self._futures)
            self._pool.shutdown(wait=busy, cancel_futures=True)
            self._pool = None
            self._futures = []
        if self._folder is not None:  # answers nobody asked for, jobs cancelled before they ran
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
