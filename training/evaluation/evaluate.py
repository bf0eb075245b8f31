"""Evaluate a trained run on the artist-disjoint test split, next to the MFCC baseline.

What a run folder gains (``data/runs/<run>/``):

* ``metrics.json``: song-level and crop-level metrics of the CNN, the baseline's metrics
  and the comparison table (stable key order, floats rounded to 4 decimals);
* ``predictions.csv``: one row per evaluated track (truth, prediction, probabilities);
* ``predictions-baseline.csv``: the same for the baseline;
* ``confusion.png``, ``curves.png``, ``f1-per-genre.png`` and ``report.md`` (see :mod:`training.evaluation.report`).

Song-level predictions average the model's probabilities over evenly spaced crops that
cover the whole track (``Bundle.song_crops``), which is how the seed project reached its
headline accuracy; every crop is also scored on its own (crop-level metrics), so the gain
from averaging is visible.

A linear probe run (``--model probe``) is scored the same way on the same tracks, from one
pretrained embedding per track (computed through the embedding cache when missing):
song-level only, as there are no crops.  After a run's report, the reports of the other
runs evaluated on the same test tracks are redrawn too, so each one's comparison table
(CNN, probe, MFCC baseline) names the others (:mod:`training.evaluation.compare`).

Before anything is scored the evaluated split is checked against train and validation:
an artist (normalised with :func:`manifests.ids.normalize_text`) or an audio file
(SHA-256) found on both sides stops the evaluation with a one-line error, because a
number measured on leaked artists says nothing about new music.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from manifests import Layout, Row, atomic_write_text
from manifests.clock import utc_now_text
from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.ids import normalize_text

from ..data.manifest import read_manifest
from ..runs.probe import is_probe_run
from ..runs.rundir import JSONObject, RunDir
from . import metrics as M
from .compare import comparable_runs
from .report import write_report

if TYPE_CHECKING:
    from ..runs.bundle import Bundle

log = logging.getLogger(__name__)

#: The splits whose tracks the model learned from or was selected on.
SEEN_SPLITS = ("train", "validation")


# ---------------------------------------------------------------- the manifest side


def check_split_disjoint(rows: Sequence[Row], split: str,
                         against: Iterable[str] = SEEN_SPLITS, source: str = "the training manifest") -> None:
    """Refuse a split that shares an artist or an audio file with the splits the model saw.

    Raises ``UserError`` naming the first overlapping artist (alphabetically, so the
    message is stable) and one track on each side.
    """
    against = [s for s in against if s != split]
    seen_artists: dict[str, tuple[str, str, str]] = {}  # normalised -> (spelling, track, split)
    seen_audio: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row["split"] not in against:
            continue
        for artist in row.get("artists") or []:
            seen_artists.setdefault(normalize_text(artist), (artist, row["track_id"], row["split"]))
        if row.get("sha256"):
            seen_audio.setdefault(row["sha256"], (row["track_id"], row["split"]))
    clashes: list[tuple[str, str, str, str, str]] = []
    for row in rows:
        if row["split"] != split:
            continue
        for artist in row.get("artists") or []:
            key = normalize_text(artist)
            if key and key in seen_artists:
                _, other_id, other_split = seen_artists[key]
                clashes.append((key, artist, row["track_id"], other_id, other_split))
        if row.get("sha256") and row["sha256"] in seen_audio:
            other_id, other_split = seen_audio[row["sha256"]]
            raise UserError(f"{source}: the {split} split is not leak-free: track {row['track_id']} has the "
                            f"same audio as {other_split} track {other_id}; rebuild the splits "
                            "(python -m labeling split) before evaluating")
    if clashes:
        key, name, track, other_id, other_split = min(clashes)
        artists = len({c[0] for c in clashes})
        raise UserError(f"{source}: the {split} split is not artist-disjoint: artist {name!r} is in "
                        f"{split} (track {track}) and {other_split} (track {other_id})"
                        f"{f' along with {artists - 1} more artist(s)' if artists > 1 else ''}; "
                        "rebuild the splits (python -m labeling split) before evaluating")


def load_manifest(layout: Layout, split: str, manifest: Path | str | None = None,
                  run: RunDir | None = None) -> tuple[list[Row], Path]:
    """The training manifest's rows, after checking that ``split`` is artist-disjoint.

    ``manifest`` defaults to ``<data>/manifests/training.csv``; a run trained on another
    table (run.json says which) gets a warning, since its test split may differ.
    """
    path, rows = read_manifest(layout, manifest)
    trained_on = run.read_summary().get("manifest") if run is not None else None
    if trained_on and Path(trained_on).resolve() != path.resolve():
        log.warning("%s was trained on %s but is evaluated on %s (pass --manifest to choose)",
                    run, trained_on, path)
    if not any(r["split"] == split for r in rows):
        raise UserError(f"{path}: no tracks in the {split} split, nothing to evaluate")
    check_split_disjoint(rows, split, source=str(path))
    return rows, path


def multi_targets(genres: dict[str, float], labels: Sequence[str], min_weight: float) -> np.ndarray:
    """0/1 vector: the genres whose label weight reaches ``min_weight`` (unknown genres ignored)."""
    index = {g: i for i, g in enumerate(labels)}
    out = np.zeros(len(labels), dtype=np.int8)
    for genre, weight in (genres or {}).items():
        if genre in index and weight >= min_weight:
            out[index[genre]] = 1
    return out


@dataclass
class Truth:
    """The rows that can be scored against a label list, and why the others cannot."""

    rows: list[Row]
    values: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)

    def describe_skipped(self) -> str:
        return ", ".join(f"{n} {why}" for why, n in self.skipped.items() if n)


def build_truth(rows: Sequence[Row], labels: Sequence[str], task: str,
                min_weight: float = 0.5) -> Truth:
    """Truth per row: a label index (single) or a 0/1 vector (multi); rows that cannot be scored are counted.

    Single-label uses ``top_genre`` (empty when the labels were ambiguous); multi-label uses
    the genres whose weight reaches ``min_weight``, the same rule the trainer applies.
    """
    index = {g: i for i, g in enumerate(labels)}
    kept: list[Row] = []
    values: list[int | np.ndarray] = []
    skipped = {"without a single top genre": 0, "with genres the model does not know": 0}
    for row in rows:
        if task == "single":
            top = row.get("top_genre")
            if not top:
                skipped["without a single top genre"] += 1
                continue
            if top not in index:
                skipped["with genres the model does not know"] += 1
                continue
            values.append(index[top])
        else:
            vector = multi_targets(row.get("genres") or {}, labels, min_weight)
            if not vector.any():
                skipped["with genres the model does not know"] += 1
                continue
            values.append(vector)
        kept.append(row)
    if task == "single":
        array = np.asarray(values, dtype=int)
    else:
        array = np.asarray(values, dtype=np.int8).reshape(len(values), len(labels))
    return Truth(kept, array, skipped)


def load_wave(layout: Layout, row: Row, sample_rate: int) -> np.ndarray:
    """Decoded mono float32 audio of a manifest row at ``sample_rate``.

    16-bit WAVs already at the right rate are read with soundfile (the same samples
    ffmpeg would give, ``int16 / 32768``, without a process per file); anything else goes
    through the shared ffmpeg decoder.
    """
    path = layout.resolve(row["audio_path"])
    if not path.is_file():
        raise UserError(f"{path}: audio file of track {row['track_id']} is missing; rerun the download "
                        "or rebuild the training manifest")
    if path.suffix.lower() == ".wav":
        import soundfile as sf

        try:
            info = sf.info(str(path))
            if info.samplerate == sample_rate and info.subtype == "PCM_16":
                data, _ = sf.read(str(path), dtype="int16", always_2d=True)
                mono: np.ndarray = (data.astype(np.float32).mean(axis=1) if data.shape[1] > 1
                                    else data[:, 0].astype(np.float32))
                return mono / 32768.0
        except RuntimeError as exc:  # soundfile's error for a broken file; ffmpeg gets the final say
            log.debug("soundfile could not read %s (%s); decoding with ffmpeg", path, exc)
    from manifests.audio import FFmpegError, decode_audio

    try:
        return decode_audio(path, sample_rate)
    except FFmpegError as exc:
        raise UserError(f"track {row['track_id']}: {exc}") from None


# ---------------------------------------------------------------- the model side


@dataclass(frozen=True)
class RunSpec:
    """What scoring needs to know about a run besides its weights: labels, task, thresholds, rate."""

    labels: tuple[str, ...]
    task: str
    threshold: float
    sample_rate: int
    min_weight: float

    @classmethod
    def of(cls, bundle: Bundle) -> RunSpec:
        return cls(tuple(bundle.labels), bundle.task, float(bundle.threshold), bundle.sample_rate,
                   float(bundle.config.label_threshold))

    @classmethod
    def read(cls, run: RunDir) -> RunSpec:
        """From config.json and labels.json alone: no Keras import, no model loading."""
        config = run.read_config()
        return cls(tuple(run.read_labels()), config.task, float(config.threshold),
                   int(config.features.sample_rate), float(config.label_threshold))


@dataclass
class Scored:
    """Song-level and crop-level probabilities for the scored rows."""

    song_probs: np.ndarray
    crop_probs: np.ndarray
    crop_owner: np.ndarray
    n_crops: list[int]


def score_tracks(bundle: Bundle, layout: Layout, rows: Sequence[Row],
                 n_crops: int | None = None, desc: str = "evaluating") -> Scored:
    """Run the model over evenly spaced crops of each whole track; the song score is their mean.

    Crops of several tracks go to the model together (at least two full batches), so
    short tracks do not each pay for a padded batch.
    """
    from tqdm import tqdm

    rate = bundle.sample_rate
    group = 2 * bundle.batch_size
    crop_probs: list[np.ndarray] = []
    counts: list[int] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            crop_probs.append(np.asarray(bundle.predict_crops(np.concatenate(pending)), dtype=np.float64))
            pending.clear()

    for row in tqdm(rows, desc=desc, unit="track", disable=None):
        wave = load_wave(layout, row, rate)
        crops = bundle.song_crops(wave, n_crops) if n_crops else bundle.song_crops(wave)
        pending.append(np.asarray(crops, dtype=np.float32))
        counts.append(int(pending[-1].shape[0]))
        if sum(c.shape[0] for c in pending) >= group:
            flush()
    flush()
    probs = np.vstack(crop_probs)
    owners = np.repeat(np.arange(len(counts)), counts)
    bounds = np.cumsum([0, *counts])
    songs = np.vstack([probs[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    return Scored(songs, probs, owners, counts)


# ---------------------------------------------------------------- outputs


def _label_text(task: str, labels: Sequence[str], value: int | np.ndarray) -> str:
    if task == "single":
        return labels[int(value)]
    return "; ".join(labels[int(j)] for j in np.flatnonzero(value))


def _predicted(task: str, probs: np.ndarray, threshold: float) -> np.ndarray:
    if task == "single":
        return np.asarray(probs.argmax(axis=1))
    return (probs >= threshold).astype(np.int8)


def predictions_csv(task: str, labels: Sequence[str], rows: Sequence[Row], truth: np.ndarray,
                    probs: np.ndarray, threshold: float, n_crops: Sequence[int] | None = None) -> str:
    """One line per track: id, title, artists, truth, prediction, whether it is right, probabilities."""
    predicted = _predicted(task, probs, threshold)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["track_id", "title", "artists", "true", "predicted", "correct", "confidence"]
    if n_crops is not None:
        header.append("n_crops")
    writer.writerow(header + [f"prob_{g}" for g in labels])
    for i, row in enumerate(rows):
        if task == "single":
            correct = bool(predicted[i] == truth[i])
        else:
            correct = bool(np.array_equal(predicted[i], truth[i]))
        line = [row["track_id"], row.get("title") or "", "; ".join(row.get("artists") or []),
                _label_text(task, labels, truth[i]), _label_text(task, labels, predicted[i]),
                "true" if correct else "false", f"{probs[i].max():.4f}"]
        if n_crops is not None:
            line.append(str(n_crops[i]))
        writer.writerow(line + [f"{p:.4f}" for p in probs[i]])
    return out.getvalue()


# ---------------------------------------------------------------- the whole evaluation


def run_baseline(spec: RunSpec, layout: Layout, rows: Sequence[Row], split: str,
                 seed: int = 0) -> tuple[JSONObject, str]:
    """Fit the MFCC baseline on the train split and score it on ``split``; (section, predictions CSV)."""
    from .baseline import BaselineModel, FeatureCache, MfccConfig, features_for

    labels, task, threshold, rate = list(spec.labels), spec.task, spec.threshold, spec.sample_rate
    config = MfccConfig(sample_rate=rate)
    cache = FeatureCache(layout.cache, config)
    min_weight = spec.min_weight
    train = build_truth([r for r in rows if r["split"] == "train"], labels, task, min_weight)
    test = build_truth([r for r in rows if r["split"] == split], labels, task, min_weight)
    if not train.rows:
        raise UserError("the train split has no track with a genre the model knows; cannot fit the baseline")

    def items(truth: Truth) -> list[tuple[str | None, Callable[[], np.ndarray]]]:
        out: list[tuple[str | None, Callable[[], np.ndarray]]] = []
        for row in truth.rows:
            sha = row.get("sha256")
            if not sha:
                path = layout.resolve(row["audio_path"])
                sha = sha256_file(path) if path.is_file() else None
            out.append((sha, functools.partial(load_wave, layout, row, rate)))
        return out

    started = time.perf_counter()
    x_train = features_for(items(train), cache, desc="baseline features (train)")
    x_test = features_for(items(test), cache, desc=f"baseline features ({split})")
    try:
        model = BaselineModel(task, len(labels), seed=seed).fit(x_train, train.values)
    except ValueError as exc:
        raise UserError(f"baseline: {exc}") from None
    probs = model.predict_proba(x_test)
    scores = M.compute(task, test.values, probs, labels, threshold)
    section = {
        "name": "MFCC statistics + logistic regression",
        "features": config.describe(),
        "classifier": "standardised features, logistic regression (balanced class weights"
                      + (", one per genre" if task == "multi" else "") + ")",
        "n_train": len(train.rows),
        "feature_cache": {"hits": cache.hits, "computed": cache.misses},
        "seconds": time.perf_counter() - started,
        "song": scores,
    }
    return section, predictions_csv(task, labels, test.rows, test.values, probs, threshold)


def evaluate_run(run: RunDir, layout: Layout, *, split: str = "test", baseline: bool = True,
                 n_crops: int | None = None, manifest: Path | str | None = None,
                 bundle: Bundle | None = None) -> JSONObject:
    """Evaluate a run folder, write its metrics, predictions, plots and report; return the metrics."""
    rows, manifest = load_manifest(layout, split, manifest, run)
    if bundle is None and is_probe_run(run):
        if n_crops is not None:
            raise UserError(f"{run}: --crops applies to CNN runs; a probe reads one embedding per track")
        return _evaluate_probe(run, layout, rows, manifest, split=split, baseline=baseline)
    if bundle is None:
        from ..runs.bundle import load_bundle

        bundle = load_bundle(run)
    labels, task = list(bundle.labels), bundle.task
    threshold = float(bundle.threshold)
    truth = _scored_truth(rows, split, labels, task, float(bundle.config.label_threshold), manifest)
    started = time.perf_counter()
    scored = score_tracks(bundle, layout, truth.rows, n_crops, desc=f"evaluating ({split})")
    seconds = time.perf_counter() - started
    crop_truth = truth.values[scored.crop_owner]
    result = _metrics(run, split, labels, task, threshold, manifest, bundle.config.model, truth, seconds,
                      scored.song_probs, n_crops=int(scored.crop_probs.shape[0]),
                      crop_seconds=round(bundle.crop_samples / bundle.sample_rate, 3),
                      crop=M.compute(task, crop_truth, scored.crop_probs, labels, threshold))
    predictions = predictions_csv(task, labels, truth.rows, truth.values, scored.song_probs, threshold,
                                  scored.n_crops)
    return _write_evaluation(run, layout, rows, split, RunSpec.of(bundle), result, predictions, baseline)


def _scored_truth(rows: Sequence[Row], split: str, labels: Sequence[str], task: str, min_weight: float,
                  manifest: Path) -> Truth:
    truth = build_truth([r for r in rows if r["split"] == split], labels, task, min_weight)
    if truth.skipped and any(truth.skipped.values()):
        log.warning("%s split: not scored: %s", split, truth.describe_skipped())
    if not truth.rows:
        raise UserError(f"{manifest}: no {split} track has a genre the model knows "
                        f"({truth.describe_skipped()}); nothing to evaluate")
    return truth


def _evaluate_probe(run: RunDir, layout: Layout, rows: Sequence[Row], manifest: Path, *, split: str,
                    baseline: bool) -> JSONObject:
    """A probe run: the embedding of each scored track (cached), the probe's probabilities, song level only."""
    from ..runs.embed import embed_tracks
    from ..runs.probe import load_probe

    probe = load_probe(run)
    labels, task, threshold = list(probe.labels), probe.task, float(probe.threshold)
    truth = _scored_truth(rows, split, labels, task, float(probe.config.label_threshold), manifest)
    started = time.perf_counter()
    embedded = embed_tracks(layout, truth.rows, probe.settings, embedder=probe.embedder)
    probs = probe.predict_embeddings(embedded.vectors)
    seconds = time.perf_counter() - started
    settings = probe.settings
    result = _metrics(run, split, labels, task, threshold, manifest, probe.config.model, truth, seconds, probs,
                      pretrained={**settings.as_json(), "size": probe.embedder.size,
                                  "description": settings.describe()})
    predictions = predictions_csv(task, labels, truth.rows, truth.values, probs, threshold)
    return _write_evaluation(run, layout, rows, split, RunSpec.read(run), result, predictions, baseline)


