"""Per-host spacing of requests, shared by every session of the process.

With an interval above zero a host gets one request at a time: a thread takes the
host, waits until at least one interval (plus jitter) has passed since the previous
request to that host *ended*, sends, and gives the host back when its answer is in,
whatever the outcome.  So an error never shortens the delay, a slow answer never
lets the next request start early, and the spacing the server sees is never below
the interval, also with many threads.  With an interval of zero requests run
concurrently and only ``defer`` (a Retry-After) holds them back.

A redirect inside a request re-enters the host it holds (after one more interval);
a thread that already holds a host never waits for another busy host, so two
threads following redirects in opposite directions cannot deadlock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class _HostState:
    __slots__ = ("not_before", "owner")

    def __init__(self) -> None:
        self.not_before = float("-inf")
        self.owner: int | None = None


class HostLimiter:
    """Thread-safe minimum interval (plus jitter) between requests to the same host."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._cond = threading.Condition()
        self._hosts: dict[str, _HostState] = {}
        self._local = threading.local()

    def _gap(self, interval_s: float, jitter_s: float) -> float:
        return interval_s + (self._rng.uniform(0, jitter_s) if jitter_s > 0 and interval_s > 0 else 0.0)

    def _held(self) -> dict[str, list[int]]:
        """Hosts this thread is inside a request to: host -> [depth, owns the host (0/1)]."""
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState()
        return state

    def acquire(self, host: str, interval_s: float, jitter_s: float = 0.0) -> float:
        """Wait for this host's turn; returns the seconds slept.  Pair every call with ``release``."""
        me = threading.get_ident()
        held = self._held()
        with self._cond:
            state = self._state(host)
            if host in held:  # a redirect hop inside our own request: the previous exchange just ended
                held[host][0] += 1
                state.not_before = max(state.not_before, self._clock() + self._gap(interval_s, jitter_s))
            else:
                owns = False
                if interval_s > 0:
                    while state.owner is not None and not held:
                        self._cond.wait(timeout=1.0)
                    if state.owner is None:
                        state.owner, owns = me, True
                held[host] = [1, owns]
            now = self._clock()
            start = max(now, state.not_before)
            state.not_before = start + self._gap(interval_s, jitter_s)
        wait = start - now
        if wait > 0:
            try:
                self._sleep(wait)
            except BaseException:
                self.release(host, interval_s, jitter_s)
                raise
        return max(wait, 0.0)

    def release(self, host: str, interval_s: float, jitter_s: float = 0.0) -> None:
        """A request to ``host`` just ended (in any way): the next one waits a full interval from now."""
        held = self._held()
        with self._cond:
            state = self._state(host)
            state.not_before = max(state.not_before, self._clock() + self._gap(interval_s, jitter_s))
            entry = held.get(host)
            if entry is None:
                return
            entry[0] -= 1
            if entry[0] <= 0:
                del held[host]
                if entry[1] and state.owner == threading.get_ident():
                    state.owner = None
                    self._cond.notify_all()

    def defer(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now (a Retry-After applies to every thread)."""
        with self._cond:
            state = self._state(host)
            state.not_before = max(state.not_before, self._clock() + max(seconds, 0.0))

    def next_slot_in(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 when now)."""
        with self._cond:
            state = self._hosts.get(host)
            return max(state.not_before - self._clock(), 0.0) if state else 0.0


_shared: HostLimiter | None = None
_shared_lock = threading.Lock()


def shared_limiter() -> HostLimiter:
    """The process-wide limiter: two sessions talking to one host still share its spacing."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HostLimiter()
        return _shared
