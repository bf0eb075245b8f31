"""Evaluate a trained run on the artist-disjoint test split, next to the MFCC baseline.

What a run folder gains (``data/runs/<run>/``):

* ``metrics.json``: song-level and crop-level metrics of the CNN, the baseline's metrics
  and the comparison table (stable key order, floats rounded to 4 decimals);
* ``predictions.csv``: one row per evaluated track (truth, prediction, probabilities);
* ``predictions-baseline.csv``: the same for the baseline;
* ``confusion.png``, ``curves.png``, ``f1-per-genre.png`` and ``report.md`` (see :mod:`training.report`).

Song-level predictions average the model's probabilities over evenly spaced crops that
cover the whole track (``Bundle.song_crops``), which is how the seed project reached its
headline accuracy; every crop is also scored on its own (crop-level metrics), so the gain
from averaging is visible.

Before anything is scored the evaluated split is checked against train and validation:
an artist (normalised with :func:`manifests.ids.normalize_text`) or an audio file
(SHA-256) found on both sides stops the evaluation with a one-line error, because a
number measured on leaked artists says nothing about new music.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manifests import Layout, atomic_write_text, read_table
from manifests.clock import utc_now_text
from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.ids import normalize_text
from manifests.schema import TRAINING

from . import metrics as M

log = logging.getLogger(__name__)

#: The splits whose tracks the model learned from or was selected on.
SEEN_SPLITS = ("train", "validation")

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
BASELINE_PREDICTIONS_FILE = "predictions-baseline.csv"


# ---------------------------------------------------------------- the manifest side


def check_split_disjoint(rows: Sequence[dict[str, Any]], split: str,
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
                  run_dir: Path | None = None) -> tuple[list[dict[str, Any]], Path]:
    """The training manifest's rows, after checking that ``split`` is artist-disjoint.

    ``manifest`` defaults to ``<data>/manifests/training.csv``; a run trained on another
    table (run.json says which) gets a warning, since its test split may differ.
    """
    path = Path(manifest) if manifest is not None else layout.table_path("training")
    if not path.is_file():
        raise UserError(f"{path}: training manifest not found; build it with 'python -m labeling build' "
                        "(or pass --manifest)")
    trained_on = _run_summary(run_dir).get("manifest") if run_dir is not None else None
    if trained_on and Path(trained_on).resolve() != path.resolve():
        log.warning("%s was trained on %s but is evaluated on %s (pass --manifest to choose)",
                    run_dir, trained_on, path)
    rows = read_table(path, TRAINING)
    if not any(r["split"] == split for r in rows):
        raise UserError(f"{path}: no tracks in the {split} split, nothing to evaluate")
    check_split_disjoint(rows, split, source=str(path))
    return rows, path


def _run_summary(run_dir: Path) -> dict[str, Any]:
    """The trainer's run.json (empty when absent or unreadable: it is informative only)."""
    try:
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


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

    rows: list[dict[str, Any]]
    values: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)

    def describe_skipped(self) -> str:
        return ", ".join(f"{n} {why}" for why, n in self.skipped.items() if n)


def build_truth(rows: Sequence[dict[str, Any]], labels: Sequence[str], task: str,
                min_weight: float = 0.5) -> Truth:
    """Truth per row: a label index (single) or a 0/1 vector (multi); rows that cannot be scored are counted.

    Single-label uses ``top_genre`` (empty when the labels were ambiguous); multi-label uses
    the genres whose weight reaches ``min_weight``, the same rule the trainer applies.
    """
    index = {g: i for i, g in enumerate(labels)}
    kept: list[dict[str, Any]] = []
    values: list[Any] = []
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


def load_wave(layout: Layout, row: dict[str, Any], sample_rate: int) -> np.ndarray:
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
                mono = data.astype(np.float32).mean(axis=1) if data.shape[1] > 1 else data[:, 0].astype(np.float32)
                return mono / 32768.0
        except RuntimeError as exc:  # soundfile's error for a broken file; ffmpeg gets the final say
            log.debug("soundfile could not read %s (%s); decoding with ffmpeg", path, exc)
    from manifests.audio import FFmpegError, decode_audio

    try:
        return decode_audio(path, sample_rate)
    except FFmpegError as exc:
        raise UserError(f"track {row['track_id']}: {exc}") from None