def _metrics(run: RunDir, split: str, labels: list[str], task: str, threshold: float, manifest: Path, model: str,
             truth: Truth, seconds: float, song_probs: np.ndarray, *, pretrained: JSONObject | None = None,
             n_crops: int | None = None, crop_seconds: float | None = None,
             crop: JSONObject | None = None) -> JSONObject:
    """metrics.json of an evaluation, CNN or probe alike (a probe has no crops, a CNN no pretrained part)."""
    result: JSONObject = {
        "run": run.name,
        "task": task,
        "split": split,
        "labels": labels,
        "threshold": threshold if task == "multi" else None,
        "evaluated_at": utc_now_text(),
        "manifest": str(manifest),
        "model": model,
    }
    if pretrained is not None:
        result["pretrained"] = pretrained
    result.update({
        "artist_disjoint": True,
        "n_tracks": len(truth.rows),
        "n_crops": n_crops,
        "crop_seconds": crop_seconds,
        "not_scored": {k: v for k, v in truth.skipped.items() if v},
        "eval_seconds": seconds,
        "song": M.compute(task, truth.values, song_probs, labels, threshold),
        "crop": crop,
    })
    return result


def _write_evaluation(run: RunDir, layout: Layout, rows: Sequence[Row], split: str, spec: RunSpec,
                      result: JSONObject, predictions: str, baseline: bool) -> JSONObject:
    """The baseline, then every file of the evaluation, the report, and the reports of comparable runs."""
    baseline_predictions = None
    if baseline:
        section, baseline_predictions = run_baseline(spec, layout, rows, split)
        result["baseline"] = section
        result["comparison"] = M.comparison(spec.task, result["song"], section["song"])
    # Everything is computed: only now are files replaced, so a failure above leaves the old set intact.
    atomic_write_text(run.predictions_file, predictions)
    if baseline_predictions is not None:
        atomic_write_text(run.baseline_predictions_file, baseline_predictions)
    else:  # an older baseline's predictions would no longer match metrics.json
        run.baseline_predictions_file.unlink(missing_ok=True)
    result = M.rounded_object(result)
    run.write_metrics(result)
    write_report(run)
    refresh_comparable_reports(run, result)
    return result


