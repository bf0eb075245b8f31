"""How politely to talk to one service: intervals, retries, timeouts, identity, cache, robots.

A ``Policy`` is a frozen value; derive variants with ``policy.replace(...)``.
Some hosts have a floor no policy can go below (``HOST_FLOORS``), so a typo in
a config or a command line never hammers a site whose rules we know.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

TOOLKIT_NAME = "genre-dataset-toolkit"
ENV_CONTACT = "GENRE_CONTACT"

#: Minimum seconds between two requests to these hosts, whatever the policy says
#: (MusicBrainz: 1 request/s per its API rules; RateYourMusic: very slow on purpose;
#: Last.fm: 5 requests/s averaged over 5 minutes).
HOST_FLOORS: Mapping[str, float] = {
    "musicbrainz.org": 1.0,
    "rateyourmusic.com": 5.0,
    "ws.audioscrobbler.com": 0.25,
}

_EMAIL = re.compile(r"[^@\s<>()]+@[^@\s<>()]+\.[^@\s<>()]+\Z")
_URL = re.compile(r"https?://[^\s<>()]+\Z")


@lru_cache(maxsize=1)
def toolkit_version() -> str:
    """The installed toolkit's version (``0+unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOLKIT_NAME)
    except PackageNotFoundError:
        return "0+unknown"


def check_contact(contact: str) -> str:
    """The contact, stripped, if it is an e-mail address or an http(s) URL; else ``ValueError``."""
    contact = (contact or "").strip()
    if not (_EMAIL.match(contact) or _URL.match(contact)):
        raise ValueError(f"contact {contact!r} is neither an e-mail address nor an http(s) URL")
    return contact


def host_floor(host: str) -> float:
    """The floor interval for a host name (subdomains of a listed domain share its floor)."""
    host = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
    for domain, floor in HOST_FLOORS.items():
        if host == domain or host.endswith("." + domain):
            return floor
    return 0.0


@dataclass(frozen=True)
class Policy:
    """Politeness settings for one session (defaults suit fetching web pages of a site)."""

    #: seconds between two requests to the same host (never below ``HOST_FLOORS``)
    min_interval_s: float = 1.0
    #: up to this many extra random seconds added to each interval
    jitter_s: float = 0.25
    #: per-host overrides of ``min_interval_s`` ("host" or "host:port")
    host_intervals: Mapping[str, float] = field(default_factory=dict)
    #: retries after the first attempt (429, 5xx, connection errors, truncated bodies)
    max_retries: int = 4
    #: a Retry-After above this stops the run with ``RetryAfterTooLong``
    retry_after_cap_s: float = 120.0
    #: exponential backoff: base * 2**n plus up to ``base`` of jitter, at most ``backoff_max_s``
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    #: retries of a request that reached no server (name lookup failed, connection refused, network
    #: unreachable), ``unreachable_wait_s`` apart, for any method (nothing was sent); then ``Unreachable``
    #: stops the run: offline, the backoff above would only turn one line into minutes of silence
    unreachable_retries: int = 2
    unreachable_wait_s: float = 1.0
    #: (connect, read) timeouts applied to every request that does not set its own
    timeout_s: tuple[float, float] = (10.0, 30.0)
    #: e-mail or URL sent in the User-Agent; None reads $GENRE_CONTACT
    contact: str | None = None
    #: refuse to build a session without a contact (services that ask clients to identify)
    require_contact: bool = False
    #: SQLite file of the response cache, or None for no cache
    cache_path: Path | None = None
    #: seconds a cached response stays fresh; None: forever (a page is never fetched twice)
    cache_expire_s: float | None = None
    #: status codes worth caching (a 404 is an answer too)
    cache_codes: tuple[int, ...] = (200, 404)
    #: fetch and obey robots.txt before any other URL of a host (web pages; documented APIs opt out)
    obey_robots: bool = True
    #: stop with ``Blocked`` at challenge and ban pages
    detect_blocks: bool = True
    #: status codes retried with backoff
    retry_statuses: tuple[int, ...] = (500, 502, 503, 504)
    #: methods retried after 5xx and network errors (429 is retried for every method)
    retry_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

    def __post_init__(self) -> None:
        numbers = {"min_interval_s": self.min_interval_s, "jitter_s": self.jitter_s,
                   "retry_after_cap_s": self.retry_after_cap_s, "backoff_base_s": self.backoff_base_s,
                   "backoff_max_s": self.backoff_max_s, "unreachable_wait_s": self.unreachable_wait_s}
        for name, value in {**numbers, **{f"host_intervals[{h}]": v for h, v in self.host_intervals.items()}}.items():
            if not value >= 0:
                raise ValueError(f"Policy.{name} must be >= 0 seconds, got {value!r}")
        for name in ("max_retries", "unreachable_retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"Policy.{name} must be >= 0, got {getattr(self, name)!r}")
        if len(self.timeout_s) != 2 or min(self.timeout_s) <= 0:
            raise ValueError(f"Policy.timeout_s must be (connect, read) seconds > 0, got {self.timeout_s!r}")
        if self.cache_path is not None:
            object.__setattr__(self, "cache_path", Path(self.cache_path))

    @classmethod
    def api(cls, **overrides: Any) -> Policy:
        """Defaults for a documented API with published rate rules: no robots.txt, short intervals."""
        base: dict[str, Any] = {"obey_robots": False, "min_interval_s": 0.2, "jitter_s": 0.05}
        return cls(**{**base, **overrides})

    def replace(self, **changes: Any) -> Policy:
        return dataclasses.replace(self, **changes)

    def interval_for(self, host: str) -> float:
        """Seconds between requests to ``host`` ("name" or "name:port"), floors applied."""
        host = host.lower()
        chosen = self.host_intervals.get(host)
        if chosen is None:
            chosen = self.host_intervals.get(host.rsplit(":", 1)[0], self.min_interval_s)
        return max(chosen, host_floor(host))

    def resolved_contact(self) -> str | None:
        """The configured contact (policy, else $GENRE_CONTACT), validated; None when unset."""
        raw = self.contact if self.contact is not None else os.environ.get(ENV_CONTACT, "")
        if not raw.strip():
            if self.require_contact:
                from .errors import PolicyError

                raise PolicyError(f"no contact configured: this service asks every client to identify itself; "
                                  f"set {ENV_CONTACT}=you@example.org (or pass --contact)")
            return None
        try:
            return check_contact(raw)
        except ValueError as exc:
            from .errors import PolicyError

            source = "--contact/Policy.contact" if self.contact is not None else f"${ENV_CONTACT}"
            raise PolicyError(f"{source}: {exc}") from None

    @property
    def agent_token(self) -> str:
        """The product token robots.txt rules are matched against."""
        return TOOLKIT_NAME

    def user_agent(self) -> str:
        """The honest User-Agent: toolkit name, version and the user's contact."""
        contact = self.resolved_contact()
        product = f"{TOOLKIT_NAME}/{toolkit_version()}"
        return f"{product} ( {contact} )" if contact else product
