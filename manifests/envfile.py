"""The ``.env`` file: credentials and settings kept out of the shell history.

Every entry point loads it once at start (``manifests.cliutil.run_main``), so
``LASTFM_API_KEY`` or ``GENRE_CONTACT`` in ``.env`` reaches every stage, not
only the Spotify commands. A value already in the real environment is never
overridden: the environment is what the user typed last.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from pathlib import Path

from .config import ENV_ENV_FILE, ENV_FILE
from .errors import UserError

log = logging.getLogger(__name__)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a .env file (``export``, quotes and ``#`` comments understood).

    A missing file is no values; an unreadable or malformed one is a ``UserError`` naming the line.
    """
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return values
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise UserError(f"{path} line {number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def env_file_path(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """The file to load: ``$GENRE_ENV_FILE`` if set (empty: none), else ``./.env``."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(ENV_ENV_FILE)
    if chosen is None:
        return Path(ENV_FILE)
    return Path(chosen) if chosen.strip() else None


def load_env_file(path: Path | None = None, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy the file's values into the environment where the name is not set yet.

    Returns the names that were set (never the values: some are secrets).
    """
    environ = os.environ if environ is None else environ
    path = env_file_path(environ) if path is None else path
    if path is None:
        return []
    added = []
    for key, value in read_env_file(path).items():
        if key not in environ:
            environ[key] = value
            added.append(key)
    if added:
        log.debug("%s: set %s", path, ", ".join(sorted(added)))
    return added