# ---------------------------------------------------------------- the model side


def bundle_sample_rate(bundle: Any) -> int:
    """The sample rate the bundle's model expects."""
    return int(bundle.sample_rate)


def bundle_min_weight(bundle: Any) -> float:
    """The label-weight threshold that made a genre a multi-label target during training."""
    return float(bundle.config.label_threshold)


@dataclass(frozen=True)
class RunSpec:
    """What scoring needs to know about a run besides its weights: labels, task, thresholds, rate."""

    labels: tuple[str, ...]
    task: str
    threshold: float
    sample_rate: int
    min_weight: float

    @classmethod
    def of(cls, bundle: Any) -> RunSpec:
        return cls(tuple(bundle.labels), bundle.task, float(bundle.threshold), bundle_sample_rate(bundle),
                   bundle_min_weight(bundle))

    @classmethod
    def read(cls, run_dir: Path) -> RunSpec:
        """From config.json and labels.json alone: no Keras import, no model loading."""
        from ..config import ConfigError, TrainConfig
        from ..runs.bundle import CONFIG_FILE, LABELS_FILE, read_labels

        try:
            config = TrainConfig.load(run_dir / CONFIG_FILE)
        except ConfigError as exc:
            raise UserError(str(exc)) from None
        return cls(tuple(read_labels(run_dir / LABELS_FILE)), config.task, float(config.threshold),
                   int(config.features.sample_rate), float(config.label_threshold))


@dataclass
class Scored:
    """Song-level and crop-level probabilities for the scored rows."""

    song_probs: np.ndarray
    crop_probs: np.ndarray
    crop_owner: np.ndarray
    n_crops: list[int]


def score_tracks(bundle: Any, layout: Layout, rows: Sequence[dict[str, Any]],
                 n_crops: int | None = None, desc: str = "evaluating") -> Scored:
    """Run the model over evenly spaced crops of each whole track; the song score is their mean.

    Crops of several tracks go to the model together (at least two full batches), so
    short tracks do not each pay for a padded batch.
    """
    from tqdm import tqdm

    rate = bundle_sample_rate(bundle)
    group = 2 * int(getattr(bundle, "batch_size", 32) or 32)
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


def _label_text(task: str, labels: Sequence[str], value: Any) -> str:
    if task == "single":
        return labels[int(value)]
    return "; ".join(labels[j] for j in np.flatnonzero(value))


def _predicted(task: str, probs: np.ndarray, threshold: float) -> np.ndarray:
    if task == "single":
        return probs.argmax(axis=1)
    return (probs >= threshold).astype(np.int8)


def predictions_csv(task: str, labels: Sequence[str], rows: Sequence[dict[str, Any]], truth: np.ndarray,
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


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(M.rounded(data), indent=2, ensure_ascii=False) + "\n")


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no metrics yet; run `python -m training evaluate {run_dir}` first") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); rerun evaluate") from None


# ---------------------------------------------------------------- the whole evaluation


def resolve_run(run: str | Path, layout: Layout) -> Path:
    """A run given as a folder path or as a name under ``<data>/runs``."""
    path = Path(run)
    for candidate in (path, layout.runs / str(run)):
        if (candidate / "model.keras").is_file() or (candidate / "config.json").is_file():
            return candidate
    raise UserError(f"{run}: not a run folder (no model.keras or config.json there or under {layout.runs})")


def run_baseline(spec: RunSpec, layout: Layout, rows: Sequence[dict[str, Any]], split: str,
                 seed: int = 0) -> tuple[dict[str, Any], str]:
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

    def items(truth: Truth) -> list[tuple[str | None, Any]]:
        out = []
        for row in truth.rows:
            sha = row.get("sha256")
            if not sha:
                path = layout.resolve(row["audio_path"])
                sha = sha256_file(path) if path.is_file() else None
            out.append((sha, lambda row=row: load_wave(layout, row, rate)))
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


