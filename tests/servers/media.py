"""A local HTTP media server on 127.0.0.1 that real yt-dlp downloads from, with injectable faults.

Files are served with their real content type and byte ranges (yt-dlp resumes with
Range requests).  Faults per path: ``404``, ``403``, ``429`` (with Retry-After),
``truncate`` (Content-Length promises more than is sent, every time),
``truncate_once`` (only the first request), ``drop`` (connection reset mid-file),
``html_type`` (served as text/html), ``octet_type`` (application/octet-stream),
``slow`` (small chunks with pauses, to be killed mid-download).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPES = {
    "mp3": "audio/mpeg", "webm": "audio/webm", "m4a": "audio/mp4", "ogg": "audio/ogg",
    "flac": "audio/flac", "opus": "audio/ogg", "wav": "audio/wav",
}


class _QuietServer(ThreadingHTTPServer):
    """Faults close sockets under the handler's feet; that is the point, not an error to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        return


class MediaServer:
    """Serves registered byte strings under ``/media/<name>``; ``faults[name]`` changes the answer."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, str] = {}
        self.hits: Counter = Counter()
        #: Cookie header of every request, in order (None when absent)
        self.cookies_seen: list[str | None] = []
        self.slow_chunk = 4096
        self.slow_pause_s = 0.05
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                return

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                match = re.fullmatch(r"/media/([^/?#]+)", self.path.split("?", 1)[0])
                name = match.group(1) if match else ""
                server.hits[name] += 1
                server.cookies_seen.append(self.headers.get("Cookie"))
                fault = server.faults.get(name, "")
                if name not in server.files or fault == "404":
                    self.send_error(404, "Not Found")
                    return
                if fault == "403":
                    self.send_error(403, "Forbidden")
                    return
                if fault == "429":
                    self.send_response(429, "Too Many Requests")
                    self.send_header("Retry-After", "3600")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = server.files[name]
                ext = name.rsplit(".", 1)[-1]
                ctype = {"html_type": "text/html; charset=utf-8", "octet_type": "application/octet-stream"}.get(
                    fault, CONTENT_TYPES.get(ext, "application/octet-stream"))
                start, end = 0, len(data) - 1
                ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                if ranged:
                    start = int(ranged.group(1))
                    end = int(ranged.group(2)) if ranged.group(2) else end
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                body = data[start:end + 1]
                self.send_response(206 if ranged else 200)
                self.send_header("Content-Type", ctype)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(body)))
                if ranged:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                if head:
                    return
                first = server.hits[name] == 1
                if fault == "truncate" or (fault == "truncate_once" and first):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "drop":
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    # RST instead of FIN: the client sees "connection reset by peer"
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if fault == "slow":
                    for offset in range(0, len(body), server.slow_chunk):
                        self.wfile.write(body[offset:offset + server.slow_chunk])
                        self.wfile.flush()
                        time.sleep(server.slow_pause_s)
                    return
                self.wfile.write(body)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="media-server", daemon=True)

    def start(self) -> MediaServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, name: str, data: bytes, fault: str | None = None) -> str:
        self.files[name] = data
        if fault:
            self.faults[name] = fault
        return self.url(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/media/{name}"