def refresh_comparable_reports(run: RunDir, metrics: JSONObject) -> list[RunDir]:
    """Redraw the reports of the other runs scored on the same tracks, so their tables name this run.

    Each is held while its report is written; one in use by another command is skipped
    (its next ``report`` or ``evaluate`` picks this run up).  Returns the runs redrawn.
    """
    redrawn = []
    for other, _ in comparable_runs(run, metrics):
        try:
            with other.lock("training evaluate"):
                write_report(other)
        except UserError as exc:
            log.info("report of %s not refreshed: %s", other, exc)
            continue
        redrawn.append(other)
    if redrawn:
        log.info("comparison tables refreshed in: %s", ", ".join(str(r.report_file) for r in redrawn))
    return redrawn


def update_baseline(run: RunDir, layout: Layout, *, split: str | None = None,
                    manifest: Path | str | None = None) -> JSONObject:
    """Refit and rescore only the baseline (no model loaded), merging it into an existing ``metrics.json``."""
    existing = run.read_metrics() if run.has_metrics else None
    split = split or (existing or {}).get("split") or "test"
    rows, _ = load_manifest(layout, split, manifest, run)
    spec = RunSpec.read(run)
    section, text = run_baseline(spec, layout, rows, split)
    atomic_write_text(run.baseline_predictions_file, text)
    if existing is not None and existing.get("split") == split:
        existing["baseline"] = section
        existing["comparison"] = M.comparison(spec.task, existing["song"], section["song"])
        run.write_metrics(M.rounded_object(existing))
        write_report(run)
    else:
        run.write_baseline(M.rounded_object({"split": split, "labels": list(spec.labels), **section}))
    return M.rounded_object(section)
