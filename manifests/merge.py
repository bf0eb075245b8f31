"""``python -m manifests merge SHARD_DIR... --data OUT``: several data folders into one.

N machines that each ran a stage with ``--shard K/N`` (see :mod:`manifests.shard`) leave N data
folders; this puts their tables and audio back together. Every table is read (and validated)
from every folder; rows with the same key (``Table.key``) and the same content are one row;
rows with the same key and different content are a conflict: each is reported with both
folders, and by default nothing is written (exit 2). ``--prefer first`` keeps the row of the
folder named first, ``--prefer newest`` the newer one (the row's own time when the table has
one, else the newer table file).

Tables already in ``OUT`` take part like a folder named before the others, so merging again
(after one more shard finished, or after an interruption) adds to what is there and a rerun
with the same inputs changes nothing. Audio files named by ``downloads.csv`` are copied (or
hard-linked with ``--link``) into ``OUT`` and their sha256 checked against the row on the way;
a file already in ``OUT`` with the right hash is skipped. Tables are written last and
atomically, only when every file arrived intact.

Caches whose files are named by the audio's sha256 (:data:`CONTENT_CACHES`: the pretrained
embeddings that ``training embed --shard K/N`` computes on each machine) are merged too: a file
missing from ``OUT`` is copied (or linked), one already there is kept, since the same audio
through the same model gives the same vector.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError, file_system_fault
from .hashing import sha256_file
from .io import Row, read_table, write_table
from .layout import Layout
from .schema import DOWNLOADS, TABLES, Table

log = logging.getLogger(__name__)

PREFER = ("first", "newest")
#: The column that says when a row was written, for ``--prefer newest``.
ROW_TIME = {"downloads": "updated_at", "playlists": "fetched_at"}
_CHUNK = 1 << 20
#: Folders under ``cache/`` that hold one file per audio sha256, in a sub-folder per settings.
CONTENT_CACHES = ("embeddings",)


@dataclass(frozen=True)
class Source:
    """One folder taking part in a merge; ``already`` marks the tables already in OUT."""

    layout: Layout
    already: bool = False

    @property
    def name(self) -> str:
        return f"{self.layout.root}/" + (" (already merged)" if self.already else "")


@dataclass
class Conflict:
    """Two folders hold different rows under one key."""

    table: str
    key: tuple[Any, ...]
    first: Source
    second: Source
    columns: list[str]

    def line(self) -> str:
        key = ", ".join(f"{k}={v!r}" for k, v in zip(TABLES[self.table].key, self.key, strict=True))
        return (f"{self.table}.csv: {key} differs between {self.first.name} and {self.second.name} "
                f"(columns {', '.join(self.columns)})")


@dataclass
class MergeResult:
    """What a merge found and did."""

    rows: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    copied: int = 0
    linked: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    cached: int = 0


def _differing(a: Row, b: Row) -> list[str]:
    return [name for name in a if a.get(name) != b.get(name)]


def _newer(table: Table, new: tuple[Row, Source], old: tuple[Row, Source]) -> bool:
    column = ROW_TIME.get(table.name)
    if column and new[0].get(column) and old[0].get(column):
        return str(new[0][column]) > str(old[0][column])
    return _mtime(new[1].layout.table_path(table)) > _mtime(old[1].layout.table_path(table))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def merge_rows(table: Table, sources: Sequence[Source], prefer: str | None,
               result: MergeResult) -> dict[tuple[Any, ...], tuple[Row, Source]]:
    """The rows of ``table`` from every source, one per key; conflicts go into ``result``."""
    merged: dict[tuple[Any, ...], tuple[Row, Source]] = {}
    duplicates = 0
    for source in sources:
        for row in read_table(source.layout.table_path(table), table, missing_ok=True):
            key = tuple(row[k] for k in table.key)
            held = merged.get(key)
            if held is None:
                merged[key] = (row, source)
                continue
            columns = _differing(held[0], row)
            if not columns:
                duplicates += 1
                continue
            if prefer is None:
                result.conflicts.append(Conflict(table.name, key, held[1], source, columns))
            elif prefer == "newest" and _newer(table, (row, source), held):
                merged[key] = (row, source)
    result.rows[table.name] = len(merged)
    result.duplicates[table.name] = duplicates
    return merged


class _LinkRefused(Exception):
    """Hard links are not possible here (another file system, or not supported)."""


def _hash_into(src: Path, tmp: Path, link: bool) -> str:
    """Put ``src`` at ``tmp`` (a hard link or a copy) and return the sha256 of what was read."""
    if link:
        try:
            os.link(src, tmp)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise _LinkRefused(str(exc)) from None
            raise
        return sha256_file(tmp)
    digest = hashlib.sha256()
    with open(src, "rb") as inp, open(tmp, "wb") as out:
        while block := inp.read(_CHUNK):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def place_audio(src: Path, dest: Path, sha256: str, *, link: bool) -> str:
    """Copy or link one audio file into place, checking its hash. Returns what happened.

    ``present``: ``dest`` already holds the right bytes; ``copied``/``linked``: done;
    ``corrupted``: ``src`` does not hash to ``sha256`` (nothing placed); ``missing``: no ``src``.
    """
    if dest.exists() and sha256_file(dest) == sha256:
        return "present"
    if not src.is_file():
        return "missing"
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    how = "linked" if link else "copied"
    try:
        tmp.unlink()
        try:
            got = _hash_into(src, tmp, link)
        except _LinkRefused as exc:
            log.warning("cannot hard-link %s into %s (%s); copying instead", src, dest.parent, exc)
            how, got = "copied", _hash_into(src, tmp, False)
        if got != sha256:
            return "corrupted"
        os.replace(tmp, dest)
        return how
    finally:
        tmp.unlink(missing_ok=True)


def merge_folders(shards: Sequence[Path | str], out: Path | str, *, prefer: str | None = None,
                  link: bool = False, progress: bool = True) -> MergeResult:
    """Merge the data folders ``shards`` into ``out`` (see the module docstring)."""
    from tqdm import tqdm

    if prefer is not None and prefer not in PREFER:
        raise UserError(f"--prefer {prefer!r}: choose one of {', '.join(PREFER)}")
    target = Layout.at(out)
    layouts = [Layout.at(s) for s in shards]
    for layout in layouts:
        if not layout.root.is_dir():
            raise UserError(f"{layout.root}: no such data folder")
        if layout.root.resolve() == target.root.resolve():
            raise UserError(f"{layout.root}: is the output folder itself; merge other folders into it")
    if target.audio.is_dir():  # a merge killed mid-copy left these; the caller holds OUT's lock
        for stale in target.audio.glob(".*.tmp-*"):
            stale.unlink(missing_ok=True)
    sources = [Source(target, already=True)] + [Source(layout) for layout in layouts]
    result = MergeResult()
    merged = {name: merge_rows(table, sources, prefer, result) for name, table in TABLES.items()}
    if result.conflicts:
        for conflict in result.conflicts:
            print(f"conflict: {conflict.line()}")
        first = result.conflicts[0]
        raise UserError(f"{len(result.conflicts)} row(s) differ between the folders, nothing written; first: "
                        f"{first.line()}; fix one side or pass --prefer first|newest")

    todo = [(row, source) for row, source in merged["downloads"].values()
            if row.get("status") == "ok" and row.get("audio_path") and row.get("sha256") and not source.already]
    for row, source in tqdm(todo, desc="audio files", unit="file", disable=not progress or not todo):
        stored = str(row["audio_path"])
        try:
            what = place_audio(source.layout.resolve(stored), target.resolve(stored), str(row["sha256"]), link=link)
        except OSError as exc:
            fault = file_system_fault(exc, target.resolve(stored))
            if fault is None:
                raise
            raise fault from exc
        if what == "missing":
            result.missing.append(f"{source.layout.root / stored}")
        elif what == "corrupted":
            result.corrupted.append(f"{source.layout.root / stored}")
        else:
            setattr(result, what, getattr(result, what) + 1)
    if result.corrupted or result.missing:
        bad = [f"{p}: sha256 differs from {DOWNLOADS.filename}" for p in result.corrupted] + \
              [f"{p}: missing" for p in result.missing]
        for line in bad:
            print(f"audio: {line}")
        raise UserError(f"{len(bad)} audio file(s) are not what {DOWNLOADS.filename} says (first: {bad[0]}); "
                        "tables not written; re-download them in their folder (python -m collectors download "
                        "--verify-audio) and merge again")

    for name, rows in merged.items():
        if rows or target.table_path(name).exists():
            write_table(target.table_path(name), TABLES[name], [row for row, _ in rows.values()])
    result.cached = merge_content_caches(layouts, target, link=link)
    return result


def merge_content_caches(layouts: Sequence[Layout], target: Layout, *, link: bool) -> int:
    """Copy (or link) the :data:`CONTENT_CACHES` files ``target`` lacks; how many were added."""
    added = 0
    for name in CONTENT_CACHES:
        for layout in layouts:
            for src in sorted((layout.cache / name).glob("*/*")):
                if src.name.startswith(".") or not src.is_file():
                    continue  # a temporary file of a killed writer
                dest = target.cache / name / src.parent.name / src.name
                if dest.exists():
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", dir=dest.parent)
                os.close(fd)
                os.unlink(tmp)
                try:
                    _hash_into(src, Path(tmp), link)
                except _LinkRefused:
                    _hash_into(src, Path(tmp), False)
                os.replace(tmp, dest)
                added += 1
    return added


def summary_lines(result: MergeResult, out: Path | str) -> list[str]:
    lines = [f"{name}: {n} rows" + (f" ({result.duplicates[name]} duplicates dropped)"
                                    if result.duplicates.get(name) else "")
             for name, n in result.rows.items() if n]
    lines.append(f"audio into {Layout.at(out).audio}: {result.copied} copied, {result.linked} hard-linked, "
                 f"{result.present} already there")
    if result.cached:
        lines.append(f"cache (embeddings): {result.cached} files added")
    return lines
