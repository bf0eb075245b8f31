"""What every embedded yt-dlp here shares: a logger that keeps its chatter out of the terminal, and deno.

yt-dlp needs a JavaScript runtime to solve YouTube's player challenges; when the
toolkit's venv is used without being activated, deno is not on PATH, so we pass
its path explicitly (``js_runtimes``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from .errors import clean_message

log = logging.getLogger(__name__)


class YtDlpLogger:
    """Routes yt-dlp's output to our logging (debug level) and remembers its last error line."""

    def __init__(self) -> None:
        self.last_error: str | None = None

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", clean_message(msg))

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", clean_message(msg))

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", clean_message(msg))

    def error(self, msg: str) -> None:
        self.last_error = clean_message(msg)
        log.debug("yt-dlp error: %s", self.last_error)


def find_deno() -> str | None:
    """The deno binary (PATH first, else beside the running Python, i.e. in the venv)."""
    found = shutil.which("deno")
    if found:
        return found
    beside = Path(sys.executable).parent / "deno"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
