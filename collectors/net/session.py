"""``PoliteSession``: a ``requests.Session`` that waits its turn, retries gently and stops when asked.

Order of operations for every request::

    cache (requests-cache, SQLite)  -- a hit returns here: no request, no wait
      -> robots.txt gate            -- a disallowed URL raises RobotsDisallowed, nothing is sent
      -> per-host limiter           -- min interval + jitter, also after errors
      -> HTTP                       -- with the policy's timeouts and honest User-Agent
      -> block detection            -- challenge/ban page: Blocked (never cached)
      -> 429 / 5xx / network error  -- Retry-After honoured up to the cap (beyond: RetryAfterTooLong),
                                       else exponential backoff with jitter (tenacity)
      -> no server reached          -- name lookup failed, connection refused, network unreachable:
                                       a short retry (seconds), then Unreachable stops the run
                                       ("cannot reach HOST: check your connection", see .reach)
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests_cache import CacheMixin
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from .blocks import block_reason
from .errors import Blocked, RetryAfterTooLong, StopRun, Unreachable
from .limiter import HostLimiter, shared_limiter
from .policy import Policy
from .reach import connect_failure
from .redact import install_log_redaction, redact_text, redact_url
from .robots import RobotsGate, is_robots_url

log = logging.getLogger(__name__)

#: robots.txt is re-read after a day even when pages are cached forever
ROBOTS_TTL_S = 24 * 3600
#: parameters left out of cache keys and scrubbed from stored requests
CACHE_IGNORED = ("Authorization", "Proxy-Authorization", "X-API-Key", "X-Auth-Token", "X-API-Token",
                 "X-Access-Token", "Cookie", "api_key", "apikey", "access_token", "refresh_token",
                 "client_secret", "token", "sk", "api_sig", "sig")
_NO_RETRY_ERRORS = (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                    requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
                    requests.exceptions.TooManyRedirects, requests.exceptions.InvalidHeader)
_NETWORK_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                   requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a Retry-After header (delay-seconds or HTTP-date); None when absent or invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(seconds, 0.0)


def host_key(url: str) -> str:
    """``host`` or ``host:port`` of a URL, lower-case, without credentials: the limiter's key."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


