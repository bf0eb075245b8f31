"""The decoded-audio cache: every training track as int16 in one memory-mapped file.

Decoding WAVs (or anything else) every epoch would make the input pipeline the
bottleneck, and float32 copies of a collection do not fit in memory.  So the
tracks listed in the training manifest are decoded once into
``<data>/cache/audio-<rate>hz-<build>.int16`` (raw little-endian int16 samples,
two bytes per sample: 115 MB per hour at 16 kHz), with a JSON index
``audio-<rate>hz.json`` giving each track's offset, length and fingerprint (the
manifest's sha256, else file size and modification time).

The cache is reused as long as every manifest track is in it with the same
fingerprint.  When tracks are added or a file changes, a new file is written:
unchanged tracks are copied from the old cache, only new or changed files are
decoded, and the old file is removed after the new index is in place (a crash
at any point leaves a usable old or new cache, never a mixed one).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from manifests.errors import UserError
from manifests.io import Row, atomic_write_text
from manifests.layout import Layout

log = logging.getLogger(__name__)

INDEX_VERSION = 1
#: The index file (and each of its track entries) as JSON.
Index = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class CacheStats:
    """What a build did: tracks decoded from their files, copied from the old cache, or reused as is."""

    decoded: int
    copied: int
    reused: bool
    seconds: float


@dataclass(frozen=True)
class TrackSource:
    """One track to cache: where its audio is and what identifies this version of the file."""

    track_id: str
    path: Path
    fingerprint: str


class AudioCache:
    """Read-only view of a built cache: ``int16(track_id)`` is a zero-copy slice of the memory map."""

    def __init__(self, index_path: Path, index: Index) -> None:
        self.index_path = index_path
        self.sample_rate = int(index["sample_rate"])
        self.raw_path = index_path.parent / index["raw_file"]
        self.total_samples = int(index["total_samples"])
        self.entries: dict[str, tuple[int, int, str]] = {
            t["track_id"]: (int(t["offset"]), int(t["length"]), str(t["fingerprint"])) for t in index["tracks"]}
        self.samples: np.ndarray
        if self.total_samples:
            self.samples = np.memmap(self.raw_path, dtype="<i2", mode="r", shape=(self.total_samples,))
        else:
            self.samples = np.zeros(0, dtype="<i2")

    def __contains__(self, track_id: str) -> bool:
        return track_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def track_ids(self) -> list[str]:
        return list(self.entries)

    @property
    def nbytes(self) -> int:
        return self.total_samples * 2

    @property
    def hours(self) -> float:
        return self.total_samples / self.sample_rate / 3600

    def length(self, track_id: str) -> int:
        return self.entries[track_id][1]

    def offset(self, track_id: str) -> int:
        return self.entries[track_id][0]

    def int16(self, track_id: str) -> np.ndarray:
        """The track's samples as an int16 view into the memory map (no copy, no decode)."""
        try:
            offset, length, _ = self.entries[track_id]
        except KeyError:
            raise KeyError(f"track {track_id!r} is not in the audio cache {self.index_path}") from None
        return self.samples[offset: offset + length]

    def wave(self, track_id: str) -> np.ndarray:
        """The track as float32 in [-1, 1), as ``manifests.audio.ffmpeg.decode_audio`` returns it."""
        return self.int16(track_id).astype(np.float32) / 32768.0

    def close(self) -> None:
        mm = getattr(self.samples, "_mmap", None)
        self.samples = np.zeros(0, dtype="<i2")
        if mm is not None:
            try:
                mm.close()
            except (BufferError, ValueError):  # a caller still holds a view: the GC will close it
                pass


# ---------------------------------------------------------------- sources and fingerprints

def track_sources(layout: Layout, rows: Iterable[Row]) -> list[TrackSource]:
    """Resolve each manifest row's audio file; one-line error naming the first missing file."""
    sources: list[TrackSource] = []
    missing: list[str] = []
    for row in rows:
        path = layout.resolve(row["audio_path"])
        if not path.is_file():
            missing.append(f"{path} (track {row['track_id']})")
            continue
        sha = row.get("sha256")
        if sha:
            fingerprint = f"sha256:{sha}"
        else:
            stat = path.stat()
            fingerprint = f"stat:{stat.st_size}:{stat.st_mtime_ns}"
        sources.append(TrackSource(row["track_id"], path, fingerprint))
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UserError(f"audio file missing: {missing[0]}{more}; rerun the download/convert step "
                        "or rebuild the training manifest")
    return sources


def decode_int16(path: Path, sample_rate: int) -> np.ndarray:
    """Mono int16 samples at ``sample_rate``: soundfile for matching WAV/FLAC, ffmpeg for anything else."""
    import soundfile as sf

    from manifests.audio import FFmpegError, decode_audio

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        info = None
    if info is not None and info.samplerate == sample_rate:
        try:
            data = sf.read(str(path), dtype="int16", always_2d=True)[0]
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise UserError(f"{path}: cannot read the audio file: {exc}") from None
        if data.shape[1] == 1:
            samples = data[:, 0]
        else:  # down-mix the way ffmpeg -ac 1 does: the mean of the channels
            samples = np.round(data.astype(np.float32).mean(axis=1)).astype(np.int16)
    else:
        try:
            wave = decode_audio(path, sample_rate)
        except FFmpegError as exc:
            raise UserError(str(exc)) from None
        samples = np.clip(np.round(wave * 32768.0), -32768, 32767).astype(np.int16)
    if samples.size == 0:
        raise UserError(f"{path}: the audio file holds no samples")
    return np.ascontiguousarray(samples, dtype="<i2")


