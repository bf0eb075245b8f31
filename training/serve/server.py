"""Running the app on uvicorn: bind first (so port 0 works and the real URL is known), then serve.

:func:`serve` is what ``python -m training serve`` runs in the foreground;
:class:`ServerThread` runs the same server on a background thread, for the browser
tests and anything else that needs a real HTTP server inside the process.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from manifests.listen import bind, url_of

log = logging.getLogger(__name__)


def _config(app: FastAPI, access_log: bool) -> uvicorn.Config:
    # log_config=None: uvicorn logs through the toolkit's own logging setup (-v / -q)
    return uvicorn.Config(app, log_config=None, access_log=access_log, lifespan="on", timeout_graceful_shutdown=5)


def serve(app: FastAPI, sock: socket.socket, access_log: bool = False) -> None:
    """Serve until Ctrl-C (or SIGTERM), then finish the requests in flight."""
    uvicorn.Server(_config(app, access_log)).run(sockets=[sock])


class ServerThread:
    """The app on a real uvicorn server in a background thread: ``with ServerThread(app) as url: ...``."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = uvicorn.Server(_config(app, access_log=False))
        # off the main thread uvicorn leaves the signals alone; stop() ends it
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="uvicorn", daemon=True)

    def start(self, timeout: float = 30.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
