"""The linear probe: ``python -m training train --model probe``.

What a pretrained model knows about genre, measured the standard way: freeze it, take
one embedding per track (:mod:`training.runs.embed`; musicnn-MSD's ``penultimate``
layer averaged over half-overlapping 3-s patches by default), standardise the
features, and fit an L2-regularised logistic regression with class-balanced weights.
Its one knob, the regularisation strength C, is chosen by stratified k-fold
cross-validation on the **train split only** (balanced accuracy), then the probe is
refitted on the whole train split.  Validation is only reported; test is left to
``evaluate``.  Single-label is one multinomial regression; multi-label one binary
regression per genre (each with its own C), a genre predicted at the run's
``threshold`` like the CNN's.

Multi-label thresholds are per genre: after the fit, each genre's threshold is the one
that maximises its F1 on the **validation** split (the run's ``threshold`` where validation
has no positive or no negative of it, or no threshold beats it), stored in ``probe.npz``
(``thresholds``) and ``probe.json``.  The probe reports scores rescaled per genre so
that its own threshold lands on the run's ``threshold`` (piecewise linear, monotone: the
order of tracks within a genre and so AUC and average precision are unchanged), so
``evaluate`` and ``predict`` apply the chosen thresholds through the one ``threshold``
they already use.

Being one vector per track, the probe is song-level by construction: there is no crop
level.  Fitting takes seconds once the embeddings are cached, so a run is not resumed
epoch by epoch: the embeddings are (the cache), and a rerun of a finished run does nothing.

A probe run folder is a run folder like the CNN's (``config.json`` with ``model:
probe`` and a ``probe`` section naming the pretrained model and layer, ``labels.json``,
``run.json``, and after ``evaluate`` the metrics, predictions and report), with the
fitted probe in place of ``model.keras``:

* ``probe.npz``: plain arrays, no pickle (``mean``, ``scale`` of the standardisation,
  ``coef``, ``intercept``, ``classes``, ``constant``, ``C``), loadable with
  ``numpy.load(..., allow_pickle=False)`` anywhere;
* ``probe.json``: how it was fitted (C grid, folds, cross-validated scores, the embedding
  settings, train size, seconds).

``probe.npz`` is written last: its presence means the run is finished.
"""

from __future__ import annotations

import io
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifests.clock import utc_now_text
from manifests.errors import UserError
from manifests.io import atomic_write_bytes, atomic_write_text
from manifests.layout import Layout

from ..config import PROBE, ConfigError, ProbeConfig, TrainConfig
from ..data.embeddings import EmbeddingSettings
from .embed import Embedder, embed_tracks
from .rundir import JSONObject, RunDir

log = logging.getLogger(__name__)

PROBE_INFO = "probe.json"
FORMAT = 1
#: The cross-validation score that chooses C (what the class-balanced regression optimises).
CV_SCORING = "balanced_accuracy"


def probe_file(run: RunDir) -> Path:
    """The fitted probe of a run folder (RunDir owns the name)."""
    return run.probe_file


def probe_info_file(run: RunDir) -> Path:
    return run.path / PROBE_INFO


