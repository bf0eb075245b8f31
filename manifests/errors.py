"""What a failure means to the person at the terminal: one place decides.

A ``UserError`` is something the user can fix (bad input, a missing table, a
refused request): the command prints one line naming the input and what to do,
and exits 2. File-system faults (read-only, full, quota, permission, path too
long) are mapped here too, wherever they happen. Anything else is a bug and keeps
its traceback, so it can be reported.
Every command line of the toolkit goes through :func:`run_cli`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

#: Exit status of a command stopped by a user error (argparse uses 2 for bad usage too).
USER_ERROR_EXIT = 2
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


class UserError(Exception):
    """A problem the user can fix: printed as one ``error: ...`` line, exit status 2."""


#: File-system faults the user can fix, and what to do about each.
FS_FAULTS: dict[int, str] = {
    errno.EROFS: "the file system is read-only; use a writable data folder (--data) or remount it",
    errno.ENOSPC: "no space left on the device; free some space or use a data folder on another disk",
    errno.EDQUOT: "the disk quota is exceeded; free some space or ask for a larger quota",
    errno.EACCES: "permission denied; check the folder's owner and permissions, or use another --data",
    errno.EPERM: "operation not permitted; check the folder's owner and permissions, or use another --data",
    errno.ENAMETOOLONG: "the path is too long; use a data folder with a shorter path",
}
#: How SQLite (the HTTP cache) words the same faults.
_SQLITE_FAULTS = {"readonly database": errno.EROFS, "disk is full": errno.ENOSPC,
                  "unable to open database file": errno.EACCES}


class FileSystemFault(UserError):
    """A write (or read) the file system refused for a reason the user can fix: one line, exit 2."""

    def __init__(self, path: str | None, code: int) -> None:
        self.path, self.errno = path, code
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{FS_FAULTS[code]}")


#: How programs (ffmpeg, yt-dlp) print the same faults on their stderr: the C library's strerror.
_STRERROR = {os.strerror(code): code for code in FS_FAULTS}


def fault_in_message(text: str, path: object = None) -> FileSystemFault | None:
    """The fault a subprocess reported in ``text`` ("...: No space left on device"), if one."""
    for message, code in _STRERROR.items():
        if message in text:
            return FileSystemFault(str(path) if path is not None else None, code)
    return None


def file_system_fault(exc: BaseException, path: object = None) -> FileSystemFault | None:
    """The one-line form of ``exc`` (or of an error it was raised from) when it is a file-system fault.

    ``path`` names the file the user knows (e.g. the manifest, not the temporary file next to it).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileSystemFault):
            return current
        if isinstance(current, OSError) and current.errno in FS_FAULTS:
            name = path if path is not None else current.filename
            return FileSystemFault(str(name) if name is not None else None, current.errno)
        if isinstance(current, sqlite3.OperationalError):
            code = next((c for text, c in _SQLITE_FAULTS.items() if text in str(current)), None)
            if code is not None:
                return FileSystemFault(str(path) if path is not None else None, code)
        current = current.__cause__ or current.__context__
    return None


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a command's ``main``, turning user errors and Ctrl-C into one line and an exit code."""
    try:
        return main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except Exception as exc:  # a file-system fault, also when a library wrapped it (chained)
        fault = file_system_fault(exc)
        if fault is None:
            raise
        print(f"error: {fault}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted: finished work was saved; rerun the same command to continue", file=sys.stderr)
        return INTERRUPTED_EXIT
