"""Exceptions of the polite HTTP layer.

``StopRun`` and its subclasses mean "stop now, keep what is done": a caller
catches them around its whole loop, flushes its progress and exits with the
message.  ``Unreachable`` (a subclass) means no server could be reached at all (offline,
or the host is down): ``cannot reach HOST: check your connection``, in one line.
``RobotsDisallowed`` concerns one URL only: skip it and go on.  All
subclass :class:`manifests.errors.UserError`, so an uncaught one still ends a
command with a one-line error instead of a traceback.  Messages are redacted:
API keys and tokens in URLs never reach a log or a terminal.
"""

from __future__ import annotations

from manifests.errors import UserError

from .redact import redact_text, redact_url


class NetError(UserError):
    """Base class: a refused or impossible request, described in one redacted line."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


class PolicyError(NetError):
    """The politeness settings cannot be used (e.g. no contact configured where one is required)."""


class RobotsDisallowed(NetError):
    """robots.txt of the host forbids this URL for our user agent; it was not fetched."""

    def __init__(self, url: str, agent: str, why: str = "") -> None:
        self.url = redact_url(url)
        self.agent = agent
        detail = f" ({why})" if why else ""
        super().__init__(f"{self.url}: refused, robots.txt of this site disallows it for {agent}{detail}; "
                         "not fetched")


class StopRun(NetError):
    """The site asked us to stop (or showed a block page): stop the run cleanly and keep progress."""

    def __init__(self, message: str, url: str) -> None:
        self.url = redact_url(url)
        super().__init__(message)


class RetryAfterTooLong(StopRun):
    """The server asked to wait (Retry-After) longer than the configured cap."""

    def __init__(self, url: str, retry_after_s: float, cap_s: float, status: int) -> None:
        self.retry_after_s, self.cap_s, self.status = retry_after_s, cap_s, status
        super().__init__(
            f"{redact_url(url)}: HTTP {status}, the server asks to wait {retry_after_s:.0f} s before the next "
            f"request, more than the {cap_s:.0f} s cap; stopped (rerun later to continue)", url)


class Blocked(StopRun):
    """A challenge or ban page: the site does not want automated requests from us right now."""

    def __init__(self, url: str, reason: str, status: int) -> None:
        self.reason, self.status = reason, status
        super().__init__(f"{redact_url(url)}: HTTP {status}, {reason}; stopped: this toolkit never solves "
                         "challenges or evades blocks", url)


class Unreachable(StopRun):
    """No server was reached (name lookup failed, connection refused, network unreachable), even after a
    short retry: the machine is offline or the host is down, and every further request would fail the same
    way, so the stage stops at once instead of backing off for minutes (see :mod:`.reach`).

    ``brief`` is the first part of the message, for callers that add their own "rerun" advice.
    """

    def __init__(self, host: str, why: str = "", url: str = "") -> None:
        self.host, self.why = host, why
        detail = f" ({why})" if why else ""
        self.brief = redact_text(f"cannot reach {host}: check your connection{detail}")
        super().__init__(f"{self.brief}; finished work is saved, rerun the same command to continue", url or host)