# ---------------------------------------------------------------- building

def _bounded_map(pool: ThreadPoolExecutor, func: Callable[[T], R], items: Sequence[T], ahead: int) -> Iterator[R]:
    """``pool.map`` in order, with at most ``ahead`` decoded tracks waiting in memory."""
    pending: deque[Future[R]] = deque()
    it = iter(items)
    for item in it:
        pending.append(pool.submit(func, item))
        if len(pending) >= ahead:
            break
    while pending:
        result = pending.popleft().result()
        for item in it:  # the next item, if any
            pending.append(pool.submit(func, item))
            break
        yield result


def index_path(cache_dir: Path, sample_rate: int) -> Path:
    return cache_dir / f"audio-{sample_rate}hz.json"


def _read_index(path: Path, sample_rate: int) -> Index | None:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable cache index (%s); rebuilding the cache", path, exc)
        return None
    try:
        ok = (index.get("version") == INDEX_VERSION and int(index["sample_rate"]) == sample_rate
              and (path.parent / index["raw_file"]).is_file()
              and (path.parent / index["raw_file"]).stat().st_size == 2 * int(index["total_samples"]))
    except (KeyError, TypeError, ValueError, OSError):
        ok = False
    if not ok or not isinstance(index, dict):
        log.warning("%s: cache index does not match its data file; rebuilding the cache", path)
        return None
    return index


def _remove_stale(cache_dir: Path, sample_rate: int, keep: str) -> None:
    """Delete data files of older builds (and of builds a crash left behind)."""
    for path in cache_dir.glob(f"audio-{sample_rate}hz-*.int16*"):
        if path.name != keep:
            try:
                path.unlink()
            except OSError as exc:  # e.g. still mapped on Windows: harmless, retried next build
                log.debug("could not remove %s: %s", path, exc)


def build_cache(layout: Layout, rows: Sequence[Row], sample_rate: int = 16000, *,
                workers: int = 2, progress: bool = True,
                decoder: Callable[[Path, int], np.ndarray] | None = None) -> tuple[AudioCache, CacheStats]:
    """Open the cache for these manifest rows, (re)building it only when a track is new or changed."""
    import time

    from tqdm import tqdm

    started = time.perf_counter()
    decoder = decoder or decode_int16
    cache_dir = layout.cache
    ipath = index_path(cache_dir, sample_rate)
    sources = track_sources(layout, rows)
    old_index = _read_index(ipath, sample_rate)
    old = AudioCache(ipath, old_index) if old_index is not None else None

    if old is not None and all(s.track_id in old.entries and old.entries[s.track_id][2] == s.fingerprint
                               for s in sources):
        log.info("audio cache up to date: %d tracks, %.2f h (%s)", len(sources), old.hours, old.raw_path)
        return old, CacheStats(decoded=0, copied=0, reused=True, seconds=time.perf_counter() - started)

    cache_dir.mkdir(parents=True, exist_ok=True)
    raw_name = f"audio-{sample_rate}hz-{secrets.token_hex(4)}.int16"
    tmp_path = cache_dir / (raw_name + ".partial")
    to_decode = [s for s in sources if old is None or old.entries.get(s.track_id, (0, 0, ""))[2] != s.fingerprint]
    decode_set = {s.track_id for s in to_decode}
    log.info("building the audio cache: %d tracks to decode, %d copied from the previous cache",
             len(to_decode), len(sources) - len(to_decode))
    tracks: list[Index] = []
    offset = 0
    copied = 0
    try:
        with open(tmp_path, "wb") as out, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            decoded_iter = _bounded_map(pool, lambda s: decoder(s.path, sample_rate), to_decode,
                                        ahead=4 * max(1, workers))
            bar = tqdm(total=len(sources), desc="caching audio", unit="track", disable=not progress or None,
                       leave=False)
            with bar:
                for source in sources:
                    if source.track_id in decode_set or old is None:
                        samples = next(decoded_iter)
                    else:
                        samples = old.int16(source.track_id)
                        copied += 1
                    out.write(np.asarray(samples, dtype="<i2").tobytes())
                    tracks.append({"track_id": source.track_id, "offset": offset, "length": int(len(samples)),
                                   "fingerprint": source.fingerprint, "source": layout.relative(source.path)})
                    offset += len(samples)
                    bar.update(1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_path, cache_dir / raw_name)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    index = {"version": INDEX_VERSION, "sample_rate": sample_rate, "dtype": "int16",
             "raw_file": raw_name, "total_samples": offset, "tracks": tracks}
    atomic_write_text(ipath, json.dumps(index, indent=1) + "\n")
    if old is not None:
        old.close()
    _remove_stale(cache_dir, sample_rate, keep=raw_name)
    cache = AudioCache(ipath, index)
    stats = CacheStats(decoded=len(to_decode), copied=copied, reused=False, seconds=time.perf_counter() - started)
    log.info("audio cache ready: %d tracks, %.2f h, %.1f MB in %.1f s", len(cache), cache.hours,
             cache.nbytes / 1e6, stats.seconds)
    return cache, stats
