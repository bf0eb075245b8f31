"""Tracks whose audio disagrees with their labels: out-of-fold probe predictions judged by ``cleanlab``.

``python -m training audit-audio`` (issue #11 item 8).  Every track of the training
manifest, whatever its split, gets genre probabilities from the linear probe of
``train --model probe`` (standardised pretrained embeddings, class-balanced L2 logistic
regression, C chosen by inner cross-validation) fitted on the *other* folds only, the
folds grouped by artist (:func:`labeling.splits.build_groups`: tracks that share an
artist or a recording are held out together), so no prediction has seen the track, its
artist or a copy of it.  ``cleanlab.filter.find_label_issues`` (confident learning;
``multi_label=True`` for the multi-label task) then picks the tracks whose given labels
those predictions doubt, ranked by cleanlab's label-quality score.

The result is ``<data>/reports/audit/audio_disagreement.csv`` (written atomically, the
columns of :data:`labeling.audit.audio_disagreement.HEADER`), which ``labeling audit``
lists in its report and ``flagged.csv``.  The embeddings come from the shared cache
(``training embed``), so a rerun computes only new tracks' embeddings; the fits take
seconds per fold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labeling.audit.audio_disagreement import HEADER, csv_path
from labeling.splits import build_groups
from manifests.errors import UserError
from manifests.io import Row
from manifests.layout import Layout

from ..config import ProbeConfig
from ..data.embeddings import EmbeddingSettings
from .embed import embed_tracks
from .probe import fit_probe

log = logging.getLogger(__name__)


@dataclass
class AudioAuditSettings:
    """How the comparison is made (the command's options)."""

    task: str = "single"
    #: multi-label: a genre weight at least this is a given label
    label_threshold: float = 0.5
    #: outer folds (fewer when there are fewer artist groups)
    folds: int = 5
    #: a genre with fewer tracks is left out (its tracks too, when it is their only label)
    min_tracks: int = 5
    seed: int = 1234
    probe: ProbeConfig = field(default_factory=ProbeConfig)


@dataclass
class AudioAudit:
    """What the comparison found: the flagged rows (best first), where they went, and counts."""

    path: Path
    rows: list[dict[str, Any]]
    labels: list[str]
    n_tracks: int
    folds: int
    skipped: int
    seconds: float

    @property
    def n_flagged(self) -> int:
        return len(self.rows)


def _given(row: Row, task: str, threshold: float) -> list[str]:
    if task == "single":
        return [row["top_genre"]] if row.get("top_genre") else []
    genres = row.get("genres") or {}
    return sorted((g for g, w in genres.items() if w >= threshold), key=lambda g: (-genres[g], g))


def label_space(rows: Sequence[Row], settings: AudioAuditSettings) -> tuple[list[str], list[Row], list[list[int]]]:
    """Genres with enough tracks, the rows that keep a label, and each row's given label indices."""
    given = [_given(row, settings.task, settings.label_threshold) for row in rows]
    counts: dict[str, int] = {}
    for genres in given:
        for genre in genres:
            counts[genre] = counts.get(genre, 0) + 1
    labels = sorted(g for g, n in counts.items() if n >= settings.min_tracks)
    rare = sorted(g for g, n in counts.items() if n < settings.min_tracks)
    if rare:
        log.warning("left out: %d genre(s) with fewer than %d tracks (%s)", len(rare), settings.min_tracks,
                    ", ".join(rare[:5]) + (" ..." if len(rare) > 5 else ""))
    if len(labels) < 2:
        raise UserError(f"audit-audio needs at least 2 genres with {settings.min_tracks} or more tracks; the "
                        f"manifest has {len(labels)} ({', '.join(labels) or 'none'}); lower --min-tracks")
    index = {g: i for i, g in enumerate(labels)}
    kept_rows, kept_labels = [], []
    for row, genres in zip(rows, given, strict=True):
        known = [index[g] for g in genres if g in index]
        if known:
            kept_rows.append(row)
            kept_labels.append(known)
    return labels, kept_rows, kept_labels


def artist_folds(rows: Sequence[Row], primary: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Held-out index sets: every artist group in exactly one, genres spread evenly (StratifiedGroupKFold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    group_of: dict[str, int] = {}
    for number, group in enumerate(build_groups(rows)):
        for track_id in group.track_ids:
            group_of[track_id] = number
    groups = np.array([group_of[row["track_id"]] for row in rows])
    n_groups = len(np.unique(groups))
    k = min(folds, n_groups)
    if k < 2:
        raise UserError(f"audit-audio needs tracks by at least 2 different artists; these {len(rows)} tracks "
                        "are one artist group")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [held for _, held in splitter.split(np.zeros(len(rows)), primary, groups)]


def out_of_fold(features: np.ndarray, labels: list[list[int]], n_labels: int, held_out: list[np.ndarray],
                settings: AudioAuditSettings, progress: bool = True) -> np.ndarray:
    """``[n, n_labels]`` probabilities, each row from the probe fitted without its fold."""
    from tqdm import tqdm

    task = settings.task
    if task == "single":
        truth: np.ndarray = np.array([genres[0] for genres in labels], dtype=np.int64)
    else:
        truth = np.zeros((len(labels), n_labels), dtype=np.int64)
        for i, genres in enumerate(labels):
            truth[i, genres] = 1
    probs = np.zeros((len(labels), n_labels))
    for held in tqdm(held_out, desc="out-of-fold probes", unit="fold", disable=not progress or None, leave=False):
        train = np.setdiff1d(np.arange(len(labels)), held)
        probe, _ = fit_probe(features[train], truth[train], task, n_labels, settings.probe, seed=settings.seed)
        probs[held] = probe.predict_proba(features[held])
    return probs


def find_issues(labels: list[list[int]], probs: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's flagged row indices (most suspicious first) and every row's label-quality score."""
    if task == "single":
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        given = np.array([genres[0] for genres in labels], dtype=np.int64)
        rows = np.clip(probs, 1e-12, None)
        rows = rows / rows.sum(axis=1, keepdims=True)
        flagged = find_label_issues(given, rows, return_indices_ranked_by="self_confidence")
        quality = get_label_quality_scores(given, rows)
    else:
        from cleanlab.multilabel_classification import get_label_quality_scores as multilabel_quality
        from cleanlab.multilabel_classification.filter import find_label_issues as find_multilabel_issues

        # (filter.find_label_issues(multi_label=True) under its current, non-deprecated name)
        flagged = find_multilabel_issues(labels, probs, return_indices_ranked_by="self_confidence")
        quality = multilabel_quality(labels, probs)
    return np.asarray(flagged, dtype=np.int64), np.asarray(quality, dtype=np.float64)


def audit_audio(layout: Layout, settings: AudioAuditSettings, *, manifest: Path | str | None = None,
                out: Path | None = None, progress: bool = True) -> AudioAudit:
    """Compare every track's audio with its labels; write the flagged tracks (nothing written on an error)."""
    from labeling.audit.export import write_spreadsheet_csv

    from ..data.manifest import read_manifest

    started = time.perf_counter()
    _, all_rows = read_manifest(layout, manifest)
    labels, rows, given = label_space(all_rows, settings)
    primary = np.array([genres[0] for genres in given], dtype=np.int64)
    held_out = artist_folds(rows, primary, settings.folds, settings.seed)
    embedding = EmbeddingSettings.of(settings.probe)
    features = embed_tracks(layout, rows, embedding, progress=progress).vectors.astype(np.float64)
    log.info("%d tracks, %d genres, %d artist-grouped folds; embeddings: %s", len(rows), len(labels),
             len(held_out), embedding.describe())
    probs = out_of_fold(features, given, len(labels), held_out, settings, progress)
    flagged, quality = find_issues(given, probs, settings.task)
    found: list[dict[str, Any]] = []
    for rank, i in enumerate(flagged, start=1):
        row, mine = rows[i], given[i]
        others = np.array(probs[i], copy=True)
        others[mine] = -np.inf  # the suspected genre is one the track is not labelled with
        suspect = int(np.argmax(others))
        found.append({"rank": rank, "track_id": row["track_id"], "artist": "; ".join(row.get("artists") or []),
                      "title": row.get("title") or "", "labels": "; ".join(labels[j] for j in mine),
                      "suspected_genre": labels[suspect], "suspected_score": round(float(probs[i, suspect]), 4),
                      "given_score": round(float(min(probs[i, j] for j in mine)), 4),
                      "label_quality": round(float(quality[i]), 4), "split": row.get("split") or ""})
    path = out or csv_path(layout.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_spreadsheet_csv(path, HEADER, [[r[c] for c in HEADER] for r in found])
    seconds = time.perf_counter() - started
    log.info("%d of %d tracks flagged in %.1f s: %s", len(found), len(rows), seconds, path)
    return AudioAudit(path, found, labels, len(rows), len(held_out), len(all_rows) - len(rows), seconds)
