"""Where a project's files live inside its data folder.

Everything a run produces sits under one folder (``DATA``, default ``data/``), so
a collection can be moved, archived or versioned as a whole.  Paths stored in
manifests are relative to this folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_DATA_DIR, ENV_DATA_DIR
from .errors import UserError
from .schema import TABLES, Table


@dataclass(frozen=True)
class Layout:
    """The folders and files of one data folder."""

    root: Path

    @classmethod
    def at(cls, root: Path | str | None = None) -> Layout:
        """The layout at ``root``, else ``$GENRE_DATA_DIR``, else ``./data``."""
        chosen = root if root is not None else os.environ.get(ENV_DATA_DIR, DEFAULT_DATA_DIR)
        return cls(Path(chosen))

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    def table_path(self, table: Table | str) -> Path:
        name = table if isinstance(table, str) else table.name
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}")
        if name == "overrides":
            return self.root / "overrides.csv"
        return self.manifests / f"{name}.csv"

    @property
    def overrides(self) -> Path:
        return self.table_path("overrides")

    @property
    def audio(self) -> Path:
        return self.root / "audio"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def audio_path(self, track_id: str, suffix: str = ".wav") -> Path:
        return self.audio / f"{track_id}{suffix}"

    def relative(self, path: Path | str) -> str:
        """A path as stored in a manifest: relative to the data folder, with forward slashes."""
        return Path(os.path.relpath(Path(path), self.root)).as_posix()

    def resolve(self, stored: str) -> Path:
        """A path read from a manifest, made usable from the current directory.

        Reading already refused absolute paths and ``..``; a symbolic link inside the folder
        that leads out of it is refused here, where the file system is looked at.
        """
        path = self.root / stored
        if path.is_symlink() or any(parent.is_symlink() for parent in path.parents
                                    if parent.is_relative_to(self.root)):
            real, root = path.resolve(), self.root.resolve()
            if not real.is_relative_to(root):
                raise UserError(f"{path}: a symbolic link that leads out of the data folder ({real}); "
                                "keep audio inside the data folder or copy it in")
        return path
