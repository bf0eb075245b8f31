"""The defaults every command shares, in one place.

Each package keeps its own domain settings (politeness per host, training
hyper-parameters); what the command lines have in common (where the data
folder is, the ``.env`` file, how often resumable tables are flushed, how many
workers) is decided here, so the same flag means the same thing everywhere.
"""

from __future__ import annotations

import os

#: The data folder when neither ``--data`` nor ``$GENRE_DATA_DIR`` says otherwise.
DEFAULT_DATA_DIR = "data"
ENV_DATA_DIR = "GENRE_DATA_DIR"

#: ``KEY=value`` file read by every entry point; real environment values always win.
ENV_FILE = ".env"
#: Set to a path to read another file, or to an empty string to read none.
ENV_ENV_FILE = "GENRE_ENV_FILE"

#: A resumable table is written after this many new rows or this many seconds, whichever
#: comes first: a killed stage loses at most that much work.
FLUSH_EVERY_ROWS = 25
FLUSH_EVERY_SECONDS = 15.0

#: Audio shorter than this is not a song: download rejects it, the audit flags it (``--min-seconds``).
MIN_AUDIO_SECONDS = 10.0

#: The project's distribution name (for ``--version``).
DISTRIBUTION = "genre-dataset-toolkit"


def usable_cores() -> int:
    """CPU cores this process may run on (a container's limit counts), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return max(1, os.cpu_count() or 1)


def version() -> str:
    """The installed toolkit's version (``0+unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
