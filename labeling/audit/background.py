"""A second process for the audit's big, independent parts, so a large audit uses two cores.

At 100,000 tracks the audit is CPU-bound Python: validating seven tables, then a dozen checks.
Two parts need nothing from the rest while they run: reading some of the tables, and
checking every audio file's WAV header. :class:`Background` runs such a part in one helper
process (spawned, so it shares no state and no threads with this one) while this process
does the rest; small audits, ``--workers 1`` and one-core machines run everything here,
in the same order, with the same results. Only plain data crosses between the two
(rows, file lists, findings as tuples), never the audit's objects.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from manifests.workers import end_with_owner

log = logging.getLogger(__name__)

T = TypeVar("T")


class Background:
    """At most one helper process, started on the first job worth one; jobs too small run here at once.

    ``workers`` is ``labeling audit --workers``: 1 keeps everything in this process.
    """

    def __init__(self, workers: int = 1) -> None:
        self.enabled = workers > 1
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, fn: Callable[..., T], *args: Any, big: bool) -> Future[T]:
        """``fn(*args)`` in the helper process when ``big`` (and a helper is allowed), else now, here."""
        if self.enabled and big:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=end_with_owner,
                                                 initargs=(os.getpid(),))
                log.debug("started the audit's helper process")
            return self._pool.submit(fn, *args)
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # delivered by result(), as from the helper
            done.set_exception(exc)
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
