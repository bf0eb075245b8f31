"""The import stage: audio files you have -> tracks, claims and downloads rows plus ``audio/<track_id>.wav``.

Per file, in the walk's stable order:

1. **identity**: the file's sha256 (remembered by path, size and modification time in
   ``DATA/cache/import_audio/hashes.json``, so a rerun does not read every byte again) gives the
   track ID (``manifests.ids.make_track_id("local", sha256)``). The same bytes imported twice,
   or found in two places, are one track; the second place is reported as a duplicate and adds
   its own genre evidence;
2. **what is known**: the ``--csv`` list, FMA's metadata, the embedded tags (mutagen) and the
   folder layout, in that order of precedence for title, artists and album; each gives its own
   genre claims (sources ``csv``, ``fma``, ``tags``, ``folder``) that ``labeling resolve`` weighs;
3. **audio**: the file is converted in the download stage's worker pool to the same 16 kHz mono
   PCM16 WAV, checked (not audio, undecodable, too short, silent, cut off against its header),
   and recorded in ``downloads`` with its original path and sha256 (``source_path``,
   ``source_sha256``). A file that fails gets a ``failed`` row with the reason; nothing a file
   holds stops the import.

Resumable like every stage: tracks and claims are written before the downloads rows that
depend on them, all through :class:`manifests.io.TableStore` files flushed by rows or seconds
(never spending more than a tenth of the time on writing), so a killed import rerun with the
same arguments keeps every finished file and converts the rest. A track without a known artist
is credited to ``[unknown]`` (MusicBrainz's name for it), which the split recognises.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.audio.convert import ConvertOptions, clip_columns
from manifests import config
from manifests.audio import SAMPLE_RATE
from manifests.clock import utc_now_text
from manifests.config import MIN_AUDIO_SECONDS
from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.ids import UNKNOWN_ARTIST, make_track_id
from manifests.io import EMPTY, Row, TableStore, atomic_write_text
from manifests.layout import Layout
from manifests.schema import CLAIMS, DOWNLOADS, TRACKS, Table
from manifests.shard import Shard
from manifests.text import clean_text

from . import gtzan
from .fma import FmaMetadata, FmaTrack, fma_track_id, read_fma
from .layouts import LAYOUTS, folder_facts
from .listing import ListedFile, path_key, read_listing
from .tags import FileTags, read_tags
from .task import ImportOutcome, ImportTask, import_task
from .walk import Found, Skipped, display_path, walk

log = logging.getLogger(__name__)

ORIGIN = "local"
ID_NAMESPACE = "local"
#: The claim sources this stage writes (and replaces on a rerun).
LOCAL_SOURCES = ("folder", "tags", "csv", "fma")
#: The credit of a track whose artist nobody knows (MusicBrainz's special-purpose artist name);
#: ``labeling.splits`` keeps such tracks from being linked to each other by it.
REPORT_NAME = "import_audio.csv"
REPORT_COLUMNS = ("path", "outcome", "track_id", "reason", "same_as", "tags", "musicbrainz_recording_id")
#: Never spend more than about 1/FLUSH_COST_SHARE of the time writing tables.
FLUSH_COST_SHARE = 10


@dataclass(frozen=True)
class ImportSettings:
    """Everything the command line decides (see ``python -m collectors import-audio --help``)."""

    layout: str = "none"
    listing: Path | None = None
    fma_metadata: Path | None = None
    gtzan: bool = False
    drop_gtzan_faults: bool = False
    read_tags: bool = True
    all_files: bool = False
    #: --clip-seconds / --clip-offset: keep an excerpt (the middle by default), as the download stage does
    max_seconds: float | None = None
    window: str = "middle"
    #: --shard K/N: only the files whose track ID (from the content hash) is this shard's
    shard: Shard = field(default_factory=Shard)
    min_seconds: float = MIN_AUDIO_SECONDS
    workers: int = 1
    pin_workers: bool | None = None
    limit: int | None = None
    retry_failed: bool = False
    fresh: bool = False
    progress: bool = False

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"--layout {self.layout!r}: choose one of {', '.join(LAYOUTS)}")
        if self.workers < 1:
            raise ValueError(f"--workers {self.workers}: need at least 1")

    @property
    def convert_options(self) -> ConvertOptions:
        return ConvertOptions(sample_rate=SAMPLE_RATE, max_seconds=self.max_seconds, window=self.window)


@dataclass
class ImportSummary:
    """What one run did, for the closing lines and the tests."""

    report: Path
    roots: int = 0
    files: int = 0
    converted: int = 0
    kept: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    failed_earlier: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    excluded: int = 0
    removed: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    missing_listed: list[str] = field(default_factory=list)
    left: int = 0
    #: files hashed and left to the other shards (--shard)
    other_shards: int = 0
    shard: str = "1/1"
    changed: int = 0
    tracks: int = 0
    no_artist: int = 0
    no_genre: int = 0
    claims: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        failed = sum(self.failed.values())
        out = [f"import-audio: {self.files} audio files under {self.roots} path(s): {self.converted} converted, "
               f"{self.kept} kept from an earlier run, {failed} failed"
               + (f" (+{self.failed_earlier} failed earlier, not retried: --retry-failed)" if self.failed_earlier
                  else "")
               + f", {len(self.duplicates)} duplicates; {self.tracks} tracks; {self.seconds:.1f} s"]
        if self.claims:
            out.append("  genre claims: " + ", ".join(f"{source} {n}" for source, n in sorted(self.claims.items()))
                       + (f"; {self.no_genre} tracks have none" if self.no_genre else ""))
        elif self.tracks:
            out.append("  no genre evidence: give --layout, --csv, --fma-metadata or --gtzan, or tag the files")
        if self.failed:
            out.append("  failed: " + ", ".join(f"{n} {kind}" for kind, n in self.failed.most_common()))
        for path, first in self.duplicates[:5]:
            out.append(f"  duplicate: {path} has the same bytes as {first} (one track)")
        if len(self.duplicates) > 5:
            out.append(f"  ... {len(self.duplicates) - 5} more duplicates")
        if self.excluded:
            out.append(f"  excluded {self.excluded} known faulty GTZAN excerpts ({gtzan.CITATION})")
        if self.changed:
            out.append(f"  {self.changed} files changed since an earlier import (a new track ID each)")
        if self.removed:
            out.append(f"  removed {self.removed} tracks imported earlier from files that changed or are excluded "
                       "now (their rows and audio)")
        for path, why in self.unreadable[:5]:
            out.append(f"  skipped {path}: {why}")
        if len(self.unreadable) > 5:
            out.append(f"  ... {len(self.unreadable) - 5} more skipped")
        for path in self.missing_listed[:5]:
            out.append(f"  listed in the CSV but not found: {path}")
        if self.ignored:
            out.append(f"  ignored {sum(self.ignored.values())} files that are not audio by their extension ("
                       + ", ".join(f"{ext or 'none'} {n}" for ext, n in self.ignored.most_common(6))
                       + "; --all-files tries every file)")
        if self.left:
            out.append(f"  stopped at --limit: {self.left} files left for the next run")
        if self.other_shards:
            out.append(f"  shard {self.shard}: {self.other_shards} files left to the other shards")
        out.append(f"  every file's outcome: {self.report}")
        return out


def _full(table: Table, row: Row) -> Row:
    """``row`` with every column of ``table`` (missing ones empty), so it compares equal to a row read back."""
    return {c.name: row.get(c.name, EMPTY[c.kind]() if c.kind in EMPTY else None) for c in table.columns}


@dataclass
class _Job:
    track_id: str
    path: Path
    sha: str
    #: where the worker writes the WAV; None for an empty file (nothing to convert)
    part: Path | None
    attempts: int
    tags: FileTags


class _Checkpoint:
    """Writes the three tables together, tracks and claims first: a downloads row never names a track
    whose rows are not on disk. By rows or seconds (``manifests.config``), at most a tenth of the time."""

    def __init__(self, stores: Sequence[TableStore], after: Callable[[], None]) -> None:
        self.stores, self.after = stores, after
        self.every = max(1, int(config.FLUSH_EVERY_ROWS))
        self.seconds = float(config.FLUSH_EVERY_SECONDS)
        self.dirty = 0
        self.last = time.monotonic()
        self.cost = 0.0

    def changed(self, n: int = 1) -> None:
        self.dirty += n
        since = time.monotonic() - self.last
        if self.dirty and ((self.dirty >= self.every and since >= FLUSH_COST_SHARE * self.cost)
                           or since >= self.seconds):
            self.flush()

    def flush(self) -> None:
        started = time.monotonic()
        for store in self.stores:
            store.flush()
        self.after()
        self.dirty = 0
        self.last = time.monotonic()
        self.cost = self.last - started


class _HashCache:
    """sha256 by (path, size, mtime): a rerun over a large library reads no file twice."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        if not fresh:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    self.entries = {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 3}
            except (OSError, ValueError):
                pass

    def sha256(self, path: Path, info: os.stat_result) -> str:
        key = path_key(path)
        entry = self.entries.get(key)
        if entry and entry[0] == info.st_size and entry[1] == info.st_mtime_ns:
            return str(entry[2])
        sha = sha256_file(path)
        self.entries[key] = [info.st_size, info.st_mtime_ns, sha]
        self.changed = True
        return sha

    def save(self) -> None:
        if self.changed:
            atomic_write_text(self.path, json.dumps(self.entries, sort_keys=True) + "\n")
            self.changed = False


