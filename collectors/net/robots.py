"""robots.txt, fetched once per site through the polite session itself, then obeyed.

The rules follow RFC 9309 where it is strict and Python's ``urllib.robotparser``
where it is stricter: 401/403 on robots.txt (the site refuses us) and 5xx or an
unreachable server mean "disallow everything"; other 4xx mean "no rules".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import requests

from .errors import RobotsDisallowed, StopRun
from .redact import redact_text

log = logging.getLogger(__name__)

ROBOTS_PATH = "/robots.txt"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_robots_url(url: str) -> bool:
    return urlsplit(url).path == ROBOTS_PATH


class _Parser(RobotFileParser):
    """``RobotFileParser`` with the two switches its own ``read()`` sets (typeshed leaves them out)."""

    disallow_all: bool
    allow_all: bool


class _Rules:
    """Parsed rules of one site plus a note on how they were obtained."""

    def __init__(self, parser: RobotFileParser, note: str) -> None:
        self.parser, self.note = parser, note


class RobotsGate:
    """Answers "may this URL be fetched?" for one user-agent token, loading each site's rules once."""

    def __init__(self, agent_token: str, fetch: Callable[[str], requests.Response]) -> None:
        self.agent = agent_token
        self._fetch = fetch
        self._rules: dict[str, _Rules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _load(self, origin: str) -> _Rules:
        with self._lock:
            site_lock = self._locks.setdefault(origin, threading.Lock())
        with site_lock:
            if origin in self._rules:
                return self._rules[origin]
            url = origin + ROBOTS_PATH
            parser = _Parser(url)
            try:
                response = self._fetch(url)
            except StopRun:
                raise
            except requests.RequestException as exc:
                parser.disallow_all = True
                note = f"robots.txt unreachable ({redact_text(type(exc).__name__)}), so everything is disallowed"
            else:
                status = response.status_code
                if status in (401, 403):
                    parser.disallow_all = True
                    note = f"robots.txt answered HTTP {status}, so everything is disallowed"
                elif 400 <= status < 500:
                    parser.allow_all = True
                    note = f"no robots.txt (HTTP {status})"
                elif status >= 500:
                    parser.disallow_all = True
                    note = f"robots.txt answered HTTP {status}, so everything is disallowed"
                else:
                    parser.parse(response.text.splitlines())
                    note = "robots.txt rules"
            log.debug("%s: %s", origin, note)
            rules = self._rules[origin] = _Rules(parser, note)
            return rules

    def check(self, url: str) -> None:
        """Return if ``url`` may be fetched; raise ``RobotsDisallowed`` (nothing fetched) if not."""
        if is_robots_url(url):
            return
        rules = self._load(origin_of(url))
        if not rules.parser.can_fetch(self.agent, url):
            raise RobotsDisallowed(url, self.agent, "" if rules.note == "robots.txt rules" else rules.note)

    def crawl_delay(self, url: str) -> float | None:
        """The site's Crawl-delay for our agent, when its rules are loaded and say one."""
        rules = self._rules.get(origin_of(url))
        if rules is None:
            return None
        delay = rules.parser.crawl_delay(self.agent)
        rate = rules.parser.request_rate(self.agent)
        seconds = [float(delay)] if delay is not None else []
        if rate is not None and rate.requests:
            seconds.append(rate.seconds / rate.requests)
        return max(seconds) if seconds else None
