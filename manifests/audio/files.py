"""Finding audio files under the paths a user names: a stable order, every candidate once, a reason for the rest.

Libraries are messy: symbolic links that lead back up (a loop would never end), links whose
target is gone, folders we may not read, cover art and playlists next to the songs, file
names that are not UTF-8.  :func:`walk` yields every candidate in byte-wise name order (so
two runs, or two machines splitting the work, see the same order and a rerun resumes where
it stopped) and says, for everything it leaves out, why.

Which files are candidates: those whose extension is one of :data:`AUDIO_EXTENSIONS`
(everything ffmpeg decodes that a music collection holds); ``all_files`` tries every file
instead, for collections with unusual names.  Hidden files and folders (a leading dot:
``.DS_Store``, macOS ``._song.mp3`` resource forks) are never candidates.  Importing a
library (``collectors.local``) and predicting over a folder (``training predict``) both
walk through here, so they agree about what a folder holds.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AUDIO_EXTENSIONS", "Found", "Skipped", "display_path", "extension", "walk"]

#: Extensions (lower case, no dot) of the audio files a collection holds; ffmpeg decodes them all.
AUDIO_EXTENSIONS = frozenset({
    "mp3", "mp2", "mp1", "mpga", "ogg", "oga", "opus", "spx", "flac", "wav", "wave", "w64", "rf64", "aif",
    "aiff", "aifc", "au", "snd", "m4a", "m4b", "mp4", "aac", "adts", "alac", "caf", "wma", "asf", "wv", "ape",
    "mpc", "tta", "ac3", "eac3", "dts", "mka", "webm", "weba", "amr", "3gp", "3g2", "ra", "rm", "voc", "dsf",
    "dff", "tak", "ofr",
})


def display_path(path: Path | str) -> str:
    """A path as text that any UTF-8 file holds: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Found:
    """An audio candidate: the file, the PATH it was found under, and the folder names in between."""

    path: Path
    root: Path
    folders: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """Something the walk did not take, and why; ``kind`` is ignored, unreadable or loop."""

    path: Path
    kind: str
    reason: str


def extension(path: Path) -> str:
    """The extension in lower case without the dot (``""`` when there is none)."""
    return path.suffix[1:].lower() if path.suffix else ""


def _link_problem(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (the link leads back to itself)"
        if exc.errno == errno.ENOENT:
            return "a broken symbolic link (its target does not exist)"
        return f"cannot be read ({exc.strerror or exc})"
    return "neither a file nor a folder"


def walk(roots: Collection[Path], *, all_files: bool = False, skip: Collection[Path] = (),
         skip_reason: str = "a folder left out") -> Iterator[Found | Skipped]:
    """Every candidate under ``roots`` (files or folders), in name order; ``skip`` folders are left out.

    Folders reached again through a symbolic link (a loop, or a second way into the same folder)
    are walked once; the second visit is a ``Skipped`` of kind ``loop``.  A ``skip`` folder is a
    ``Skipped`` of kind ``ignored`` with ``skip_reason``.  A root that does not exist is a
    ``Skipped`` of kind ``unreadable``.
    """
    skipped_real = {os.path.realpath(p) for p in skip}
    visited: set[tuple[int, int]] = set()
    for root in roots:
        root = Path(os.path.abspath(root))
        if root.is_file():
            if all_files or extension(root) in AUDIO_EXTENSIONS:
                yield Found(root, root.parent, ())
            else:
                yield Skipped(root, "ignored", f"not an audio file extension ({extension(root) or 'none'})")
            continue
        yield from _walk_dir(root, root, (), visited, skipped_real, skip_reason, all_files)


def _walk_dir(root: Path, folder: Path, folders: tuple[str, ...], visited: set[tuple[int, int]],
              skipped_real: set[str], skip_reason: str, all_files: bool) -> Iterator[Found | Skipped]:
    try:
        info = os.stat(folder)
    except OSError as exc:
        yield Skipped(folder, "unreadable", f"cannot read the folder ({exc.strerror or exc})")
        return
    ident = (info.st_dev, info.st_ino)
    if ident in visited:
        yield Skipped(folder, "loop", "a folder already walked (a symbolic link leads back to it)")
        return
    visited.add(ident)
    if os.path.realpath(folder) in skipped_real:
        yield Skipped(folder, "ignored", skip_reason)
        return
    try:
        with os.scandir(folder) as entries:
            listing = sorted(entries, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        yield Skipped(folder, "unreadable", f"cannot list the folder ({exc.strerror or exc})")
        return
    for entry in listing:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows symbolic links
            is_file = not is_dir and entry.is_file()
        except OSError:
            is_dir = is_file = False  # a link loop can raise here: said below, like a broken link
        if is_dir:
            yield from _walk_dir(root, path, (*folders, entry.name), visited, skipped_real, skip_reason, all_files)
        elif is_file:
            if all_files or extension(path) in AUDIO_EXTENSIONS:
                yield Found(path, root, folders)
            else:
                yield Skipped(path, "ignored", f"not an audio file extension ({extension(path) or 'none'})")
        elif entry.is_symlink():
            problem = _link_problem(path)
            yield Skipped(path, "loop" if "loop" in problem else "unreadable", problem)
        else:
            yield Skipped(path, "ignored", "not a regular file (a device, socket or pipe)")
