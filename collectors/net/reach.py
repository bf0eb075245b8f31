"""Is a failure "this request failed" or "this host cannot be reached at all"?

A name lookup that fails (an offline machine's resolver answers every name that way),
a refused connection, or an unreachable network or host means that no byte reached the
server.  The backoff meant for a busy server (seconds doubling up to a minute, several
times per request, for every row of a stage) only turns "you are offline" into minutes
of silence, and every later request to that host fails the same way.  So callers retry
such a failure a few times within seconds and then stop the stage with
:class:`~.errors.Unreachable` (``cannot reach HOST: check your connection``), keeping
what is done.  The polite session, the Spotify client and the download stage (yt-dlp)
all decide with :func:`connect_failure`.

The cause is looked for in the exception chain (requests -> urllib3 -> socket; yt-dlp's
``cause``; urllib3's ``reason``), and in the words of the messages for libraries that
pass only text on.  A connect *timeout* is deliberately not a connect failure: a server
that is slow to accept is a busy server, and keeps the ordinary retries.
"""

from __future__ import annotations

import errno
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

#: how many chained exceptions are looked at (chains are short; this bounds a cycle)
_MAX_CHAIN = 32

DNS = "the host name could not be looked up"
REFUSED = "the connection was refused"
NETWORK = "the network is unreachable"
NO_ROUTE = "there is no route to the host"

_ERRNO_WHY = {errno.ECONNREFUSED: REFUSED, errno.ENETUNREACH: NETWORK, errno.ENETDOWN: NETWORK,
              errno.EHOSTUNREACH: NO_ROUTE, errno.EHOSTDOWN: NO_ROUTE}

#: the same failures as messages word them (glibc, macOS, Windows, urllib3, yt-dlp, curl)
_TEXT_WHY: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Failed to resolve|Name or service not known|Temporary failure in name resolution|"
                r"nodename nor servname|getaddrinfo failed|No address associated with hostname|"
                r"Could not resolve host|\[Errno -[235]\]|NameResolutionError", re.IGNORECASE), DNS),
    (re.compile(r"Connection refused|actively refused|\[Errno 111\]|\[Errno 61\]|\[WinError 10061\]",
                re.IGNORECASE), REFUSED),
    (re.compile(r"Network is unreachable|Network is down|\[Errno 101\]|\[Errno 51\]|\[WinError 10051\]",
                re.IGNORECASE), NETWORK),
    (re.compile(r"No route to host|Host is down|\[Errno 113\]|\[Errno 65\]|\[WinError 10065\]",
                re.IGNORECASE), NO_ROUTE),
)
#: where messages name the host they tried (urllib3, yt-dlp)
_TEXT_HOST = (re.compile(r"host='([^']+)', port=(\d+)"), re.compile(r"Failed to resolve '([^']+)'"))


@dataclass(frozen=True)
class ConnectFailure:
    """No server was reached: which host (``host`` or ``host:port``, when known) and why, in words."""

    host: str | None
    why: str


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps, breadth first, each once."""
    seen: set[int] = set()
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(out) < _MAX_CHAIN:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None),
                   getattr(current, "cause", None), *(a for a in getattr(current, "args", ()) if a is not current)]
        exc_info = getattr(current, "exc_info", None)  # yt-dlp's DownloadError keeps the original here
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            wrapped.append(exc_info[1])
        todo.extend(w for w in wrapped if isinstance(w, BaseException))
    return out


def _why_of(exc: BaseException) -> str | None:
    if isinstance(exc, socket.gaierror):
        return DNS
    if isinstance(exc, OSError) and exc.errno in _ERRNO_WHY:
        return _ERRNO_WHY[exc.errno]
    if type(exc).__name__ == "NameResolutionError":  # urllib3's, without importing it here
        return DNS
    return None


def _host_port(host: object, port: object) -> str | None:
    if not isinstance(host, str) or not host:
        return None
    return f"{host}:{port}" if isinstance(port, int) and port not in (80, 443) else host


def host_of(url: str) -> str:
    """``host`` or ``host:port`` (non-default ports only) of a URL, lower-case, without credentials."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return _host_port(host, port) or url


def _host_in(chain: list[BaseException]) -> str | None:
    for exc in chain:
        conn = getattr(exc, "conn", None)  # urllib3's NewConnectionError / NameResolutionError
        found = _host_port(getattr(conn, "host", None), getattr(conn, "port", None))
        if found:
            return found
    for exc in chain:
        for pattern in _TEXT_HOST:
            match = pattern.search(str(exc))
            if match:
                port = int(match.group(2)) if match.lastindex and match.lastindex > 1 else None
                return _host_port(match.group(1), port)
    return None


def connect_failure(exc: BaseException | None, url: str | None = None) -> ConnectFailure | None:
    """The connection-level failure behind ``exc`` (no server reached), or None for any other error.

    ``url`` (what was asked for) names the host when the exceptions do not.
    """
    if exc is None:
        return None
    chain = _chain(exc)
    why = next((w for e in chain if (w := _why_of(e)) is not None), None)
    if why is None:
        text = " ".join(str(e) for e in chain)
        why = next((w for pattern, w in _TEXT_WHY if pattern.search(text)), None)
    if why is None:
        return None
    return ConnectFailure(_host_in(chain) or (host_of(url) if url else None), why)