class _RetryableStatus(Exception):
    """An HTTP answer worth another try (429, 5xx); carries the response and any Retry-After."""

    def __init__(self, response: requests.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response, self.retry_after = response, retry_after


def _reached_no_server(exc: BaseException | None) -> bool:
    """A connection error before anything was sent: name lookup failed, refused, network unreachable."""
    return isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(exc, _NO_RETRY_ERRORS) \
        and connect_failure(exc) is not None


def _redacted_copy(exc: requests.RequestException) -> requests.RequestException:
    """The same kind of requests exception with secrets removed from its message."""
    try:
        return type(exc)(redact_text(str(exc)), request=exc.request, response=exc.response)
    except Exception:  # an exotic subclass with another signature
        return requests.exceptions.RequestException(redact_text(str(exc)))


class _PoliteTransport(requests.Session):
    """The part of the session below the cache: robots, limiter, retries, block detection."""

    policy: Policy
    limiter: HostLimiter
    robots: RobotsGate | None
    _sleep: Callable[[float], None]

    @property
    def user_agent(self) -> str:
        return str(self.headers["User-Agent"])

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.policy.timeout_s
        request.headers["User-Agent"] = self.user_agent
        if self.robots is not None and not is_robots_url(url):
            self.robots.check(url)
        return self._send_with_retries(request, url, kwargs)

    def _interval(self, url: str, host: str) -> float:
        interval = self.policy.interval_for(host)
        if self.robots is not None:
            delay = self.robots.crawl_delay(url)
            if delay is not None:
                interval = max(interval, delay)
        return interval

    def _should_retry(self, method: str) -> Callable[[BaseException], bool]:
        idempotent = method in self.policy.retry_methods

        def decide(exc: BaseException) -> bool:
            if isinstance(exc, _RetryableStatus):
                return exc.response.status_code == 429 or idempotent
            if isinstance(exc, _NO_RETRY_ERRORS) or isinstance(exc, StopRun):
                return False
            if _reached_no_server(exc):
                return True  # nothing was sent, whatever the method; the short budget of _stop applies
            if isinstance(exc, requests.exceptions.ConnectTimeout):
                return True  # nothing reached the server
            return isinstance(exc, _NETWORK_ERRORS) and idempotent

        return decide

    def _stop(self) -> Callable[[RetryCallState], bool]:
        """Give up after ``max_retries``, or after ``unreachable_retries`` when no server was reached."""
        policy = self.policy

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            limit = policy.unreachable_retries if _reached_no_server(exc) else policy.max_retries
            return state.attempt_number > limit

        return stop

    def _wait(self, backoff: wait_exponential_jitter) -> Callable[[RetryCallState], float]:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if _reached_no_server(exc):
                return self.policy.unreachable_wait_s
            seconds = backoff(state)
            asked = getattr(exc, "retry_after", None)
            return max(seconds, asked) if asked is not None else seconds

        return wait

    def _send_with_retries(self, request: requests.PreparedRequest, url: str,
                           kwargs: dict[str, Any]) -> requests.Response:
        policy, host = self.policy, host_key(url)
        method = (request.method or "GET").upper()
        safe_url = redact_url(url)
        stream = bool(kwargs.get("stream"))

        def attempt() -> requests.Response:
            interval = self._interval(url, host)
            waited = self.limiter.acquire(host, interval, policy.jitter_s)
            started = time.monotonic()
            try:
                response = requests.Session.send(self, request, **kwargs)
            finally:
                self.limiter.release(host, interval, policy.jitter_s)
            log.debug("%s %s -> %s (waited %.2f s, took %.2f s)", method, safe_url, response.status_code,
                      waited, time.monotonic() - started)
            return self._judge(response, url, host, stream)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if _reached_no_server(exc):  # info only: if it persists, the one line of Unreachable says it
                failure = connect_failure(exc, url)
                log.info("%s %s: %s; retry %d/%d in %.1f s", method, safe_url, failure.why if failure else "",
                         state.attempt_number, policy.unreachable_retries, state.upcoming_sleep)
                return
            what = str(exc) if isinstance(exc, _RetryableStatus) else type(exc).__name__
            log.warning("%s %s: %s; retry %d/%d in %.1f s", method, safe_url, redact_text(what),
                        state.attempt_number, policy.max_retries, state.upcoming_sleep)

        backoff = wait_exponential_jitter(multiplier=policy.backoff_base_s, max=policy.backoff_max_s,
                                          jitter=policy.backoff_base_s)
        retrying = Retrying(stop=self._stop(), wait=self._wait(backoff),
                            retry=retry_if_exception(self._should_retry(method)), sleep=self._sleep,
                            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except _RetryableStatus as exc:
            if policy.max_retries > 0:  # with no retries here, the caller owns retrying: no alarm
                log.warning("%s %s: still HTTP %s after %d attempts; giving up on it", method, safe_url,
                            exc.response.status_code, policy.max_retries + 1)
            return exc.response
        except requests.RequestException as exc:
            failure = connect_failure(exc, url) if _reached_no_server(exc) else None
            if failure is not None:
                raise Unreachable(failure.host or host, failure.why, url) from None
            raise _redacted_copy(exc) from None

    def _judge(self, response: requests.Response, url: str, host: str, stream: bool) -> requests.Response:
        status = response.status_code
        if self.policy.detect_blocks:
            reason = block_reason(response, inspect_body=not stream or status >= 400)
            if reason:
                response.close()
                raise Blocked(url, reason, status)
        if status == 429 or status in self.policy.retry_statuses:
            asked = parse_retry_after(response.headers.get("Retry-After"))
            if asked is not None and asked > self.policy.retry_after_cap_s:
                response.close()
                raise RetryAfterTooLong(url, asked, self.policy.retry_after_cap_s, status)
            if asked and self.policy.max_retries > 0:  # every thread waits, not only the one retrying
                self.limiter.defer(host, asked)
            raise _RetryableStatus(response, asked)
        return response


class PoliteSession(CacheMixin, _PoliteTransport):
    """A cached, rate-limited, robots-aware ``requests.Session`` (hand it to spotipy or ytmusicapi).

    ``cache_filter(response) -> bool`` may veto caching a response (e.g. an API error
    that arrives with HTTP 200).  ``limiter`` defaults to the process-wide one.
    """

    def __init__(self, policy: Policy | None = None, *, limiter: HostLimiter | None = None,
                 cache_filter: Callable[[requests.Response], bool] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        policy = policy or Policy()
        user_agent = policy.user_agent()  # validates the contact before anything else
        self.policy = policy
        self.limiter = limiter or shared_limiter()
        self._sleep = sleep
        self.robots = RobotsGate(policy.agent_token, self._fetch_robots) if policy.obey_robots else None
        if policy.cache_path is not None:
            policy.cache_path.parent.mkdir(parents=True, exist_ok=True)
            backend, name = "sqlite", str(policy.cache_path)
        else:
            backend, name = "memory", "uncached"
        super().__init__(cache_name=name, backend=backend,
                         expire_after=-1 if policy.cache_expire_s is None else policy.cache_expire_s,
                         allowable_codes=policy.cache_codes, allowable_methods=("GET", "HEAD"),
                         ignored_parameters=CACHE_IGNORED, filter_fn=cache_filter)
        if policy.cache_path is None:
            self.settings.disabled = True
        self.headers["User-Agent"] = user_agent
        install_log_redaction()

    def close(self) -> None:
        """Close the cache and the connections (requests-cache's ``close`` is not annotated)."""
        super().close()  # type: ignore[no-untyped-call]

    def _fetch_robots(self, url: str) -> requests.Response:
        return self.get(url, expire_after=ROBOTS_TTL_S, timeout=self.policy.timeout_s)

    def __repr__(self) -> str:
        where = self.policy.cache_path or "no cache"
        return f"<PoliteSession {self.user_agent!r} cache={where}>"


def make_session(policy: Policy | None = None, *, limiter: HostLimiter | None = None,
                 cache_filter: Callable[[requests.Response], bool] | None = None) -> PoliteSession:
    """The one way collectors build an HTTP session (see the package docstring)."""
    return PoliteSession(policy, limiter=limiter, cache_filter=cache_filter)
