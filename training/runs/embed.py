"""Pretrained embeddings of tracks and files: decode, cut into patches, run the model, pool, cache.

The recipe is the literature's for musicnn (and what :class:`~training.config.ProbeConfig`
defaults to): a layer's activation (``penultimate`` of musicnn-MSD) for every 3-s patch,
patches half-overlapping, averaged into one vector per track.  ``max_patches`` bounds the
work per track with evenly spaced patches (long tracks on a slow CPU).

:func:`embed_tracks` embeds the audio files of manifest rows through the
:class:`~training.data.embeddings.EmbeddingCache`: files already there are read back,
the rest are decoded (a second thread decodes the next file while the model runs),
cut into patches, and run through the model in full batches that mix the patches of
several tracks (short tracks do not each pay for a padded batch).  Each track's vector
is written the moment its last patch is through, so a killed run keeps everything
finished and the rerun computes only the rest.  The model is loaded only when
something is missing: a rerun on a complete cache starts no framework.

:class:`Embedder` is the same for one waveform (``predict`` on a probe run).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.io import Row
from manifests.layout import Layout

from ..data.cache import decode_int16, track_sources
from ..data.embeddings import EmbeddingCache, EmbeddingSettings, pool
from ..models.pretrained.patches import centred_signal, hop_frames_for, patch_starts
from ..models.pretrained.registry import PretrainedSpec, get_pretrained
from ..models.pretrained.tagger import TAGGRAM

if TYPE_CHECKING:
    from ..models.pretrained.tagger import PretrainedModel

log = logging.getLogger(__name__)

#: Patches per model call, per Keras backend, as measured on two CPU cores.  TensorFlow takes the
#: same time per patch from 8 to 64 patches a call (about 33 ms: the convolutions' arithmetic) while
#: the process's peak memory grows with the batch (about 2.3 GB at 16, 3.0 GB at 32, 3.4 GB at 64),
#: so 16.  JAX's compiled model is about 20 % faster per patch at 32 than at 16 and stays near 1 GB.
BATCH_PATCHES = {"jax": 32}
#: ... for any other backend
DEFAULT_BATCH_PATCHES = 16
K = TypeVar("K")


@dataclass
class EmbedStats:
    """What an embedding pass did: files read from the cache or computed, and the work that took."""

    tracks: int = 0
    files: int = 0
    cached: int = 0
    computed: int = 0
    patches: int = 0
    padded: int = 0
    #: seconds of audio of the computed files, and the wall time of the whole pass
    audio_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def real_time_factor(self) -> float | None:
        """Seconds of audio embedded per second of wall time (log-mel and decoding included)."""
        return self.audio_seconds / self.seconds if self.computed and self.seconds > 0 else None

    def as_json(self) -> dict[str, float | int | None]:
        factor = self.real_time_factor
        return {"tracks": self.tracks, "files": self.files, "cached": self.cached, "computed": self.computed,
                "patches": self.patches, "padded": self.padded, "audio_seconds": round(self.audio_seconds, 1),
                "seconds": round(self.seconds, 2), "real_time_factor": None if factor is None else round(factor, 1)}


class Embedder:
    """A pretrained model's pooled embedding of waveforms, with the settings' patching and pooling.

    The model is loaded on first use.  ``calls`` counts model calls (batches), so a caller
    (and the tests) can see that a rerun computed nothing.
    """

    def __init__(self, settings: EmbeddingSettings, batch_size: int | None = None) -> None:
        self.settings = settings
        self.spec: PretrainedSpec = get_pretrained(settings.model)
        layers = dict(self.spec.embedding_layers)
        layers[TAGGRAM] = len(self.spec.labels)  # the tag probabilities pool like any layer (claims-audio)
        if settings.layer not in layers:
            raise UserError(f"{self.spec.name} has no embedding layer {settings.layer!r}; choose one of "
                            f"{', '.join(layers)}")
        self.layer_size = layers[settings.layer]
        self.size = settings.size(self.layer_size)
        self.hop_frames = hop_frames_for(self.spec.spectrogram, settings.overlap)
        self._batch_size = None if batch_size is None else max(1, batch_size)
        self.calls = 0
        self._model: PretrainedModel | None = None

    @property
    def sample_rate(self) -> int:
        return self.spec.sample_rate

    @property
    def model(self) -> PretrainedModel:
        if self._model is None:
            from ..models.pretrained.tagger import load_pretrained

            self._model = load_pretrained(self.spec)
        return self._model

    @property
    def batch_size(self) -> int:
        """Patches per model call: as given, else the backend's :data:`BATCH_PATCHES` (loads the model)."""
        if self._batch_size is None:
            _ = self.model  # first: loading it starts Keras with TensorFlow's start-up lines filtered
            import keras

            self._batch_size = BATCH_PATCHES.get(str(keras.backend.backend()), DEFAULT_BATCH_PATCHES)
        return self._batch_size

    def starts(self, n_samples: int) -> np.ndarray:
        """Where the patches of a track of ``n_samples`` start (in its centred signal)."""
        return patch_starts(n_samples, self.spec.spectrogram, self.hop_frames, self.settings.max_patches)

    def _run(self, windows: np.ndarray) -> np.ndarray:
        """The layer's output for ``windows``, in batches of one size (a smaller last one is padded)."""
        out = []
        size = self.batch_size
        for first in range(0, windows.shape[0], size):
            chunk = windows[first:first + size]
            n = chunk.shape[0]
            if n < size:  # one input shape for every call: no retracing
                chunk = np.concatenate([chunk, np.zeros((size - n, chunk.shape[1]), np.float32)])
            self.calls += 1
            values = self.model.predict(chunk, self.sample_rate, layers=(self.settings.layer,))[self.settings.layer]
            out.append(values[:n].reshape(n, -1))
        return np.concatenate(out)

    def embed_wave(self, wave: np.ndarray) -> tuple[np.ndarray, int, bool]:
        """One waveform at :attr:`sample_rate`: its pooled vector, the patches it took, whether it was padded."""
        ((vector, n, padded),) = (result for _, result in self.embed_many([(0, wave)]))
        return vector, n, padded

    def embed_many(self, items: Iterable[tuple[K, np.ndarray]]) -> Iterator[tuple[K, tuple[np.ndarray, int, bool]]]:
        """``(key, wave)`` pairs to ``(key, (vector, n_patches, padded))``, in order, each as soon as it is done.

        Patches of consecutive tracks share batches; a track's centred signal is kept only
        until its last patch has gone through the model.
        """
        size = self.spec.spectrogram.patch_samples
        queue: deque[tuple[int, np.ndarray, int]] = deque()  # (slot, centred signal, start) per patch
        tracks: dict[int, tuple[K, bool, int, list[np.ndarray]]] = {}  # slot -> (key, padded, n, outputs)
        next_out = 0

        def run(n: int) -> None:
            taken = [queue.popleft() for _ in range(n)]
            values = self._run(np.stack([signal[s:s + size] for _, signal, s in taken]))
            for (slot, _, _), row in zip(taken, values, strict=True):
                tracks[slot][3].append(row)

        def finished() -> Iterator[tuple[K, tuple[np.ndarray, int, bool]]]:
            nonlocal next_out
            while next_out in tracks and len(tracks[next_out][3]) == tracks[next_out][2]:
                key, padded, n, outputs = tracks.pop(next_out)
                next_out += 1
                yield key, (pool(np.stack(outputs), self.settings.pooling), n, padded)

        for slot, (key, wave) in enumerate(items):
            signal, padded = centred_signal(wave, self.spec.spectrogram)
            starts = self.starts(np.asarray(wave).size)
            tracks[slot] = (key, padded, len(starts), [])
            queue.extend((slot, signal, int(s)) for s in starts)
            while len(queue) >= self.batch_size:
                run(self.batch_size)
            yield from finished()
        if queue:
            run(len(queue))
        yield from finished()


