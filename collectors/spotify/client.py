"""spotipy with our own capped retries, and Spotify's errors turned into advice.

spotipy's default session sleeps through any ``Retry-After`` (Spotify sometimes asks for
hours) and reports every exhausted retry as a 429.  So spotipy is built with
``retries=0, status_retries=0`` and a session that retries nothing, and every call goes
through :meth:`SpotifyClient.call`, which

* waits out a 429's ``Retry-After`` only up to ``max_retry_after_s`` (and a total budget),
  and beyond that raises :class:`StopCollecting` so the run ends cleanly with what it has;
* retries 5xx answers, connection resets, timeouts and truncated bodies a few times with
  exponential backoff;
* lets :class:`~collectors.net.Unreachable` through (no server reached: name lookup failed,
  connection refused, network unreachable; the polite session already retried it for a
  few seconds): offline, ``collect`` ends at once with ``cannot reach HOST: check your
  connection``, the playlists finished before it saved;
* turns 401 / 403 / 404 into :class:`SpotifyError` with a ``kind`` and a message that says
  what to do (copy the playlist, export it, sign in again, ...).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import spotipy
from spotipy.exceptions import SpotifyException

from collectors.net import HostLimiter, Policy, StopRun, Unreachable, connect_failure, make_session
from collectors.net.reach import host_of
from collectors.net.redact import RedactingFilter

log = logging.getLogger(__name__)

T = TypeVar("T")

EXPORT_HINT = ("copy it into a playlist you own (select all tracks in the Spotify app, add to a new playlist), "
               "or export it with Exportify (https://exportify.net or https://watsonbox.github.io/exportify/), "
               "then `python -m collectors import-export FILE.csv --genre GENRE`")

#: run-ending error kinds: every other playlist would fail the same way
FATAL_KINDS = frozenset({"unauthorized", "premium", "not_registered", "rate_limited", "network", "blocked"})


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to try again before giving up (all configurable on the command line)."""

    #: the longest single Retry-After we wait out; a longer one stops the run
    max_retry_after_s: float = 120.0
    #: the most we sleep for Retry-After in one run, all waits together
    max_total_wait_s: float = 900.0
    #: retries after the first attempt for 5xx answers and network errors
    max_retries: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    #: used when a 429 comes without a Retry-After header
    default_retry_after_s: float = 5.0


class SpotifyError(Exception):
    """A refused request, with a ``kind`` the pipeline acts on and a message a user can act on."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.status = kind, status

    @property
    def fatal(self) -> bool:
        return self.kind in FATAL_KINDS


class StopCollecting(SpotifyError):
    """Spotify asked us to wait longer than allowed (or the network is gone): stop, keep what is done."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent/invalid."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _message(exc: SpotifyException) -> str:
    """Spotify's own message (spotipy prefixes it with the URL; keep only the message)."""
    msg = str(exc.msg or "")
    return msg.split(":\n", 1)[1].strip() if ":\n" in msg else msg.strip()


def classify(exc: SpotifyException, what: str) -> SpotifyError:
    """A SpotifyException as a SpotifyError whose message teaches the fix."""
    status, msg = exc.http_status, _message(exc)
    detail = f" (Spotify said: {msg})" if msg else ""
    low = msg.lower()
    if status == 401:
        return SpotifyError("unauthorized", f"{what}: Spotify rejected the access token (401){detail}; sign in "
                            "again with `python -m collectors spotify-login` (or, with --auth client, check "
                            "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET)", status)
    if status == 403 and "premium" in low:
        return SpotifyError("premium", f"{what}: Spotify requires an active Premium subscription for the owner of "
                            f"the app (development mode, since 2026){detail}; subscribe with the account that "
                            "created the app (it can take a few hours to take effect) or import exports offline "
                            "with `python -m collectors import-export`", status)
    if status == 403 and ("not registered" in low or "not approved" in low or "developer dashboard" in low):
        return SpotifyError("not_registered", f"{what}: this Spotify account is not allowed to use the app "
                            f"(403){detail}; add it under User Management in the app's dashboard", status)
    if status == 403:
        return SpotifyError("not_owner", f"{what}: Spotify refused access (403){detail}. Development-mode apps "
                            "can read the items only of playlists you own or collaborate on: " + EXPORT_HINT, status)
    if status == 404:
        return SpotifyError("not_found", f"{what}: not found (404){detail}. The ID may be wrong or the playlist "
                            "deleted; Spotify-owned and editorial playlists (IDs starting 37i9dQZF...) are not "
                            "readable by development-mode apps: " + EXPORT_HINT, status)
    if status == 400:
        return SpotifyError("bad_request", f"{what}: Spotify refused the request (400){detail}", status)
    if status == 429:
        return StopCollecting("rate_limited", f"{what}: Spotify rate limit (429){detail}; stopped, rerun later "
                              "to continue", status)
    return SpotifyError("server", f"{what}: Spotify answered {status}{detail}", status)


