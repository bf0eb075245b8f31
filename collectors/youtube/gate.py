"""One global pace for every request we send to YouTube, across threads.

Searches (ytmusicapi, yt-dlp ``ytsearch``) and video extractions all pass through
the same gate, so adding download workers never multiplies the request rate.
yt-dlp's own ``sleep_interval`` adds the longer random pause before each download.
"""

from __future__ import annotations

import logging
import random
import threading
import time

log = logging.getLogger(__name__)


class RequestGate:
    """At most one request every ``interval_s`` seconds (plus up to ``jitter_s``), shared by threads."""

    def __init__(self, interval_s: float = 1.0, jitter_s: float = 0.5, *, seed: int | None = None) -> None:
        if interval_s < 0 or jitter_s < 0:
            raise ValueError("request interval and jitter must be >= 0")
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self._next = 0.0
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.waited_s = 0.0
        self.requests = 0

    def wait(self) -> float:
        """Block until this caller may send its request; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            gap = self.interval_s + (self._random.uniform(0, self.jitter_s) if self.jitter_s else 0.0)
            self._next = start + gap
            self.requests += 1
        delay = start - now
        if delay > 0:
            log.debug("waiting %.2f s before the next YouTube request", delay)
            time.sleep(delay)
            with self._lock:
                self.waited_s += delay
        return delay
