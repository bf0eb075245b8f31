"""The PNGs of an evaluation: confusion matrix, training curves, per-genre F1.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg backend chosen
inside each function, so importing this module never touches a display and a
headless server or CI job draws the same files as a laptop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: history.csv columns that are bookkeeping, not curves
_NOT_CURVES = {"epoch", "step", "time", "time_s", "seconds", "wall_s", "elapsed_s", "steps_per_s"}
_LR_NAMES = {"lr", "learning_rate"}
#: panels that describe the run rather than the model go last
_BOOKKEEPING = _LR_NAMES | {"crops_per_s"}
_TITLES = {"lr": "learning rate", "learning_rate": "learning rate", "crops_per_s": "throughput (crops/s)"}


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    """Write to a temporary name first, so a crash never leaves half a PNG under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return path


def confusion_matrix_png(counts: Sequence[Sequence[int]], labels: Sequence[str], path: Path,
                         title: str = "Confusion matrix (rows: true genre, normalised)") -> Path:
    """Row-normalised confusion matrix: each cell is the share of a true genre predicted as a column."""
    matrix = np.asarray(counts, dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    n = len(labels)
    side = max(4.5, 0.55 * n + 2.5)
    fig = _figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), labels=labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels=[f"{g} ({int(t)})" for g, t in zip(labels, totals[:, 0], strict=True)])
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre (tracks)")
    ax.set_title(title)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true genre")
    return _save(fig, path)


def per_genre_confusion_png(confusion: dict[str, Sequence[Sequence[int]]], path: Path,
                            title: str = "Per-genre confusion (multi-label, rows normalised)") -> Path:
    """One small 2x2 matrix per genre: absent/present truth against absent/present prediction."""
    genres = list(confusion)
    cols = min(4, max(1, len(genres)))
    rows = math.ceil(len(genres) / cols)
    fig = _figure(2.6 * cols + 0.5, 2.7 * rows + 0.7)
    fig.suptitle(title)
    for k, genre in enumerate(genres):
        ax = fig.add_subplot(rows, cols, k + 1)
        counts = np.asarray(confusion[genre], dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, f"{share[i, j]:.2f}\n({int(counts[i, j])})", ha="center", va="center",
                        fontsize=7, color="white" if share[i, j] > 0.5 else "black")
        ax.set_xticks([0, 1], labels=["no", "yes"])
        ax.set_yticks([0, 1], labels=["no", "yes"])
        ax.set_title(genre, fontsize=9)
        if k % cols == 0:
            ax.set_ylabel("true")
        ax.set_xlabel("predicted", fontsize=8)
    return _save(fig, path)


def history_columns(rows: Sequence[Mapping[str, float | int | str]]) -> dict[str, list[float]]:
    """history.csv rows as columns of floats (cells that are not numbers become NaN)."""
    if not rows:
        return {}
    columns: dict[str, list[float]] = {name: [] for name in rows[0]}
    for row in rows:
        for name in columns:
            value = row.get(name)
            columns[name].append(float(value) if isinstance(value, (int, float)) else float("nan"))
    return columns


def curve_groups(columns: Sequence[str]) -> dict[str, list[str]]:
    """Group history columns into panels: ``loss`` with ``val_loss``, ``accuracy`` with ``val_accuracy``..."""
    groups: dict[str, list[str]] = {}
    for name in columns:
        if name in _NOT_CURVES:
            continue
        base = name[4:] if name.startswith("val_") else name
        groups.setdefault(base, []).append(name)
    ordered = sorted(groups, key=lambda g: (g != "loss", g in _BOOKKEEPING, g))
    return {g: sorted(groups[g], key=lambda c: c.startswith("val_")) for g in ordered}


def curves_png(history_rows: Sequence[Mapping[str, float | int | str]], path: Path,
               source: str = "history.csv") -> Path | None:
    """Loss and metric curves per epoch (train vs validation); None when there is no history.

    ``history_rows`` are a run's history.csv rows (:meth:`training.runs.rundir.RunDir.read_history`).
    """
    history = history_columns(history_rows)
    if not history:
        log.warning("%s has no rows: no training curves drawn", source)
        return None
    n = len(next(iter(history.values())))
    epochs = history.get("epoch") or list(range(n))
    epochs = [e + 1 for e in epochs] if epochs and min(epochs) == 0 else epochs
    groups = {g: cols for g, cols in curve_groups(list(history)).items()
              if any(np.isfinite(history[c]).any() for c in cols)}
    if not groups:
        log.warning("%s has no metric columns: no training curves drawn", source)
        return None
    cols = 2 if len(groups) in (2, 4) else min(3, len(groups))
    rows = math.ceil(len(groups) / cols)
    fig = _figure(4.2 * cols, 3.2 * rows)
    fig.suptitle("Training curves")
    best_epoch = None
    if "val_loss" in history and np.isfinite(history["val_loss"]).any():
        best_epoch = epochs[int(np.nanargmin(history["val_loss"]))]
    from matplotlib.ticker import MaxNLocator

    for k, (group, names) in enumerate(groups.items()):
        ax = fig.add_subplot(rows, cols, k + 1)
        for name in names:
            label = "validation" if name.startswith("val_") else "train" if group not in _BOOKKEEPING else None
            ax.plot(epochs, history[name], marker="o", markersize=3, label=label)
        if group in _LR_NAMES:
            ax.set_yscale("log")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", linewidth=1, label="best val_loss")
        ax.set_title(_TITLES.get(group, group))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def per_genre_f1_png(labels: Sequence[str], series: dict[str, dict[str, dict[str, Any]]], path: Path,
                     title: str = "F1 per genre (song level, test split)") -> Path:
    """Grouped bars: F1 of each genre for each system (e.g. CNN and MFCC baseline)."""
    n = len(labels)
    fig = _figure(max(5.0, 0.7 * n * max(1, len(series)) / 1.5 + 2.0), 3.8)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    x = np.arange(n)
    for k, (name, per_genre) in enumerate(series.items()):
        values = [per_genre.get(g, {}).get("f1") for g in labels]
        heights = [v if v is not None else 0.0 for v in values]
        offsets = x + (k - (len(series) - 1) / 2) * width
        ax.bar(offsets, heights, width, label=name)
        for pos, value in zip(offsets, values, strict=True):
            if value is None:  # genre absent from the split: say so instead of drawing a zero
                ax.text(pos, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(x, labels=labels, rotation=45, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("F1")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncols=max(1, len(series)), frameon=False)
    return _save(fig, path)
