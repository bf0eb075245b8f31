"""From the training manifest to batches: label space, split checks, and crop sequences.

The training table (``manifests/training.csv``, written by ``python -m labeling
build``) lists each usable track with its audio, genres and split.  Here it
becomes a label list and per-split target matrices, with one-line errors when a
genre or a split has too few tracks, and then Keras ``PyDataset`` sequences
that cut crops out of the memory-mapped audio cache:

* training: ``crops_per_track`` random crops per track and epoch (or balanced
  sampling), seeded by ``(seed, epoch, batch)`` so a rerun sees the same crops,
  with the numpy augmentations of :mod:`training.augment`;
* validation: fixed, evenly spaced crops, no augmentation.

Only numpy is used to make batches, so the same sequences feed TensorFlow, JAX or
PyTorch.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from manifests.errors import UserError
from manifests.io import read_table
from manifests.layout import Layout
from manifests.schema import SPLITS, TRAINING

from ..config import TrainConfig
from ..models.features import song_crop_starts
from .augment import add_noise, mixup, resample_to, stretch_rates
from .cache import AudioCache

log = logging.getLogger(__name__)


@dataclass
class SplitData:
    """The usable tracks of one split: ids, target rows ``[n, L]`` and each track's main label."""

    name: str
    track_ids: list[str]
    targets: np.ndarray
    primary: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass
class Dataset:
    """Label list and the three splits, ready for the sequences."""

    labels: list[str]
    task: str
    splits: dict[str, SplitData]
    #: rows left out and why (ambiguous top genre, no genre above the threshold, rare genre)
    skipped: dict[str, int] = field(default_factory=dict)
    dropped_genres: dict[str, int] = field(default_factory=dict)

    @property
    def train(self) -> SplitData:
        return self.splits["train"]

    @property
    def validation(self) -> SplitData:
        return self.splits["validation"]

    def counts(self) -> dict[str, dict[str, int]]:
        """Tracks per label and split (a multi-label track counts for each of its genres)."""
        return {label: {name: int((split.targets[:, i] > 0).sum()) if len(split) else 0
                        for name, split in self.splits.items()}
                for i, label in enumerate(self.labels)}

    def class_weights(self) -> np.ndarray:
        """Inverse-frequency weight per label from the training split (mean 1 over tracks)."""
        counts = np.bincount(self.train.primary, minlength=len(self.labels)).astype(np.float64)
        weights = len(self.train) / (len(self.labels) * np.maximum(counts, 1.0))
        return np.clip(weights, 0.05, 20.0).astype(np.float32)


# ---------------------------------------------------------------- manifest to label space