def _prefetched(func: Callable[[Path], np.ndarray], paths: Sequence[Path], ahead: int = 2) -> Iterator[np.ndarray]:
    """``func(path)`` for each path in order, computed up to ``ahead`` paths in advance on one thread."""
    with ThreadPoolExecutor(max_workers=1) as pool_:
        pending: deque[Future[np.ndarray]] = deque()
        it = iter(paths)
        for path in it:
            pending.append(pool_.submit(func, path))
            if len(pending) >= ahead:
                break
        try:
            while pending:
                result = pending.popleft().result()
                for path in it:
                    pending.append(pool_.submit(func, path))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()


def decode_wave(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``: the same samples the audio cache and evaluation read."""
    return decode_int16(path, sample_rate).astype(np.float32) / 32768.0


@dataclass
class TrackEmbeddings:
    """Vectors of manifest rows ``[n_rows, size]`` in row order, and what computing them took."""

    track_ids: list[str]
    vectors: np.ndarray
    stats: EmbedStats

    def of(self, track_ids: Sequence[str]) -> np.ndarray:
        index = {t: i for i, t in enumerate(self.track_ids)}
        return self.vectors[[index[t] for t in track_ids]] if track_ids else self.vectors[:0]


def embed_tracks(layout: Layout, rows: Sequence[Row], settings: EmbeddingSettings, *,
                 progress: bool = True, batch_size: int | None = None,
                 embedder: Embedder | None = None, cache_root: Path | None = None) -> TrackEmbeddings:
    """The embedding of every row's audio file, computing (and caching) only what the cache lacks.

    A missing audio file is a one-line error before anything is computed; a file that cannot
    be decoded stops the pass with one line, keeping every vector finished before it.
    ``cache_root`` replaces ``layout.cache`` (the benchmark times a cold cache of its own).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    embedder = embedder or Embedder(settings, batch_size)
    sources = track_sources(layout, rows)  # one-line error naming a missing file
    shas: list[str] = []
    for source in sources:
        fingerprint = source.fingerprint
        shas.append(fingerprint.removeprefix("sha256:") if fingerprint.startswith("sha256:")
                    else sha256_file(source.path))
    cache = EmbeddingCache(cache_root or layout.cache, settings, embedder.size)
    cache.prepare()
    vectors: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for sha, source in zip(shas, sources, strict=True):
        if sha in vectors or sha in paths:
            continue
        vector = cache.get(sha)
        if vector is None:
            paths[sha] = source.path
        else:
            vectors[sha] = vector
    stats = EmbedStats(tracks=len(sources), files=len(vectors) + len(paths), cached=len(vectors))
    if paths:
        todo = list(paths)
        log.info("embedding %d audio file(s) with %s (%d already cached in %s)", len(todo),
                 settings.describe(), stats.cached, cache.folder)
        rate = embedder.sample_rate
        waves = _prefetched(lambda path: decode_wave(path, rate), [paths[sha] for sha in todo])
        bar = tqdm(total=len(todo), desc=f"embedding ({settings.model} {settings.layer})", unit="track",
                   disable=not progress or None, leave=False)
        with bar:
            for sha, (vector, n_patches, padded) in embedder.embed_many(
                    _counted(zip(todo, waves, strict=True), stats, rate)):
                cache.put(sha, vector)
                vectors[sha] = vector
                stats.computed += 1
                stats.patches += n_patches
                stats.padded += int(padded)
                bar.update(1)
    stats.seconds = time.perf_counter() - started
    if stats.computed:
        log.info("embedded %d file(s), %.0f s of audio, in %.1f s (%.1fx real time); %d from the cache",
                 stats.computed, stats.audio_seconds, stats.seconds, stats.real_time_factor or 0.0, stats.cached)
    else:
        log.info("every embedding was cached (%d file(s) in %s)", stats.cached, cache.folder)
    matrix = np.stack([vectors[sha] for sha in shas]) if shas else np.zeros((0, embedder.size), np.float32)
    return TrackEmbeddings([s.track_id for s in sources], matrix, stats)


def _counted(items: Iterable[tuple[str, np.ndarray]], stats: EmbedStats,
             rate: int) -> Iterator[tuple[str, np.ndarray]]:
    for sha, wave in items:
        stats.audio_seconds += wave.size / rate
        yield sha, wave