class ImportStage:
    """One run of ``import-audio`` over ``paths`` into ``layout``."""

    def __init__(self, layout: Layout, paths: Sequence[Path], settings: ImportSettings | None = None) -> None:
        self.layout = layout
        self.paths = [Path(p) for p in paths]
        self.settings = settings or ImportSettings()
        self.summary = ImportSummary(report=layout.reports / REPORT_NAME, roots=len(self.paths),
                                     shard=str(self.settings.shard))
        self.report: list[dict[str, str]] = []
        self.folder_layout = self.settings.layout
        self.listing: dict[str, ListedFile] = {}
        self.fma: FmaMetadata | None = None
        self.faults: frozenset[str] = frozenset()
        #: track ID -> first path seen this run
        self.seen: dict[str, Path] = {}
        #: source path -> track ID an earlier run imported from it (a changed file supersedes it)
        self.earlier: dict[str, str] = {}
        #: track IDs whose files changed or are excluded now: removed at the end unless seen again
        self.gone: set[str] = set()
        self.claim_keys: dict[str, set[tuple[Any, ...]]] = defaultdict(set)

    # ------------------------------------------------------------ inputs
    def _check_inputs(self) -> None:
        s = self.settings
        if not self.paths and s.listing is None:
            raise UserError("import-audio: name at least one folder or file (or give --csv FILE)")
        for path in self.paths:
            if not path.exists():
                raise UserError(f"{path}: no such file or folder")
        if s.listing is not None:
            if not s.listing.is_file():
                raise UserError(f"--csv {s.listing}: no such file")
            self.listing = read_listing(s.listing)
        if s.fma_metadata is not None:
            if not s.fma_metadata.exists():
                raise UserError(f"--fma-metadata {s.fma_metadata}: no such file or folder")
            self.fma = read_fma(s.fma_metadata)
        if s.drop_gtzan_faults:
            self.faults = gtzan.faulty_excerpts()

    def _candidates(self) -> list[Found | Skipped]:
        items = list(walk(self.paths, all_files=self.settings.all_files, skip=[self.layout.root]))
        found = {path_key(item.path) for item in items if isinstance(item, Found)}
        for key, entry in self.listing.items():
            if key in found:
                continue
            if entry.path.is_file():
                items.append(Found(entry.path, entry.path.parent, ()))
            else:
                self.summary.missing_listed.append(display_path(entry.path))
                self._note(entry.path, "missing", reason=f"listed in {entry.where} but not found")
        return items

    # ------------------------------------------------------------ what a file says
    def _describe(self, found: Found, tags: FileTags) -> tuple[Row, list[Row]]:
        """The tracks row (without its ID) and the genre claims of one file."""
        s = self.settings
        listed = self.listing.get(path_key(found.path))
        fma_id = fma_track_id(found.path) if self.fma is not None else None
        fma: FmaTrack | None = self.fma.tracks.get(fma_id) if self.fma is not None and fma_id is not None else None
        folders = folder_facts(self.folder_layout, found.folders)
        name = gtzan.excerpt_name(found.path) if s.gtzan else None
        stem = clean_text(display_path(found.path.name.rsplit(".", 1)[0] if found.path.suffix
                                       else found.path.name)) or "untitled"
        artists = ((listed.artists if listed else None) or ([fma.artist] if fma and fma.artist else None)
                   or list(tags.artists) or ([folders.artist] if folders.artist else None) or [UNKNOWN_ARTIST])
        row: Row = {
            "title": (listed.title if listed else None) or (fma.title if fma else None) or tags.title or stem,
            "artists": artists,
            "album": (listed.album if listed else None) or (fma.album if fma else None) or tags.album
            or folders.album,
            "release_date": (fma.date if fma else None) or tags.date,
            "duration_ms": int(round(tags.duration_s * 1000)) if tags.duration_s else None,
            "isrc": tags.isrc, "origin": ORIGIN,
            # the recording's MBID from the tags: ``labels`` looks it up directly instead of searching
            "musicbrainz_id": tags.musicbrainz_recording_id,
        }
        evidence = display_path(found.path)
        claims: list[Row] = []

        def claim(source: str, genre: str, weight: float, where: str, detail: str) -> None:
            raw = clean_text(genre)
            if raw and not any(c["source"] == source and c["raw_genre"] == raw and c["evidence"] == where
                               for c in claims):
                claims.append({"source": source, "raw_genre": raw, "weight": weight, "evidence": where,
                               "detail": detail})

        if name is not None:
            claim("folder", gtzan.excerpt_genre(name), 1.0, evidence, f"GTZAN label of {name}")
        if folders.genre:
            claim("folder", folders.genre, 1.0, evidence,
                  f"folder layout {self.folder_layout}: {'/'.join(found.folders)}")
        for genre, where in tags.genres:
            claim("tags", genre, 1.0, evidence, where)
        if listed is not None:
            for genre in listed.genres:
                claim("csv", genre, 1.0, listed.where, f"file {evidence}")
        if fma is not None and self.fma is not None:
            where = f"{display_path(self.fma.tracks_csv)}#{fma.track_id}"
            licence = f"; licence {fma.license}" if fma.license else ""
            if fma.genre_top:
                claim("fma", fma.genre_top, 1.0, where, f"FMA top-level genre{licence}")
            for genre in fma.genres:
                claim("fma", genre, 1.0, where, f"FMA genre the artist chose{licence}")
            for genre in fma.parents:
                claim("fma", genre, 0.5, where, f"FMA parent genre{licence}")
        return row, claims

    # ------------------------------------------------------------ rows
    def _put_track(self, tracks: TableStore, track_id: str, row: Row, first: bool) -> int:
        old = tracks.get(track_id)
        new = _full(TRACKS, {**row, "track_id": track_id})
        if not first and old is not None:  # a duplicate: the first place's facts win, gaps are filled
            new = {k: (old[k] if old[k] not in (None, [], {}) and old[k] != [UNKNOWN_ARTIST] else new[k])
                   for k in new}
        elif old is not None and new["duration_ms"] is None:
            new["duration_ms"] = old.get("duration_ms")  # measured by an earlier run's conversion
        if old == new:
            return 0
        tracks.put(new)
        return 1

    def _put_claims(self, claims_store: TableStore, track_id: str, claims: Iterable[Row], first: bool) -> int:
        wanted = {}
        for c in claims:
            row = _full(CLAIMS, {**c, "track_id": track_id})
            wanted[claims_store.key_of(row)] = row
        changes = 0
        if first:  # this run's evidence replaces what an earlier run found for the track
            for key in list(self.claim_keys[track_id]):
                if key not in wanted:
                    claims_store.remove(key)
                    self.claim_keys[track_id].discard(key)
                    changes += 1
        for key, row in wanted.items():
            if claims_store.get(key) != row:
                claims_store.put(row)
                changes += 1
            self.claim_keys[track_id].add(key)
        return changes

    def _download_row(self, job: _Job, outcome: ImportOutcome | None, error: str | None) -> Row:
        row: Row = {"track_id": job.track_id, "attempts": job.attempts, "updated_at": utc_now_text(),
                    "source_path": display_path(job.path), "source_sha256": job.sha}
        if outcome is not None and outcome.ok and outcome.facts is not None:
            final = self.layout.audio_path(job.track_id)
            row.update(status="ok", audio_path=self.layout.relative(final), sample_rate=outcome.facts.sample_rate,
                       audio_duration_s=round(outcome.facts.duration_s, 3), sha256=outcome.facts.sha256,
                       **clip_columns(outcome.clip_start_s, self.settings.max_seconds))
        else:
            # never retryable for the download stage: its retry would look for the file on YouTube
            row.update(status="failed", reason=error or "conversion failed", retryable=False)
        return row

    def _note(self, path: Path, outcome: str, *, track_id: str = "", reason: str = "", same_as: str = "",
              tags: FileTags | None = None) -> None:
        self.report.append({"path": display_path(path), "outcome": outcome, "track_id": track_id,
                            "reason": reason, "same_as": same_as,
                            "tags": (tags.format or "") + (f" ({tags.problem})" if tags and tags.problem else "")
                            if tags else "",
                            "musicbrainz_recording_id": (tags.musicbrainz_recording_id or "") if tags else ""})

    # ------------------------------------------------------------ the run
    def run(self) -> ImportSummary:
        started = time.monotonic()
        s = self.settings
        self._check_inputs()
        layout = self.layout
        if layout.root.exists() and not layout.root.is_dir():
            raise UserError(f"--data {layout.root}: exists and is not a folder")
        layout.audio.mkdir(parents=True, exist_ok=True)
        for stale in layout.audio.glob("*.wav.part"):  # a killed run's (the folder lock says nobody else writes)
            stale.unlink(missing_ok=True)
        items = self._candidates()
        big = 1 << 62  # the stores never flush on their own: the checkpoint decides, in order
        tracks = TableStore(layout.table_path(TRACKS), TRACKS, flush_every=big, flush_seconds=None)
        claims = TableStore(layout.table_path(CLAIMS), CLAIMS, flush_every=big, flush_seconds=None)
        downloads = TableStore(layout.table_path(DOWNLOADS), DOWNLOADS, flush_every=big, flush_seconds=None)
        for key in claims.rows:
            if key[1] in LOCAL_SOURCES:
                self.claim_keys[key[0]].add(key)
        hashes = _HashCache(layout.cache / "import_audio" / "hashes.json", s.fresh)
        checkpoint = _Checkpoint([tracks, claims, downloads], hashes.save)
        self.earlier = {str(row["source_path"]): str(row["track_id"]) for row in downloads.rows.values()
                        if row.get("source_path")}
        try:
            self._process(items, tracks, claims, downloads, hashes, checkpoint)
            if not self.summary.left:  # a run stopped by --limit has not seen every file that may hold them
                self._remove(self.gone - set(self.seen), tracks, claims, downloads)
        finally:
            checkpoint.flush()
            self._write_report()
        summary = self.summary
        summary.tracks = len(self.seen)
        for track_id in self.seen:
            row = tracks.get(track_id) or {}
            if list(row.get("artists") or []) == [UNKNOWN_ARTIST]:
                summary.no_artist += 1
            sources = [k[1] for k in self.claim_keys.get(track_id, ())]
            summary.claims.update(sources)
            summary.no_genre += not sources
        summary.seconds = time.monotonic() - started
        if summary.no_artist:
            log.warning("%d of %d imported tracks have no known artist (credited %s): the artist-disjoint split "
                        "cannot keep their artists apart, so `labeling split` places them as --no-artists says "
                        "(default: one by one) and test accuracy may be optimistic. Tags, --layout "
                        "genre/artist/album or an artist column in --csv give artists", summary.no_artist,
                        summary.tracks, UNKNOWN_ARTIST)
        return summary

    def _process(self, items: list[Found | Skipped], tracks: TableStore, claims: TableStore,
                 downloads: TableStore, hashes: _HashCache, checkpoint: _Checkpoint) -> None:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        from collectors.audio.pool import conversion_pool

        s, layout, summary = self.settings, self.layout, self.summary
        pending: dict[Future[ImportOutcome], _Job] = {}
        submitted = 0

        def finish(job: _Job, outcome: ImportOutcome | None, error: str | None = None) -> None:
            error = error or (outcome.error if outcome is not None else None)
            if error is None and outcome is not None and job.part is not None:
                os.replace(job.part, layout.audio_path(job.track_id))
                summary.converted += 1
                old = tracks.get(job.track_id)
                if old is not None and old.get("duration_ms") is None and outcome.header_s:
                    tracks.put({**old, "duration_ms": int(round(outcome.header_s * 1000))})
                self._note(job.path, "imported", track_id=job.track_id, tags=job.tags)
            else:
                layout.audio_path(job.track_id).unlink(missing_ok=True)  # a redo that failed: no stale audio
                summary.failed[(error or "failed").split(":", 1)[0]] += 1
                self._note(job.path, "failed", track_id=job.track_id, reason=error or "", tags=job.tags)
            downloads.put(self._download_row(job, outcome, error))
            checkpoint.changed()

        def collect(block: bool) -> None:
            if not pending:
                return
            done, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    raise UserError("a conversion worker process died (out of memory, or killed); finished "
                                    "files are saved: rerun to continue") from None
                finish(job, outcome)

        with ExitStack() as stack, logging_redirect_tqdm():
            pool: ProcessPoolExecutor | None = None
            audio = [item for item in items if isinstance(item, Found)]
            bar = stack.enter_context(tqdm(total=len(audio), unit="file", desc="importing",
                                           disable=not s.progress, dynamic_ncols=True))
            try:
                for index, item in enumerate(items):
                    if isinstance(item, Skipped):
                        self._skipped(item)
                        continue
                    if s.limit is not None and submitted >= s.limit:
                        summary.left = sum(1 for rest in items[index:] if isinstance(rest, Found))
                        break
                    bar.update(1)
                    summary.files += 1
                    job = self._visit(item, tracks, claims, downloads, hashes, checkpoint)
                    if job is None:
                        continue
                    submitted += 1
                    if job.part is None:  # an empty file: no worker needed
                        finish(job, None, "empty: the file has 0 bytes")
                        continue
                    if pool is None:
                        pool = stack.enter_context(conversion_pool(s.workers, s.pin_workers))
                    task = ImportTask(job.track_id, os.fspath(job.path.resolve()), os.fspath(job.part.resolve()),
                                      s.convert_options, s.min_seconds)
                    pending[pool.submit(import_task, task)] = job
                    while len(pending) >= 2 * s.workers:
                        collect(block=True)
                    collect(block=False)
                while pending:
                    collect(block=True)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            finally:
                for job in pending.values():
                    if job.part is not None:
                        job.part.unlink(missing_ok=True)

    def _skipped(self, item: Skipped) -> None:
        if item.kind == "ignored":
            ext = item.path.suffix[1:].lower()
            if "data folder" not in item.reason and "not a regular file" not in item.reason:
                self.summary.ignored[ext] += 1
        else:
            self.summary.unreadable.append((display_path(item.path), item.reason))
        self._note(item.path, "ignored" if item.kind == "ignored" else "skipped", reason=item.reason)

    def _visit(self, found: Found, tracks: TableStore, claims: TableStore, downloads: TableStore,
               hashes: _HashCache, checkpoint: _Checkpoint) -> _Job | None:
        """Record one file's rows; the job to convert it, or None when there is nothing to convert."""
        s, layout, summary = self.settings, self.layout, self.summary
        path = found.path
        try:
            info = os.stat(path)
            sha = hashes.sha256(path, info)
        except OSError as exc:
            summary.unreadable.append((display_path(path), f"cannot be read ({exc.strerror or exc})"))
            self._note(path, "skipped", reason=f"cannot be read ({exc.strerror or exc})")
            return None
        track_id = make_track_id(ID_NAMESPACE, sha)
        if not s.shard.owns(track_id):  # another machine's file: hashed to know, nothing else done
            summary.other_shards += 1
            self._note(path, "other shard", track_id=track_id, reason=f"not in shard {s.shard}")
            return None
        before = self.earlier.get(display_path(path))
        if before is not None and before != track_id:  # the file changed (retagged, re-encoded)
            self.gone.add(before)
            summary.changed += 1
        name = gtzan.excerpt_name(path)
        if name is not None and name in self.faults:
            self.gone.add(track_id)
            summary.excluded += 1
            self._note(path, "excluded", track_id=track_id,
                       reason=f"known faulty GTZAN excerpt (collectors/local/{gtzan.FAULTS_FILE.name})")
            return None
        tags = read_tags(path) if s.read_tags and info.st_size else FileTags()
        row, claim_rows = self._describe(found, tags)
        first = track_id not in self.seen
        changes = self._put_track(tracks, track_id, row, first) + self._put_claims(claims, track_id, claim_rows, first)
        if changes:
            checkpoint.changed(changes)
        if not first:
            same_as = display_path(self.seen[track_id])
            summary.duplicates.append((display_path(path), same_as))
            self._note(path, "duplicate", track_id=track_id, reason="the same bytes as another file",
                       same_as=same_as, tags=tags)
            return None
        self.seen[track_id] = path
        done = downloads.get(track_id)
        wav = layout.audio_path(track_id)
        same_source = done is not None and done.get("source_sha256") in (None, sha)
        if done is not None and same_source and not s.fresh:
            if done["status"] == "ok" and wav.is_file() and wav.stat().st_size > 0:
                summary.kept += 1
                if done.get("source_path") != display_path(path):  # the file moved
                    downloads.put({**done, "source_path": display_path(path), "source_sha256": sha})
                    checkpoint.changed()
                self._note(path, "kept", track_id=track_id, tags=tags)
                return None
            if done["status"] == "failed" and not s.retry_failed:
                summary.failed_earlier += 1
                self._note(path, "failed", track_id=track_id, reason=f"{done.get('reason') or 'failed'} "
                           "(an earlier run; --retry-failed tries again)", tags=tags)
                return None
        attempts = int((done or {}).get("attempts") or 0) + 1
        part = wav.with_name(wav.name + ".part") if info.st_size else None
        return _Job(track_id, path, sha, part, attempts, tags)

    def _remove(self, track_ids: set[str], tracks: TableStore, claims: TableStore, downloads: TableStore) -> None:
        """Tracks an earlier run imported from files that changed since, or are excluded now, leave every table.

        Only when no file of this run still holds the same bytes (a GTZAN replica, a copy elsewhere).
        """
        for track_id in sorted(track_ids):
            row = tracks.get(track_id)
            if row is None or row.get("origin") != ORIGIN:
                continue
            tracks.remove(track_id)
            for key in list(self.claim_keys.pop(track_id, ())):
                claims.remove(key)
            downloads.remove(track_id)
            self.layout.audio_path(track_id).unlink(missing_ok=True)
            self.summary.removed += 1

    def _write_report(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(self.report, key=lambda r: (r["path"], r["outcome"])))
        atomic_write_text(self.summary.report, buffer.getvalue())


def run_import(layout: Layout, paths: Sequence[Path], settings: ImportSettings | None = None) -> ImportSummary:
    """Run the import; see :class:`ImportStage`."""
    return ImportStage(layout, paths, settings).run()