def make_spotify_session(min_interval_s: float = 0.1, timeout_s: float = 30.0,
                         limiter: HostLimiter | None = None) -> requests.Session:
    """A session from the shared polite layer that spaces requests but retries nothing itself.

    Retries live in :meth:`SpotifyClient.call` (they must see Spotify's error bodies to
    teach), so the layer's own retries are off and its Retry-After cap is out of the way.
    No response cache: playlists change, and their snapshot IDs decide what is re-read.
    """
    policy = Policy.api(min_interval_s=min_interval_s, jitter_s=0.0, max_retries=0, retry_after_cap_s=1e9,
                        timeout_s=(10.0, timeout_s), cache_path=None)
    return make_session(policy, limiter=limiter)


_NETWORK_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                   requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


class SpotifyClient:
    """One spotipy client plus the retry rules; counts every HTTP attempt it makes."""

    def __init__(self, auth_manager: Any, session: requests.Session, *, api_url: str,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 timeout_s: float = 30.0, rng: random.Random | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.sp = spotipy.Spotify(auth_manager=auth_manager, requests_session=session, retries=0,
                                  status_retries=0, requests_timeout=timeout_s)
        self.sp.prefix = api_url.rstrip("/") + "/"
        self.attempts = 0
        self.retries = 0
        self.waited_s = 0.0
        quiet_spotipy()

    def _backoff(self, attempt: int) -> float:
        base = self.policy.backoff_base_s * 2.0 ** attempt
        return min(base + self.rng.uniform(0, self.policy.backoff_base_s), self.policy.backoff_max_s)

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` with capped retries; ``what`` names the request in messages."""
        failures = 0
        while True:
            self.attempts += 1
            try:
                return fn(*args, **kwargs)
            except SpotifyException as exc:
                if exc.http_status == 429:
                    self._wait_retry_after(exc, what)
                    self.retries += 1
                    continue
                if exc.http_status is not None and exc.http_status >= 500 and failures < self.policy.max_retries:
                    delay = self._backoff(failures)
                    failures += 1
                    self.retries += 1
                    log.info("%s: Spotify answered %s; retry %d/%d in %.1f s", what, exc.http_status, failures,
                             self.policy.max_retries, delay)
                    self.sleep(delay)
                    continue
                raise classify(exc, what) from None
            except _NETWORK_ERRORS as exc:
                failure = connect_failure(exc)
                if failure is not None:  # a plain session: the polite one retries briefly, raises Unreachable
                    raise Unreachable(failure.host or host_of(self.sp.prefix), failure.why) from None
                if failures < self.policy.max_retries:
                    delay = self._backoff(failures)
                    failures += 1
                    self.retries += 1
                    log.info("%s: network error (%s); retry %d/%d in %.1f s", what, type(exc).__name__,
                             failures, self.policy.max_retries, delay)
                    self.sleep(delay)
                    continue
                raise StopCollecting("network", f"{what}: no answer from Spotify after {failures + 1} attempts "
                                     f"({type(exc).__name__}); stopped, check the connection and rerun") from None
            except Unreachable:  # offline: every other playlist would fail the same way, within seconds
                raise
            except StopRun as exc:  # the polite layer saw a block page
                raise StopCollecting("blocked", f"{what}: {exc}") from None

    def _wait_retry_after(self, exc: SpotifyException, what: str) -> None:
        headers = exc.headers or {}
        asked = parse_retry_after(headers.get("Retry-After") if hasattr(headers, "get") else None)
        wait = self.policy.default_retry_after_s if asked is None else asked
        if wait > self.policy.max_retry_after_s:
            raise StopCollecting("rate_limited", f"{what}: Spotify rate limit (429) asks to wait {wait:.0f} s, more "
                                 f"than the {self.policy.max_retry_after_s:.0f} s cap (--max-retry-after); stopped "
                                 "keeping what was collected, rerun later to continue", 429)
        if self.waited_s + wait > self.policy.max_total_wait_s:
            raise StopCollecting("rate_limited", f"{what}: Spotify rate limit (429) again; this run already waited "
                                 f"{self.waited_s:.0f} s (cap {self.policy.max_total_wait_s:.0f} s, "
                                 "--max-wait-total); stopped keeping what was collected, rerun later", 429)
        log.info("%s: Spotify rate limit, waiting %.0f s (Retry-After)", what, wait)
        self.waited_s += wait
        self.sleep(wait)


_DROPPED_PREFIXES = ("HTTP Error for", "Max Retries", "Sending ", "RESULTS:")


class _SpotipyLogFilter(RedactingFilter):
    """spotipy logs request headers and bodies (tokens, the PKCE verifier) at debug level and every HTTP
    error at ERROR with its full URL; drop those lines (our own messages replace them) and redact the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(_DROPPED_PREFIXES):
            return False
        return super().filter(record)


_FILTER = _SpotipyLogFilter()


def quiet_spotipy() -> None:
    """Attach the filter to spotipy's loggers (idempotent; runs when a client is built, not at import)."""
    for name in ("spotipy.client", "spotipy.oauth2"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
