"""A real HTTP server on 127.0.0.1 whose answers a test scripts, and which records every request.

Used by the net and sources tests: each route is a path (query ignored unless the
route is a callable) mapped to a queue of ``Reply`` objects (the last one repeats)
or to a function ``Hit -> Reply``.  ``site.hits`` holds what actually arrived,
with server-side monotonic timestamps, so tests measure real request spacing.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay_s: float = 0.0
    #: "reset": close the socket without answering; "truncate": promise more bytes than sent
    fault: str | None = None

    @classmethod
    def json(cls, payload: object, status: int = 200, **kw) -> Reply:
        return cls(status, json.dumps(payload), content_type="application/json; charset=utf-8", **kw)

    @classmethod
    def text(cls, text: str, status: int = 200, **kw) -> Reply:
        return cls(status, text, content_type="text/plain; charset=utf-8", **kw)


@dataclass
class Hit:
    t: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


Route = list[Reply] | Callable[[Hit], Reply]


class LocalSite:
    """Start with ``with LocalSite() as site:``; ``site.url('/path')`` gives the full URL."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.default = Reply(404, "<html><head><title>Not found</title></head><body>nothing</body></html>")
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------- scripting
    def route(self, path: str, *replies: Reply | Callable[[Hit], Reply]) -> LocalSite:
        if len(replies) == 1 and callable(replies[0]) and not isinstance(replies[0], Reply):
            self.routes[path] = replies[0]  # type: ignore[assignment]
        else:
            self.routes[path] = list(replies)  # type: ignore[arg-type]
        return self

    def hits_to(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def paths(self) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits]

    def gaps(self, *, exclude: tuple[str, ...] = ()) -> list[float]:
        """Seconds between consecutive arrivals (server clock)."""
        with self._lock:
            times = [h.t for h in self.hits if h.path not in exclude]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    def url(self, path: str = "/") -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    @property
    def host(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    # ---------------------------------------------------------- serving
    def _answer(self, hit: Hit) -> Reply:
        with self._lock:
            self.hits.append(hit)
            route = self.routes.get(hit.path)
            if route is None:
                return self.default
            if callable(route):
                pass
            elif len(route) > 1:
                return route.pop(0)
            else:
                return route[0]
        return route(hit)

    def __enter__(self) -> LocalSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                t = time.monotonic()
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                hit = Hit(t, self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()})
                reply = site._answer(hit)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                declared = len(body) + (500 if reply.fault == "truncate" else 0)
                self.send_header("Content-Length", str(declared))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.fault == "truncate":
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