def evaluate_run(run_dir: Path, layout: Layout, *, split: str = "test", baseline: bool = True,
                 n_crops: int | None = None, manifest: Path | str | None = None,
                 bundle: Any = None) -> dict[str, Any]:
    """Evaluate a run folder, write its metrics, predictions, plots and report; return the metrics."""
    rows, manifest = load_manifest(layout, split, manifest, run_dir)
    if bundle is None:
        from ..runs.bundle import load_bundle

        bundle = load_bundle(run_dir)
    labels, task = list(bundle.labels), bundle.task
    threshold = float(bundle.threshold)
    truth = build_truth([r for r in rows if r["split"] == split], labels, task, bundle_min_weight(bundle))
    if truth.skipped and any(truth.skipped.values()):
        log.warning("%s split: not scored: %s", split, truth.describe_skipped())
    if not truth.rows:
        raise UserError(f"{manifest}: no {split} track has a genre the model knows "
                        f"({truth.describe_skipped()}); nothing to evaluate")
    started = time.perf_counter()
    scored = score_tracks(bundle, layout, truth.rows, n_crops, desc=f"evaluating ({split})")
    seconds = time.perf_counter() - started
    crop_truth = truth.values[scored.crop_owner]
    result: dict[str, Any] = {
        "run": run_dir.name,
        "task": task,
        "split": split,
        "labels": labels,
        "threshold": threshold if task == "multi" else None,
        "evaluated_at": utc_now_text(),
        "manifest": str(manifest),
        "model": getattr(bundle.config, "model", None),
        "artist_disjoint": True,
        "n_tracks": len(truth.rows),
        "n_crops": int(scored.crop_probs.shape[0]),
        "crop_seconds": round(int(bundle.crop_samples) / bundle_sample_rate(bundle), 3),
        "not_scored": {k: v for k, v in truth.skipped.items() if v},
        "eval_seconds": seconds,
        "song": M.compute(task, truth.values, scored.song_probs, labels, threshold),
        "crop": M.compute(task, crop_truth, scored.crop_probs, labels, threshold),
    }
    predictions = predictions_csv(task, labels, truth.rows, truth.values, scored.song_probs, threshold,
                                  scored.n_crops)
    baseline_predictions = None
    if baseline:
        section, baseline_predictions = run_baseline(RunSpec.of(bundle), layout, rows, split)
        result["baseline"] = section
        result["comparison"] = M.comparison(task, result["song"], section["song"])
    # Everything is computed: only now are files replaced, so a failure above leaves the old set intact.
    atomic_write_text(run_dir / PREDICTIONS_FILE, predictions)
    if baseline_predictions is not None:
        atomic_write_text(run_dir / BASELINE_PREDICTIONS_FILE, baseline_predictions)
    else:  # an older baseline's predictions would no longer match metrics.json
        (run_dir / BASELINE_PREDICTIONS_FILE).unlink(missing_ok=True)
    write_json(run_dir / METRICS_FILE, result)
    from .report import write_report

    write_report(run_dir)
    return M.rounded(result)


def update_baseline(run_dir: Path, layout: Layout, *, split: str | None = None,
                    manifest: Path | str | None = None) -> dict[str, Any]:
    """Refit and rescore only the baseline (no model loaded), merging it into an existing ``metrics.json``."""
    existing = read_metrics(run_dir) if (run_dir / METRICS_FILE).is_file() else None
    split = split or (existing or {}).get("split") or "test"
    rows, _ = load_manifest(layout, split, manifest, run_dir)
    spec = RunSpec.read(run_dir)
    section, text = run_baseline(spec, layout, rows, split)
    atomic_write_text(run_dir / BASELINE_PREDICTIONS_FILE, text)
    if existing is not None and existing.get("split") == split:
        existing["baseline"] = section
        existing["comparison"] = M.comparison(spec.task, existing["song"], section["song"])
        write_json(run_dir / METRICS_FILE, existing)
        from .report import write_report

        write_report(run_dir)
    else:
        write_json(run_dir / "baseline.json", {"split": split, "labels": list(spec.labels), **section})
    return M.rounded(section)
