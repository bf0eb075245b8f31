"""Finding the audio files under the folders a user imports: :mod:`manifests.audio.files`, minus the data folder.

The walk itself (stable name order, symbolic-link loops walked once, hidden files skipped,
a reason for everything left out, the list of audio extensions) lives in
:mod:`manifests.audio.files`, where ``training predict`` finds folders of audio the same
way.  What is the importer's own: the data folder is never walked, so importing ``.`` does
not import our own converted WAVs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from manifests.audio.files import AUDIO_EXTENSIONS, Found, Skipped, display_path, extension
from manifests.audio.files import walk as walk_paths

__all__ = ["AUDIO_EXTENSIONS", "Found", "Skipped", "display_path", "extension", "walk"]

#: Why a folder given in ``skip`` (the data folder) is not walked.
DATA_FOLDER_REASON = "the data folder itself (never imported)"


def walk(roots: Collection[Path], *, all_files: bool = False,
         skip: Collection[Path] = ()) -> Iterator[Found | Skipped]:
    """Every candidate under ``roots`` in name order (see :func:`manifests.audio.files.walk`); ``skip``: data folders."""
    return walk_paths(roots, all_files=all_files, skip=skip, skip_reason=DATA_FOLDER_REASON)