def read_manifest(layout: Layout, manifest: Path | str | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Read and validate the training table; a missing or invalid file raises a one-line error."""
    path = Path(manifest) if manifest is not None else layout.table_path(TRAINING)
    if not path.exists():
        raise UserError(f"{path}: training manifest not found; build it with 'python -m labeling build' "
                        "(or pass --manifest)")
    rows = read_table(path, TRAINING)
    if not rows:
        raise UserError(f"{path}: the training manifest has no rows")
    return path, rows


def _positives(row: Mapping[str, Any], task: str, threshold: float) -> list[str]:
    if task == "single":
        return [row["top_genre"]] if row.get("top_genre") else []
    genres = row.get("genres") or {}
    return sorted((g for g, w in genres.items() if w >= threshold), key=lambda g: (-genres[g], g))


def _split_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {counts.get(name, 0)}" for name in SPLITS)


def prepare_dataset(rows: Sequence[Mapping[str, Any]], config: TrainConfig, source: str = "manifest") -> Dataset:
    """Label list and split targets; ``UserError`` naming the genre or split that has too few tracks."""
    task = config.task
    skipped: Counter[str] = Counter()
    usable: list[tuple[Mapping[str, Any], list[str]]] = []
    for row in rows:
        pos = _positives(row, task, config.label_threshold)
        if not pos:
            skipped["ambiguous top genre" if task == "single" else
                    f"no genre weighted >= {config.label_threshold:g}"] += 1
            continue
        usable.append((row, pos))
    if not usable:
        raise UserError(f"{source}: no track has a usable label for the {task}-label task "
                        f"({', '.join(f'{v} {k}' for k, v in skipped.items())})")

    per_genre: dict[str, Counter[str]] = {}
    for row, pos in usable:
        for genre in pos:
            per_genre.setdefault(genre, Counter())[row["split"]] += 1
    rare = {g: c for g, c in per_genre.items() if sum(c.values()) < config.min_tracks}
    dropped: dict[str, int] = {}
    if rare and not config.drop_rare:
        shown = sorted(rare, key=lambda g: (sum(rare[g].values()), g))[:3]
        detail = "; ".join(f"{g!r} has {sum(rare[g].values())} ({_split_text(rare[g])})" for g in shown)
        more = f" and {len(rare) - len(shown)} more" if len(rare) > len(shown) else ""
        raise UserError(f"{source}: too few tracks per genre (at least {config.min_tracks} needed): "
                        f"{detail}{more}; add tracks, lower --min-tracks, or pass --drop-rare")
    if rare:
        dropped = {g: sum(c.values()) for g, c in rare.items()}
        log.warning("dropping %d rare genre(s) with fewer than %d tracks: %s", len(rare), config.min_tracks,
                    ", ".join(f"{g} ({n})" for g, n in sorted(dropped.items())))
        kept = []
        for row, pos in usable:
            pos = [g for g in pos if g not in rare]
            if pos:
                kept.append((row, pos))
            else:
                skipped["rare genre dropped"] += 1
        usable = kept

    labels = sorted({g for _, pos in usable for g in pos})
    if len(labels) < 2:
        raise UserError(f"{source}: only {len(labels)} genre ({', '.join(labels) or 'none'}) has enough "
                        "tracks; a classifier needs at least 2")
    index = {g: i for i, g in enumerate(labels)}
    splits: dict[str, SplitData] = {}
    for name in SPLITS:
        members = [(row, pos) for row, pos in usable if row["split"] == name]
        targets = np.zeros((len(members), len(labels)), dtype=np.float32)
        primary = np.zeros(len(members), dtype=np.int64)
        for i, (_, pos) in enumerate(members):
            for genre in pos:
                targets[i, index[genre]] = 1.0
            primary[i] = index[pos[0]]
        splits[name] = SplitData(name, [row["track_id"] for row, _ in members], targets, primary)

    dataset = Dataset(labels=labels, task=task, splits=splits, skipped=dict(skipped), dropped_genres=dropped)
    totals = {name: len(split) for name, split in splits.items()}
    if totals["train"] == 0 or totals["validation"] == 0:
        empty = "train" if totals["train"] == 0 else "validation"
        raise UserError(f"{source}: the {empty} split has no usable tracks ({_split_text(totals)}); "
                        "rebuild the splits so every split gets tracks ('python -m labeling split')")
    counts = dataset.counts()
    for label in labels:
        if counts[label]["train"] == 0:
            raise UserError(f"{source}: genre {label!r} has no tracks in the train split "
                            f"({_split_text(counts[label])}); add tracks or pass --drop-rare with a "
                            "higher --min-tracks")
    no_val = [g for g in labels if counts[g]["validation"] == 0]
    if no_val:
        log.warning("genre(s) with no validation track (early stopping cannot see them): %s", ", ".join(no_val))
    if skipped:
        log.info("left out: %s", ", ".join(f"{n} ({reason})" for reason, n in skipped.items()))
    return dataset


# ---------------------------------------------------------------- reading crops

def read_crop(cache: AudioCache, track_id: str, start: int, read_len: int, crop_samples: int,
              out: np.ndarray | None = None) -> np.ndarray:
    """``read_len`` samples from ``start`` (zero-padded past the end), resampled to ``crop_samples``.

    Written into ``out`` (a row of the batch) when given, to save a copy.  A stretched crop is
    interpolated straight from the int16 cache, with the sample after it as the last neighbour.
    """
    offset, length, _ = cache.entries[track_id]
    if out is None:
        out = np.empty(crop_samples, dtype=np.float32)
    if read_len != crop_samples:
        wanted = read_len + 1  # the crop and the sample that follows it
        stop = min(start + wanted, length)
        segment = cache.samples[offset + start: offset + stop]
        if stop - start < wanted:  # runs past the track's end: pad with silence
            padded = np.zeros(wanted, dtype=cache.samples.dtype)
            padded[: max(stop - start, 0)] = segment
            segment = padded
        return resample_to(segment, crop_samples, n_in=read_len, scale=1.0 / 32768.0, out=out)
    stop = min(start + read_len, length)
    n = max(stop - start, 0)
    out[:n] = cache.samples[offset + start: offset + stop]
    out[:n] *= 1.0 / 32768.0
    out[n:] = 0.0
    return out


class TrainCrops(keras.utils.PyDataset):
    """Random training crops from the cache, ``crops_per_track`` per track and epoch, augmented.

    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: reruns and resumed runs see the
    same crops.  Keras calls :meth:`on_epoch_end`, which moves to the next epoch's plan.
    """

    def __init__(self, cache: AudioCache, split: SplitData, config: TrainConfig, *,
                 class_weights: np.ndarray | None = None, epoch: int = 0, augment: bool | None = None) -> None:
        super().__init__(workers=config.workers, use_multiprocessing=False, max_queue_size=8)
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

    def __getitem__(self, index: int):
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

    def on_epoch_end(self) -> None:
        self.epoch += 1


class FixedCrops(keras.utils.PyDataset):
    """Evenly spaced crops per track (validation): the same crops every epoch, no augmentation."""

    def __init__(self, cache: AudioCache, split: SplitData, config: TrainConfig, *,
                 crops_per_track: int | None = None) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
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

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(index)
        sel = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ids = self.split.track_ids
        tracks = self.crop_track[sel]
        x = np.empty((len(tracks), self.crop_samples), dtype=np.float32)
        for row, (t, s) in enumerate(zip(tracks, self.crop_start[sel], strict=True)):
            read_crop(self.cache, ids[t], int(s), self.crop_samples, self.crop_samples, out=x[row])
        return x, self.split.targets[tracks]
