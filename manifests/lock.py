"""One writer per data folder: a second command that would write the same tables stops at once.

Two writers on one data folder (two ``make audit``, a ``resolve`` during a ``split``)
would each read the tables, work, and write them back: the last one silently wins and
the other's work is lost, or a reader sees a mix. So every command that writes into
the data folder holds ``DATA/.lock`` (an OS lock through ``filelock``: the kernel drops
it when the process dies, however it dies, so a stale lock of a dead process is taken
over safely). Who holds it is kept beside it in ``DATA/.lock.json`` so the second
command can say whom it is waiting for. Read-only commands (validate, review, predict)
take no lock.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import UserError, file_system_fault
from .io import atomic_write_text, remove_stale_temp_files

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
HOLDER_NAME = ".lock.json"


class FolderInUse(UserError):
    """Another command holds the data folder's lock."""


def _holder_text(holder_file: Path) -> str:
    try:
        info = json.loads(holder_file.read_text(encoding="utf-8"))
        since = time.strftime("%H:%M", time.localtime(float(info["since"])))
        return f'"{info["command"]}" (pid {int(info["pid"])}, since {since})'
    except (OSError, ValueError, KeyError, TypeError):
        return "another command"


@contextmanager
def exclusive(lock_file: Path, *, what: str, command: str, advice: str, wait: bool = False) -> Iterator[None]:
    """Hold ``lock_file`` while the block runs; who holds it is noted beside it (``<lock_file>.json``).

    Without ``wait`` a held lock is a ``FolderInUse`` error: ``{what} is in use by {holder}; {advice}``.
    With it the command waits (saying so once) until the holder finishes.
    """
    holder_file = lock_file.with_name(lock_file.name + ".json")
    lock = FileLock(str(lock_file), timeout=0)
    try:
        lock.acquire()
    except Timeout:  # (an OSError too: this clause must come first)
        holder = _holder_text(holder_file)
        if not wait:
            raise FolderInUse(f"{what} is in use by {holder}; {advice}") from None
        log.warning("%s is in use by %s; waiting for it to finish", what, holder)
        lock.acquire(timeout=-1)
    except OSError as exc:  # a read-only or full disk: say so about the path the user gave
        fault = file_system_fault(exc, lock_file)
        if fault is None:
            raise
        raise fault from exc
    try:
        remove_stale_temp_files(holder_file)  # a holder killed while noting itself
        try:  # only a courtesy to a second command: a full disk fails the stage's own write instead
            atomic_write_text(holder_file, json.dumps({"command": command, "pid": os.getpid(), "since": time.time()}))
        except UserError as exc:
            log.debug("could not note the lock's holder: %s", exc)
        yield
    finally:
        try:
            holder_file.unlink(missing_ok=True)
        except OSError:  # a read-only or full disk must not hide the command's own result
            pass
        lock.release()


@contextmanager
def data_folder_lock(folder: Path | str, command: str, *, wait: bool = False) -> Iterator[None]:
    """Hold ``folder``'s writer lock (``DATA/.lock``) while the block runs."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive(folder / LOCK_NAME, what=f"{folder}/", command=command,
                       advice="wait for it or pass --wait", wait=wait):
            sweep_stale_temp_files(folder)
            yield
    finally:
        if created:
            _remove_if_only_the_lock(folder)


#: Where only data-folder writers write (training writes runs/ and the rest of cache/ under its own
#: locks, so those are never swept here); cache/import_audio holds import-audio's hash memo.
SWEPT = ("manifests", "reports", "cache/import_audio")


def sweep_stale_temp_files(folder: Path) -> list[Path]:
    """Delete temporary files that killed writers left in the folder's tables and reports.

    Only the holder of the folder's lock may do this: no other writer can be mid-write there.
    """
    stale = sorted(folder.glob(".*.tmp-*"))
    for name in SWEPT:
        if (folder / name).is_dir():
            stale += sorted((folder / name).rglob(".*.tmp-*"))
    for path in stale:
        try:
            path.unlink()
        except OSError:
            continue
        log.info("removed %s, left by a writer that was stopped", path)
    return stale


def _remove_if_only_the_lock(folder: Path) -> None:
    """A folder made only to hold the lock of a command that then wrote nothing is not left behind."""
    try:
        if {p.name for p in folder.iterdir()} <= {LOCK_NAME, HOLDER_NAME}:
            (folder / LOCK_NAME).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass
