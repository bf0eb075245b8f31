"""From the training manifest to a label space: label list, per-split targets, and their checks.

The training table (``manifests/training.csv``, written by ``python -m labeling
build``) lists each usable track with its audio, genres and split.  Here it
becomes a label list and per-split target matrices, with one-line errors when a
genre or a split has too few tracks.  :mod:`training.data.sequences` turns them
into batches.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from manifests.errors import UserError
from manifests.io import Row, read_table
from manifests.layout import Layout
from manifests.schema import SPLITS, TRAINING

from ..config import TrainConfig

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

def read_manifest(layout: Layout, manifest: Path | str | None = None) -> tuple[Path, list[Row]]:
    """Read and validate the training table; a missing, empty or invalid file raises a one-line error.

    A missing table is the manifest reader's own message (``... not found: run make manifest first``).
    """
    path = Path(manifest) if manifest is not None else layout.table_path(TRAINING)
    rows = read_table(path, TRAINING)
    if not rows:
        raise UserError(f"{path}: the training manifest has no rows")
    return path, rows


def _positives(row: Row, task: str, threshold: float) -> list[str]:
    if task == "single":
        return [row["top_genre"]] if row.get("top_genre") else []
    genres = row.get("genres") or {}
    return sorted((g for g, w in genres.items() if w >= threshold), key=lambda g: (-genres[g], g))


def _split_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {counts.get(name, 0)}" for name in SPLITS)


def prepare_dataset(rows: Sequence[Row], config: TrainConfig, source: str = "manifest") -> Dataset:
    """Label list and split targets; ``UserError`` naming the genre or split that has too few tracks."""
    task = config.task
    skipped: Counter[str] = Counter()
    usable: list[tuple[Row, list[str]]] = []
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
