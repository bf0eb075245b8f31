"""Plan and write the synthetic corpus: WAVs plus the manifests a real collection produces.

``plan()`` turns (seed, sizes) into track specs; every random choice is keyed by
(seed, genre, artist, track), so a track's audio does not depend on the order of work or
the number of workers (it does depend on the sizes: an artist's sound is drawn knowing
how many tracks the artist has).  ``write_corpus()`` writes ``tracks``, ``claims``
and ``playlists`` up front (they are known before any audio exists, like a real
collection before its downloads), then renders the audio in worker processes and records
each finished file in ``downloads``.  A rerun keeps every file whose SHA-256 and duration
match its ``downloads`` row and renders only the rest.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import tempfile
import time
import wave
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from collectors.audio.pool import OwnedPool
from manifests import Layout, Row, TableStore, atomic_write_text, read_table, write_table
from manifests.hashing import sha256_file
from manifests.ids import make_track_id, normalize_text
from manifests.schema import CLAIMS, DOWNLOADS, PLAYLISTS, TRACKS

from .arrange import TrackSpec, render
from .artists import Artist, make_artist, make_name, make_title
from .genres import GENRES, recipe
from .synth import SR, Signal

log = logging.getLogger(__name__)

#: Bump when a change to the generator changes the audio: track IDs include it, so old
#: files are never mistaken for new ones.
GENERATOR_VERSION = 1

DEFAULT_SEED = 7
DEFAULT_TRACKS_PER_GENRE = 40
DEFAULT_ARTISTS_PER_GENRE = 10
DEFAULT_SECONDS = 25.0
DEFAULT_BLEND = 0.12
SOURCE = "synthetic"
#: file with the plan's parameters and every artist's fingerprint, under reports/
INFO_NAME = "synthetic_corpus.json"


class ProgressBar(Protocol):
    """What ``write_corpus`` needs of a progress bar (tqdm has it)."""

    def update(self, n: float = 1) -> object: ...

    def close(self) -> None: ...


class CorpusError(ValueError):
    """Sizes or a data folder the corpus cannot be written with (the message says which)."""


@dataclass(frozen=True)
class CorpusConfig:
    seed: int = DEFAULT_SEED
    tracks_per_genre: int = DEFAULT_TRACKS_PER_GENRE
    artists_per_genre: int = DEFAULT_ARTISTS_PER_GENRE
    seconds: float = DEFAULT_SECONDS
    blend: float = DEFAULT_BLEND
    genres: tuple[str, ...] = GENRES

    def check(self) -> None:
        if self.artists_per_genre < 1:
            raise CorpusError(f"--artists-per-genre {self.artists_per_genre}: need at least 1")
        if self.tracks_per_genre < 2 * self.artists_per_genre:
            raise CorpusError(f"--tracks-per-genre {self.tracks_per_genre} with --artists-per-genre "
                              f"{self.artists_per_genre}: every artist needs at least 2 tracks "
                              f"(use at least {2 * self.artists_per_genre} tracks per genre)")
        if not 1.0 <= self.seconds <= 600.0:
            raise CorpusError(f"--seconds {self.seconds:g}: must be between 1 and 600")
        if not 0.0 <= self.blend <= 1.0:
            raise CorpusError(f"--blend {self.blend:g}: must be a share between 0 and 1")
        if self.seed < 0:
            raise CorpusError(f"--seed {self.seed}: must be zero or positive")
        if not self.genres:
            raise CorpusError("--genres: no genre selected")
        for name in self.genres:
            if name not in GENRES:
                raise CorpusError(f"--genres: unknown synthetic genre {name!r}; known: {', '.join(GENRES)}")
        if len(set(self.genres)) != len(self.genres):
            raise CorpusError("--genres: a genre is listed twice")


# ---------------------------------------------------------------- planning

def _track_counts(total: int, artists: int, rng: np.random.Generator) -> list[int]:
    """Uneven but fair: every artist gets two tracks, the rest go to some more than others."""
    counts = np.full(artists, 2)
    extra = total - 2 * artists
    if extra > 0:
        counts += rng.multinomial(extra, rng.dirichlet(np.full(artists, 3.0)))
    return [int(c) for c in counts]


def plan(config: CorpusConfig) -> list[TrackSpec]:
    """Every track of the corpus, deterministic from the config."""
    config.check()
    specs: list[TrackSpec] = []
    used_names: set[str] = set()
    for genre in config.genres:
        gi = GENRES.index(genre)
        rec = recipe(genre)
        counts = _track_counts(config.tracks_per_genre, config.artists_per_genre,
                               np.random.default_rng([config.seed, gi, 1_000_003]))
        for ai, count in enumerate(counts):
            name_rng = np.random.default_rng([config.seed, gi, ai, 2])
            name = make_name(name_rng)
            while normalize_text(name) in used_names:
                name = make_name(name_rng)
            used_names.add(normalize_text(name))
            artist = make_artist(rec, ai, np.random.default_rng([config.seed, gi, ai, 1]), name,
                                 n_albums=1 + count // 4)
            titles: set[str] = set()
            for ti in range(count):
                specs.append(_track_spec(config, artist, gi, ai, ti, titles))
    return specs


def _track_spec(config: CorpusConfig, artist: Artist, gi: int, ai: int, ti: int, titles: set[str]) -> TrackSpec:
    rng = np.random.default_rng([config.seed, gi, ai, ti, 3])
    rec = recipe(artist.genre)
    secondary = None
    if rec.blend_with and rng.random() < config.blend:
        secondary = rec.blend_with[int(rng.integers(len(rec.blend_with)))]
    duration = round(config.seconds * (0.8 + 0.4 * rng.random()), 2)
    title = make_title(rng)
    while normalize_text(title) in titles:
        title = make_title(rng)
    titles.add(normalize_text(title))
    key = f"v{GENERATOR_VERSION}:{config.seed}:{artist.genre}:{ai}:{ti}"
    return TrackSpec(
        track_id=make_track_id(SOURCE, key), genre=artist.genre, secondary=secondary, artist=artist,
        title=title, album=artist.albums[int(rng.integers(len(artist.albums)))], duration_s=duration,
        rng_key=(config.seed, gi, ai, ti, 4),
    )


def n_samples(spec: TrackSpec) -> int:
    return int(round(spec.duration_s * SR))


# ---------------------------------------------------------------- manifest rows

def track_row(spec: TrackSpec, config: CorpusConfig) -> Row:
    year = 1990 + (spec.rng_key[2] * 7 + spec.rng_key[3] * 3 + config.seed) % 35
    return {
        "track_id": spec.track_id, "title": spec.title, "artists": [spec.artist.name], "album": spec.album,
        "release_date": str(year), "duration_ms": int(round(n_samples(spec) * 1000 / SR)),
        "playlists": [f"{SOURCE}:{g}" for g in spec.genres], "origin": SOURCE,
    }


def claim_rows(spec: TrackSpec, config: CorpusConfig) -> list[Row]:
    rows = [{"track_id": spec.track_id, "source": SOURCE, "raw_genre": spec.genre, "weight": 1.0,
             "evidence": f"{SOURCE}:{config.seed}", "detail": "primary: tempo, drums and bass of this recipe"}]
    if spec.secondary:
        rows.append({"track_id": spec.track_id, "source": SOURCE, "raw_genre": spec.secondary, "weight": 0.5,
                     "evidence": f"{SOURCE}:{config.seed}",
                     "detail": "secondary: chords, pad and lead from this recipe"})
    return rows


def playlist_rows(specs: Sequence[TrackSpec], config: CorpusConfig) -> list[Row]:
    counts = Counter(g for spec in specs for g in spec.genres)
    return [{"genre": g, "playlist_id": f"{SOURCE}:{g}", "playlist_ref": f"{SOURCE}:{g}",
             "name": f"Synthetic {g} (seed {config.seed})", "owner": "synthetic corpus",
             "n_items": counts[g], "n_tracks": counts[g], "status": "ok"} for g in sorted(counts)]


# ---------------------------------------------------------------- audio files

def to_pcm16(audio: Signal) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def write_wav(path: Path, audio: Signal) -> None:
    """16-bit mono WAV written atomically (a killed run never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            with wave.open(handle, "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SR)
                out.writeframes(to_pcm16(audio))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _render_job(job: tuple[TrackSpec, str]) -> tuple[str, str, int]:
    """Worker: render one track, write its WAV, return (track_id, sha256, samples)."""
    spec, path = job
    audio = render(spec)
    write_wav(Path(path), audio)
    return spec.track_id, sha256_file(Path(path)), len(audio)


def download_row(spec: TrackSpec, layout: Layout, sha: str, samples: int) -> Row:
    return {"track_id": spec.track_id, "status": "ok", "audio_path": layout.relative(layout.audio_path(spec.track_id)),
            "sample_rate": SR, "audio_duration_s": round(samples / SR, 3), "sha256": sha, "attempts": 1}


def is_current(spec: TrackSpec, row: Row | None, layout: Layout) -> bool:
    """Whether the file on disk is this spec's finished audio (so a rerun can keep it)."""
    if not row or row.get("status") != "ok" or not row.get("sha256"):
        return False
    if row.get("sample_rate") != SR or abs((row.get("audio_duration_s") or -1) - n_samples(spec) / SR) > 0.0015:
        return False
    path = layout.audio_path(spec.track_id)
    return path.is_file() and sha256_file(path) == row["sha256"]


# ---------------------------------------------------------------- the corpus

@dataclass
class CorpusSummary:
    data_dir: Path
    tracks: int = 0
    rendered: int = 0
    kept: int = 0
    audio_s: float = 0.0
    seconds: float = 0.0
    per_genre: dict[str, int] = field(default_factory=dict)
    multi_genre: int = 0
    artists: int = 0
    stale_rows: int = 0


def _refuse_foreign(layout: Layout) -> None:
    """Never overwrite a real collection's manifests with a synthetic one."""
    path = layout.table_path(TRACKS)
    rows = read_table(path, TRACKS, missing_ok=True)
    foreign = Counter(r["origin"] for r in rows if r["origin"] != SOURCE)
    if foreign:
        kinds = ", ".join(f"{n} {origin}" for origin, n in sorted(foreign.items()))
        raise CorpusError(f"{path} already lists a real collection ({kinds} tracks); write the synthetic "
                          "corpus to its own folder with --data DIR")


def write_corpus(layout: Layout, config: CorpusConfig, *, workers: int = 1, force: bool = False,
                 progress: Callable[[int], ProgressBar] | None = None) -> CorpusSummary:
    """Write (or complete) the corpus in ``layout``; ``progress(total)`` returns a tqdm-like bar."""
    started = time.monotonic()
    specs = plan(config)
    _refuse_foreign(layout)
    summary = CorpusSummary(layout.root, tracks=len(specs))
    summary.per_genre = dict(Counter(spec.genre for spec in specs))
    summary.multi_genre = sum(1 for spec in specs if spec.secondary)
    summary.artists = len({spec.artist.name for spec in specs})

    layout.audio.mkdir(parents=True, exist_ok=True)
    write_table(layout.table_path(TRACKS), TRACKS, [track_row(spec, config) for spec in specs])
    write_table(layout.table_path(CLAIMS), CLAIMS, [row for spec in specs for row in claim_rows(spec, config)])
    write_table(layout.table_path(PLAYLISTS), PLAYLISTS, playlist_rows(specs, config))
    _write_info(layout, config, specs)

    wanted = {spec.track_id for spec in specs}
    # the shared flush policy (rows or seconds): a killed run re-renders at most that many files
    with TableStore(layout.table_path(DOWNLOADS), DOWNLOADS) as store:
        for key in [k for k in store.rows if k[0] not in wanted]:  # rows of another plan
            store.remove(key)
            summary.stale_rows += 1
        todo = []
        for spec in specs:
            if not force and is_current(spec, store.get(spec.track_id), layout):
                summary.kept += 1
                summary.audio_s += n_samples(spec) / SR
            else:
                todo.append(spec)
        by_id = {spec.track_id: spec for spec in todo}
        jobs = [(spec, str(layout.audio_path(spec.track_id))) for spec in todo]
        bar = progress(len(jobs)) if progress and jobs else None
        try:
            for track_id, sha, samples in _run(jobs, workers):
                store.put(download_row(by_id[track_id], layout, sha, samples))
                summary.rendered += 1
                summary.audio_s += samples / SR
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    summary.seconds = time.monotonic() - started
    return summary


def _run(jobs: list[tuple[TrackSpec, str]], workers: int) -> Iterator[tuple[str, str, int]]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _render_job(job)
        return
    # fork where the platform has it: workers start in milliseconds and need no ``__main__`` guard
    # in the caller's script; the workers only run numpy, so inherited threads do not matter.
    # Workers end with this process, quietly, however it ends (a kill -9 included).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with OwnedPool(min(workers, len(jobs)), ctx) as pool:
        yield from pool.imap_unordered(_render_job, jobs, chunksize=2)


def _write_info(layout: Layout, config: CorpusConfig, specs: Sequence[TrackSpec]) -> None:
    """The plan and every artist's fingerprint, for people who want to know what is in the corpus."""
    artists: dict[str, dict[str, Any]] = {}
    for spec in specs:
        entry = artists.setdefault(spec.artist.name, {"genre": spec.genre, "tracks": 0,
                                                      "fingerprint": spec.artist.fingerprint()})
        entry["tracks"] += 1
    info = {"generator_version": GENERATOR_VERSION, "seed": config.seed, "genres": list(config.genres),
            "tracks_per_genre": config.tracks_per_genre, "artists_per_genre": config.artists_per_genre,
            "seconds": config.seconds, "blend": config.blend, "sample_rate": SR,
            "tracks": len(specs), "multi_genre": sum(1 for s in specs if s.secondary), "artists": artists}
    atomic_write_text(layout.reports / INFO_NAME, json.dumps(info, indent=2, sort_keys=True) + "\n")