def is_probe_run(run: RunDir) -> bool:
    """Whether ``config.json`` says ``model: probe`` (read as JSON: no config validation, no Keras)."""
    try:
        data = json.loads(run.config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("model") == PROBE


# ---------------------------------------------------------------- the fitted probe

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


@dataclass
class LinearProbe:
    """Standardisation + logistic regression as plain arrays: probabilities without scikit-learn.

    Single-label: ``coef [K, D]`` over the ``classes`` (label indices) the train split had,
    softmax (scikit-learn's multinomial) or, with two classes, one row and a sigmoid.
    Multi-label: one row per label, a sigmoid each; ``constant[j]`` (not NaN) is the fixed
    probability of a genre always or never present in train.
    """

    task: str
    n_labels: int
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    constant: np.ndarray
    c: np.ndarray
    #: multi-label: each genre's decision threshold (chosen on validation) and the run's threshold it is mapped to
    thresholds: np.ndarray | None = None
    threshold: float = 0.5

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``[n, n_labels]`` probabilities for embeddings ``[n, dim]``."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected embeddings [n, {self.dim}], got {x.shape}")
        z = (x - self.mean) / self.scale
        logits = z @ self.coef.T.astype(np.float64) + self.intercept
        out = np.zeros((x.shape[0], self.n_labels), dtype=np.float64)
        if self.task == "single":
            if self.coef.shape[0] == 1:  # two classes: scikit-learn's binary regression
                p = _sigmoid(logits[:, 0])
                out[:, self.classes] = np.stack([1.0 - p, p], axis=1)
            else:
                out[:, self.classes] = _softmax(logits)
            return out
        fixed = ~np.isnan(self.constant)
        out[:] = _sigmoid(logits)
        out[:, fixed] = self.constant[fixed]
        return out if self.thresholds is None else rescale(out, self.thresholds, self.threshold)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        save: Callable[..., None] = np.savez  # its stubs read a key 'allow_pickle' into **arrays
        save(buffer, format=np.int64(FORMAT), task=np.str_(self.task), n_labels=np.int64(self.n_labels),
             mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept,
             classes=self.classes, constant=self.constant, C=self.c, **self._threshold_arrays())
        return buffer.getvalue()

    def _threshold_arrays(self) -> dict[str, np.ndarray]:
        if self.thresholds is None:
            return {}
        return {"thresholds": np.asarray(self.thresholds, dtype=np.float64),
                "threshold": np.asarray(self.threshold, dtype=np.float64)}

    @classmethod
    def load(cls, path: Path) -> LinearProbe:
        """The probe in ``path``; a missing or damaged file is a one-line error."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT:
                    raise ValueError(f"format {int(data['format'])}, this toolkit reads {FORMAT}")
                probe = cls(task=str(data["task"]), n_labels=int(data["n_labels"]),
                            mean=data["mean"].astype(np.float64), scale=data["scale"].astype(np.float64),
                            coef=data["coef"].astype(np.float64), intercept=data["intercept"].astype(np.float64),
                            classes=data["classes"].astype(np.int64), constant=data["constant"].astype(np.float64),
                            c=data["C"].astype(np.float64))
                if "thresholds" in data.files:  # multi-label runs fitted with per-genre thresholds
                    probe.thresholds = data["thresholds"].astype(np.float64)
                    probe.threshold = float(data["threshold"])
        except FileNotFoundError:
            raise UserError(f"{path}: no fitted probe in this run folder (training unfinished? rerun the same "
                            "train command)") from None
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise UserError(f"{path}: cannot load the probe ({exc}); retrain with --fresh") from None
        if probe.task not in ("single", "multi") or probe.scale.shape != probe.mean.shape \
                or probe.coef.ndim != 2 or probe.coef.shape[1] != probe.dim:
            raise UserError(f"{path}: inconsistent probe arrays; retrain with --fresh")
        return probe


def rescale(probs: np.ndarray, thresholds: np.ndarray, target: float) -> np.ndarray:
    """Per genre, map ``[0, t_j]`` onto ``[0, target]`` and ``[t_j, 1]`` onto ``[target, 1]`` (monotone)."""
    t = np.clip(np.asarray(thresholds, dtype=np.float64), 1e-6, 1 - 1e-6)
    low = probs * (target / t)
    high = target + (probs - t) * ((1.0 - target) / (1.0 - t))
    return np.asarray(np.clip(np.where(probs < t, low, high), 0.0, 1.0))


def choose_thresholds(probs: np.ndarray, truth: np.ndarray, default: float) -> np.ndarray:
    """Per genre, the threshold with the best F1 on these (validation) rows; ``default`` when it cannot be told.

    Candidates are the midpoints between consecutive distinct scores (and ``default``); ties
    go to the candidate nearest ``default``, so a threshold moves only when it helps.
    """
    chosen = np.full(probs.shape[1], float(default))
    for j in range(probs.shape[1]):
        positive = np.asarray(truth[:, j] > 0)
        if positive.all() or not positive.any():
            continue
        scores = np.unique(probs[:, j])
        candidates = np.unique(np.concatenate([[default], (scores[1:] + scores[:-1]) / 2]))
        best_key: tuple[float, float] | None = None
        for t in candidates:
            predicted = probs[:, j] >= t
            tp = float(np.sum(predicted & positive))
            f1 = 2 * tp / (float(predicted.sum()) + float(positive.sum()))
            key = (f1, -abs(t - default))
            if best_key is None or key > best_key:
                best_key, chosen[j] = key, float(t)
    return chosen


# ---------------------------------------------------------------- fitting

def _search(features: np.ndarray, y: np.ndarray, settings: ProbeConfig, seed: int) -> tuple[Any, JSONObject]:
    """Pipeline(StandardScaler, LogisticRegression) with C chosen by stratified k-fold CV on these rows."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    grid = sorted(float(c) for c in settings.c_grid)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=5000,
                                                                  random_state=seed))
    folds = min(settings.cv_folds, int(np.bincount(y)[np.unique(y)].min()))
    # One BLAS thread: on busy cores OpenBLAS's threads spin against each other and the small
    # solves of a logistic regression get ~30x slower (make bench-train measures both).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("always", ConvergenceWarning)
        if folds < 2 or len(grid) == 1:
            c = grid[len(grid) // 2]
            pipeline.set_params(logisticregression__C=c).fit(features, y)
            info: JSONObject = {"C": c, "cv_folds": None, "cv_score": None,
                                "note": "C not cross-validated: a class has fewer than 2 train tracks"
                                if folds < 2 else "a single C was given"}
        else:
            search = GridSearchCV(pipeline, {"logisticregression__C": grid}, scoring=CV_SCORING, n_jobs=1,
                                  cv=StratifiedKFold(folds, shuffle=True, random_state=seed), refit=True)
            search.fit(features, y)
            pipeline = search.best_estimator_
            scores = search.cv_results_["mean_test_score"]
            info = {"C": float(search.best_params_["logisticregression__C"]), "cv_folds": folds,
                    "cv_score": float(search.best_score_),
                    "cv_scores": {f"{c:g}": float(s) for c, s in zip(grid, scores, strict=True)}}
    converged = sum(1 for w in caught if issubclass(w.category, ConvergenceWarning))
    if converged:
        log.debug("%d logistic regression fit(s) stopped at max_iter", converged)
    return pipeline, info


def fit_probe(features: np.ndarray, truth: np.ndarray, task: str, n_labels: int, settings: ProbeConfig,
              seed: int = 0) -> tuple[LinearProbe, JSONObject]:
    """Fit on the train split's embeddings; ``truth`` is label indices (single) or a 0/1 matrix (multi)."""
    features = np.asarray(features, dtype=np.float64)
    if task == "single":
        y = np.asarray(truth, dtype=np.int64)
        classes = np.unique(y)
        if classes.size < 2:
            raise UserError("the probe needs at least two genres in the train split")
        pipeline, info = _search(features, y, settings, seed)
        scaler, regression = pipeline[0], pipeline[-1]
        probe = LinearProbe(task, n_labels, scaler.mean_.copy(), scaler.scale_.copy(),
                            regression.coef_.copy(), regression.intercept_.copy(),
                            regression.classes_.astype(np.int64), np.zeros(0), np.array([info["C"]]))
        return probe, info
    from sklearn.preprocessing import StandardScaler

    matrix = np.asarray(truth, dtype=np.int64)
    scaler = StandardScaler().fit(features)  # every genre's pipeline standardises the same train rows alike
    coef = np.zeros((n_labels, features.shape[1]))
    intercept = np.zeros(n_labels)
    constant = np.full(n_labels, np.nan)
    chosen = np.full(n_labels, np.nan)
    per_genre: dict[str, JSONObject] = {}
    for j in range(n_labels):
        column = matrix[:, j]
        if column.min() == column.max():  # always or never present in train: its train rate
            constant[j] = float(column[0])
            per_genre[str(j)] = {"C": None, "constant": float(column[0])}
            continue
        pipeline, info = _search(features, column, settings, seed)
        regression = pipeline[-1]
        coef[j], intercept[j], chosen[j] = regression.coef_[0], regression.intercept_[0], info["C"]
        per_genre[str(j)] = info
    probe = LinearProbe(task, n_labels, scaler.mean_.copy(), scaler.scale_.copy(), coef, intercept,
                        np.arange(n_labels, dtype=np.int64), constant, chosen)
    return probe, {"per_genre": per_genre}


# ---------------------------------------------------------------- the run

@dataclass
class ProbeResult:
    """What :func:`train_probe` left behind."""

    run_dir: Path
    status: str
    val_song_accuracy: float | None = None


def _saved_config(run: RunDir) -> TrainConfig:
    try:
        return TrainConfig.load(run.config_file)
    except ConfigError as exc:
        raise UserError(f"{exc}; pass --fresh to start this run over") from None


def _validation_accuracy(task: str, probs: np.ndarray, targets: np.ndarray, primary: np.ndarray,
                         threshold: float) -> float | None:
    if probs.shape[0] == 0:
        return None
    if task == "single":
        return float(np.mean(probs.argmax(axis=1) == primary))
    return float(np.mean(np.all((probs >= threshold) == (targets > 0), axis=1)))


def train_probe(layout: Layout, config: TrainConfig, *, run_name: str | None = None,
                manifest: Path | str | None = None, resume: bool = False, fresh: bool = False,
                progress: bool = True) -> ProbeResult:
    """Embed the manifest's tracks (cached), fit the probe on train, save the run folder."""
    try:
        config.validate()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    run = RunDir.named(layout, run_name or f"{PROBE}-{config.task}")
    with run.lock("training train"):
        if fresh and run.path.exists():
            log.info("removing the previous run in %s (--fresh)", run)
            run.clear()
        if run.config_file.is_file():
            if not is_probe_run(run):
                raise UserError(f"{run} holds a CNN run, not a probe; use another --run NAME or --fresh")
            if resume:
                config = _saved_config(run)
            else:
                diffs = _saved_config(run).differences(config)
                if diffs:
                    raise UserError(f"{run} holds a run with other settings ({'; '.join(diffs[:4])}); use "
                                    "another --run NAME, --resume to continue it as it was, or --fresh to start "
                                    "over")
            if probe_file(run).is_file():
                log.info("%s already finished; nothing to do", run)
                return ProbeResult(run.path, "finished", run.read_summary().get("val_song_accuracy"))
        elif resume:
            raise UserError(f"{run}: nothing to resume; start it without --resume")
        elif not run.is_empty:
            raise UserError(f"{run}: folder exists but holds no run; choose another --run or pass --fresh")
        return _fit_run(layout, run, config, manifest, progress)


def _fit_run(layout: Layout, run: RunDir, config: TrainConfig, manifest: Path | str | None,
             progress: bool) -> ProbeResult:
    from ..data.manifest import prepare_dataset, read_manifest

    started = time.perf_counter()
    manifest_path, rows = read_manifest(layout, manifest)
    dataset = prepare_dataset(rows, config, source=str(manifest_path))
    for name, split in dataset.splits.items():
        log.info("%s: %d tracks", name, len(split))
    settings = EmbeddingSettings.of(config.probe)
    embedder = Embedder(settings)  # an unknown model or layer stops here, before any folder is written
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(config)
    run.write_labels(dataset.labels)

    by_id = {row["track_id"]: row for row in rows}
    used = [by_id[t] for split in dataset.splits.values() for t in split.track_ids]
    embeddings = embed_tracks(layout, used, settings, progress=progress, embedder=embedder)
    train = dataset.train
    truth = train.primary if config.task == "single" else train.targets.astype(np.int64)
    fit_started = time.perf_counter()
    probe, info = fit_probe(embeddings.of(train.track_ids), truth, config.task, len(dataset.labels),
                            config.probe, seed=config.seed)
    fit_seconds = time.perf_counter() - fit_started
    if "per_genre" in info:  # by genre name, for people
        info = {"per_genre": {dataset.labels[int(j)]: v for j, v in info["per_genre"].items()}}
    val = dataset.validation
    if config.task == "multi" and len(val):  # each genre's threshold from validation, applied from now on
        raw = probe.predict_proba(embeddings.of(val.track_ids))
        probe.thresholds, probe.threshold = choose_thresholds(raw, val.targets, config.threshold), config.threshold
        info["thresholds"] = {label: round(float(t), 4) for label, t in zip(dataset.labels, probe.thresholds,
                                                                            strict=True)}
    val_acc = _validation_accuracy(config.task, probe.predict_proba(embeddings.of(val.track_ids)), val.targets,
                                   val.primary, config.threshold)
    details: JSONObject = {
        "classifier": "standardised embeddings, L2 logistic regression, balanced class weights"
                      + (", one per genre" if config.task == "multi" else ""),
        "cv_scoring": CV_SCORING, "c_grid": [float(c) for c in config.probe.c_grid], **info,
        "embedding": {**settings.as_json(), "size": embedder.size, "description": settings.describe()},
        "n_train": len(train), "fit_seconds": round(fit_seconds, 2),
    }
    atomic_write_text(probe_info_file(run), json.dumps(details, indent=2) + "\n")
    summary: JSONObject = {
        "status": "finished", "model": PROBE, "pretrained": settings.model, "layer": settings.layer,
        "labels": dataset.labels, "tracks": {name: len(split) for name, split in dataset.splits.items()},
        "skipped": dataset.skipped, "dropped_genres": dataset.dropped_genres, "val_song_accuracy": val_acc,
        "C": info.get("C"), "cv_score": info.get("cv_score"), "embedding": embeddings.stats.as_json(),
        "fit_seconds": round(fit_seconds, 2), "manifest": str(manifest_path),
        "seconds_this_session": round(time.perf_counter() - started, 1), "finished_at": utc_now_text(),
    }
    run.write_summary(summary)
    atomic_write_bytes(probe_file(run), probe.to_bytes())  # last: the run is finished once it is there
    c_text = f"C {info['C']:g}" if "C" in info else "C per genre"
    log.info("run %s: probe fitted on %d train tracks (%s) in %.1f s; validation song accuracy %s",
             run.name, len(train), c_text, fit_seconds, "n/a" if val_acc is None else f"{val_acc:.3f}")
    return ProbeResult(run.path, "finished", val_acc)


# ---------------------------------------------------------------- a fitted run, for evaluate and predict

@dataclass
class ProbeBundle:
    """A probe run loaded for prediction: labels, settings, the probe and the embedder that feeds it."""

    run_dir: Path
    labels: list[str]
    config: TrainConfig
    probe: LinearProbe
    embedder: Embedder

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def threshold(self) -> float:
        return self.config.threshold

    @property
    def sample_rate(self) -> int:
        return self.embedder.sample_rate

    @property
    def settings(self) -> EmbeddingSettings:
        return self.embedder.settings

    def predict_embeddings(self, features: np.ndarray) -> np.ndarray:
        return self.probe.predict_proba(features)

    def predict_wave(self, wave: np.ndarray) -> tuple[np.ndarray, int]:
        """Song-level probabilities ``[n_labels]`` of a waveform at :attr:`sample_rate`, and the patches embedded."""
        vector, n_patches, _ = self.embedder.embed_wave(wave)
        return np.asarray(self.probe.predict_proba(vector[None, :])[0]), n_patches


def load_probe(run: RunDir) -> ProbeBundle:
    """A probe run folder loaded; one-line ``UserError`` when something is missing or inconsistent."""
    if not run.path.is_dir():
        raise UserError(f"{run}: no such run folder (train one with 'python -m training train --model probe')")
    config = run.read_config()
    labels = run.read_labels()
    probe = LinearProbe.load(probe_file(run))
    embedder = Embedder(EmbeddingSettings.of(config.probe))
    if probe.n_labels != len(labels) or probe.task != config.task:
        raise UserError(f"{run}: the probe has {probe.n_labels} {probe.task}-label outputs but "
                        f"{run.labels_file.name} lists {len(labels)} labels for a {config.task}-label run")
    if probe.dim != embedder.size:
        raise UserError(f"{run}: the probe reads {probe.dim} values but {embedder.settings.describe()} gives "
                        f"{embedder.size}")
    return ProbeBundle(run.path, labels, config, probe, embedder)
