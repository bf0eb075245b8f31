"""The batches a run trains and validates on: plain, indexable sequences of numpy arrays.

* :class:`TrainCrops`: ``crops_per_track`` random crops per track and epoch (or balanced
  sampling), seeded by ``(seed, epoch, batch)`` so a rerun sees the same crops, with the
  numpy augmentations of :mod:`training.data.augment`;
* :class:`FixedCrops`: fixed, evenly spaced validation crops, no augmentation;
* :func:`prefetch`: batches in order, the next ones prepared in background threads.

Only numpy is used, so the same sequences feed TensorFlow, JAX or PyTorch through the
trainer's own ``train_on_batch`` loop.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..config import TrainConfig
from .augment import add_noise, mixup, stretch_rates
from .cache import AudioCache
from .crops import read_crop, song_crop_starts
from .manifest import SplitData

#: ``(crops, targets)`` or ``(crops, targets, loss weights)``
Batch = tuple[np.ndarray, ...]


class TrainCrops:
    """Random training crops from the cache, ``crops_per_track`` per track and epoch, augmented.

    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: reruns and resumed runs see the
    same crops.  The trainer sets :attr:`epoch` before each epoch.
    """

    def __init__(self, cache: AudioCache, split: SplitData, config: TrainConfig, *,
                 class_weights: np.ndarray | None = None, epoch: int = 0, augment: bool | None = None) -> None:
        if len(split) == 0:
            raise ValueError("no training tracks")
        self.cache = cache
        self.split = split
        self.config = config
        self.augment = config.augment.enabled if augment is None else augment
        self.class_weights = class_weights
        self.epoch = epoch
        self.crop_samples = config.features.crop_samples
        self.batch_size = config.batch_size
        self.lengths = np.array([cache.length(t) for t in split.track_ids], dtype=np.int64)
        self.n_crops = len(split) * config.crops_per_track
        self._plan: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def __len__(self) -> int:
        # Drop a last partial batch: batch norm statistics from one or two crops are noise.
        return max(1, self.n_crops // self.batch_size)

    def plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every crop of the epoch: track index, start sample and read length (stretch)."""
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]
        rng = np.random.default_rng([self.config.seed, epoch, 0])
        n_tracks = len(self.split)
        if self.config.balance == "sampling":
            counts = np.bincount(self.split.primary, minlength=self.split.targets.shape[1]).astype(np.float64)
            p = 1.0 / counts[self.split.primary]
            tracks = rng.choice(n_tracks, size=self.n_crops, p=p / p.sum())
        else:
            tracks = rng.permutation(np.repeat(np.arange(n_tracks), self.config.crops_per_track))
        if self.augment:
            rates = stretch_rates(self.n_crops, self.config.augment, rng)
        else:
            rates = np.ones(self.n_crops)
        read_len = np.maximum(1, np.round(self.crop_samples * rates)).astype(np.int64)
        room = np.maximum(self.lengths[tracks] - read_len, 0)
        starts = np.floor(rng.random(self.n_crops) * (room + 1)).astype(np.int64)
        self._plan = (epoch, (tracks, starts, read_len))
        return tracks, starts, read_len

    def __getitem__(self, index: int) -> Batch:
        if not 0 <= index < len(self):
            raise IndexError(index)
        tracks, starts, read_len = self.plan(self.epoch)
        sel = slice(index * self.batch_size, (index + 1) * self.batch_size)
        rng = np.random.default_rng([self.config.seed, self.epoch, index + 1])
        ids = self.split.track_ids
        batch_tracks = tracks[sel]
        x = np.empty((len(batch_tracks), self.crop_samples), dtype=np.float32)
        for row, (t, s, n) in enumerate(zip(batch_tracks, starts[sel], read_len[sel], strict=True)):
            read_crop(self.cache, ids[t], int(s), int(n), self.crop_samples, out=x[row])
        y = self.split.targets[batch_tracks].copy()
        w = None
        if self.class_weights is not None:
            if self.config.task == "single":
                w = self.class_weights[self.split.primary[batch_tracks]]
            else:  # mean weight of the crop's positive genres
                w = (y @ self.class_weights) / np.maximum(y.sum(axis=1), 1.0)
            w = w.astype(np.float32)
        if self.augment:
            x = add_noise(x, self.config.augment, rng)
            x, y, w = mixup(x, y, w, self.config.augment.mixup_alpha, rng)
        return (x, y) if w is None else (x, y, w)


class FixedCrops:
    """Evenly spaced crops per track (validation): the same crops every epoch, no augmentation."""

    def __init__(self, cache: AudioCache, split: SplitData, config: TrainConfig, *,
                 crops_per_track: int | None = None) -> None:
        self.cache = cache
        self.split = split
        self.crop_samples = config.features.crop_samples
        self.batch_size = config.batch_size
        n = crops_per_track or config.val_crops_per_track
        items = []
        for i, track_id in enumerate(split.track_ids):
            for start in song_crop_starts(cache.length(track_id), self.crop_samples, n):
                items.append((i, int(start)))
        #: for each crop, the index of its track in ``split`` (song-level averaging)
        self.crop_track = np.array([i for i, _ in items], dtype=np.int64)
        self.crop_start = np.array([s for _, s in items], dtype=np.int64)

    def __len__(self) -> int:
        return math.ceil(len(self.crop_track) / self.batch_size)

    def __getitem__(self, index: int) -> Batch:
        if not 0 <= index < len(self):
            raise IndexError(index)
        sel = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ids = self.split.track_ids
        tracks = self.crop_track[sel]
        x = np.empty((len(tracks), self.crop_samples), dtype=np.float32)
        for row, (t, s) in enumerate(zip(tracks, self.crop_start[sel], strict=True)):
            read_crop(self.cache, ids[t], int(s), self.crop_samples, self.crop_samples, out=x[row])
        return x, self.split.targets[tracks]


def prefetch(seq: TrainCrops | FixedCrops, workers: int) -> Generator[Batch, None, None]:
    """Batches in order, the next ones prepared in background threads while the model trains.

    Batch ``i`` is the same whichever thread makes it (see :class:`TrainCrops`), so the number
    of threads never changes a run.  When the consumer stops early (an exception, Ctrl-C, or
    ``close()``), batches not yet started are cancelled and the threads end after the one
    they are making: nothing keeps working for a loop that has gone.  A killed process takes
    its threads with it.
    """
    n = len(seq)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="batches") as pool:
        ahead = deque(pool.submit(seq.__getitem__, i) for i in range(min(n, workers + 1)))
        submitted = len(ahead)
        try:
            while ahead:
                batch = ahead.popleft().result()
                if submitted < n:
                    ahead.append(pool.submit(seq.__getitem__, submitted))
                    submitted += 1
                yield batch
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # the with block then waits for running ones
