"""Train a genre classifier on the training manifest, resumably, into a run folder.

A run folder ``<data>/runs/<name>/`` holds::

    config.json            the full TrainConfig (features, augmentations, task, threshold, seed)
    labels.json            the label list, in the order of the model's outputs
    model.keras            the best model (by the monitored validation value), float32
    history.csv            one row per epoch: losses, metrics, learning rate, crops/s, seconds
    run.json               summary: status, best epoch, validation accuracy, device, backend, timings
    checkpoints/           last-<epoch>.keras (model + optimizer), best.weights.h5, state.json
    tensorboard/           TensorBoard logs (when TensorFlow is installed)

After every epoch the last checkpoint and ``state.json`` (epoch, early-stopping and
learning-rate counters) are written atomically, so a crash or Ctrl-C loses at most
the epoch in progress: rerunning the same command continues from the next epoch
with the optimizer state, history and counters as they were.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifests.clock import utc_now_text
from manifests.errors import UserError
from manifests.io import atomic_write_text
from manifests.layout import Layout

from ..config import ConfigError, TrainConfig
from .bundle import CONFIG_FILE, LABELS_FILE, MODEL_FILE

log = logging.getLogger(__name__)

RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
HISTORY_FILE = "history.csv"
RUN_FILE = "run.json"
STATE_FILE = "state.json"
BEST_WEIGHTS = "best.weights.h5"


@dataclass
class TrainResult:
    """What a call to :func:`train` left behind."""

    run_dir: Path
    epochs_done: int
    best_epoch: int | None
    best_value: float | None
    resumed_from: int | None
    status: str
    val_song_accuracy: float | None = None


def default_run_name(config: TrainConfig) -> str:
    return f"{config.model}-{config.task}"


# ---------------------------------------------------------------- device and precision

def accelerator() -> str | None:
    """Name of the GPU the current Keras backend will use, or None on CPU."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return gpus[0].name if gpus else None
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return None if device.platform == "cpu" else f"{device.platform}:{device.device_kind}"
        if backend == "torch":
            import torch

            return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else None
    except Exception as exc:  # a broken driver must not stop a CPU run
        log.warning("could not query the accelerator (%s); training on CPU", exc)
    return None


def use_mixed_precision(setting: str, device: str | None) -> bool:
    return setting == "on" or (setting == "auto" and device is not None)


def jit_setting(device: str | None) -> bool:
    """Compile the model's steps or not, per backend, as an explicit bool.

    TensorFlow: XLA only on a GPU (on CPU its compile time outweighs its gain).  JAX: always
    (uncompiled JAX is slow).  torch: eager; ``torch.compile`` recompiles for every new batch
    shape (the last batch of an evaluation) and gives up after eight.  Never ``"auto"``: set on
    a model after ``compile`` (a loaded bundle), Keras keeps the string and treats it as true.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return device is not None
    return backend == "jax"


# ---------------------------------------------------------------- run folder state

def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable ({exc}); remove the run folder or pass --overwrite") from None


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> Any:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def write_history(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, out.getvalue())


def _save_atomic(model: Any, path: Path, *, weights_only: bool = False) -> None:
    """Keras picks the format from the suffix, so the temporary name keeps it."""
    suffix = ".weights.h5" if weights_only else ".keras"
    tmp = path.with_name(f".partial-{os.getpid()}{suffix}")
    if weights_only:
        model.save_weights(tmp)
    else:
        model.save(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------- validation

def predict_crops(model: Any, seq: Any) -> np.ndarray:
    return np.concatenate([np.asarray(model.predict_on_batch(seq[i][0]), dtype=np.float64)
                           for i in range(len(seq))])


def validation_scores(probs: np.ndarray, val_seq: Any, split: Any, task: str, threshold: float) -> dict[str, float]:
    """Crop-level loss and accuracy (as Keras computes them) plus song-level accuracy (mean of crops)."""
    targets = split.targets[val_seq.crop_track]
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    n_tracks = len(split)
    song = np.zeros((n_tracks, probs.shape[1]))
    np.add.at(song, val_seq.crop_track, probs)
    song /= np.maximum(np.bincount(val_seq.crop_track, minlength=n_tracks), 1)[:, None]
    if task == "single":
        scores = {"val_loss": float(np.mean(-np.sum(targets * np.log(p), axis=1))),
                  "val_accuracy": float(np.mean(probs.argmax(1) == targets.argmax(1))),
                  "val_song_accuracy": float(np.mean(song.argmax(1) == split.targets.argmax(1)))}
    else:
        truth = targets > 0
        scores = {"val_loss": float(np.mean(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)))),
                  "val_accuracy": float(np.mean((probs >= threshold) == truth)),
                  # exact match: every genre of the song right
                  "val_song_accuracy": float(np.mean(np.all((song >= threshold) == (split.targets > 0), axis=1)))}
        both = [j for j in range(truth.shape[1]) if 0 < truth[:, j].sum() < truth.shape[0]]
        if both:
            from sklearn.metrics import roc_auc_score

            scores["val_auc"] = float(np.mean([roc_auc_score(truth[:, j], probs[:, j]) for j in both]))
    return scores


# ---------------------------------------------------------------- the epoch loop

def _prefetch(seq: Any, workers: int) -> Iterator[Any]:
    """Batches in order, the next ones prepared in background threads while the model trains."""
    n = len(seq)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="batches") as pool:
        ahead = deque(pool.submit(seq.__getitem__, i) for i in range(min(n, workers + 1)))
        submitted = len(ahead)
        while ahead:
            batch = ahead.popleft().result()
            if submitted < n:
                ahead.append(pool.submit(seq.__getitem__, submitted))
                submitted += 1
            yield batch


def _run_epochs(model: Any, config: TrainConfig, run_dir: Path, state: dict[str, Any],
                history: list[dict[str, Any]], train_seq: Any, val_seq: Any, dataset: Any,
                callbacks: Sequence[Any], progress: bool) -> None:
    """Train from ``state["epoch"]`` to ``config.epochs`` with ``train_on_batch`` (any backend, no tf.data).

    After each epoch: validation, best checkpoint, learning-rate schedule, early stopping,
    history.csv, the last checkpoint and state.json, then the Keras callbacks (TensorBoard).
    """
    import keras
    from tqdm import tqdm

    ckpt_dir = run_dir / "checkpoints"
    better = (lambda a, b: a < b) if config.monitor == "val_loss" else (lambda a, b: a > b)
    cb = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=config.epochs,
                                      steps=len(train_seq), verbose=0)
    optimizer = model.optimizer
    model.stop_training = False
    cb.on_train_begin()
    for epoch in range(int(state["epoch"]), config.epochs):
        train_seq.epoch = epoch
        if config.lr_schedule == "cosine":
            optimizer.learning_rate.assign(config.min_lr + 0.5 * (config.learning_rate - config.min_lr) * (
                1 + math.cos(math.pi * epoch / max(1, config.epochs))))
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        cb.on_epoch_begin(epoch)
        started = time.perf_counter()
        sums: dict[str, float] = {}
        seen = 0
        bar = tqdm(total=len(train_seq), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False,
                   disable=not progress or None)
        with bar:
            for step, batch in enumerate(_prefetch(train_seq, config.workers)):
                cb.on_train_batch_begin(step)
                x, y = batch[0], batch[1]
                weights = batch[2] if len(batch) > 2 else None
                logs = model.train_on_batch(x, y, sample_weight=weights, return_dict=True)
                for key, value in logs.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(x)
                seen += len(x)
                cb.on_train_batch_end(step, logs)
                bar.update(1)
                bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)
        train_s = time.perf_counter() - started
        logs = {key: value / max(seen, 1) for key, value in sums.items()}
        logs.update(validation_scores(predict_crops(model, val_seq), val_seq, dataset.validation, config.task,
                                      config.threshold))
        elapsed = time.perf_counter() - started

        value = logs[config.monitor]
        improved = state["best_value"] is None or better(value, state["best_value"])
        if improved:
            state.update(best_value=float(value), best_epoch=epoch + 1, wait=0, plateau_wait=0)
            _save_atomic(model, ckpt_dir / BEST_WEIGHTS, weights_only=True)
        else:
            state["wait"] += 1
            state["plateau_wait"] += 1
        if config.lr_schedule == "plateau" and state["plateau_wait"] >= config.lr_patience:
            new_lr = max(lr * config.lr_factor, config.min_lr)
            if new_lr < lr:
                optimizer.learning_rate.assign(new_lr)
                log.info("validation %s has not improved for %d epochs: learning rate %.2g -> %.2g",
                         config.monitor, state["plateau_wait"], lr, new_lr)
            state["plateau_wait"] = 0
        if state["wait"] >= config.early_stopping_patience:
            state["stopped_early"] = True
        row: dict[str, Any] = {"epoch": epoch + 1, **logs, "lr": lr, "crops_per_s": seen / train_s,
                               "steps_per_s": len(train_seq) / train_s, "seconds": elapsed}
        history.append(row)
        write_history(run_dir / HISTORY_FILE, history)
        # Checkpoint first, then the state naming it: a crash in between resumes one epoch earlier.
        name = f"last-{epoch + 1:04d}.keras"
        _save_atomic(model, ckpt_dir / name)
        previous = state.get("checkpoint")
        state.update(epoch=epoch + 1, checkpoint=name,
                     lr=float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        _write_json(ckpt_dir / STATE_FILE, state)
        if previous and previous != name:
            (ckpt_dir / previous).unlink(missing_ok=True)
        shown = "  ".join(f"{k} {logs[k]:.4f}" for k in sorted(logs, key=_metric_order))
        log.info("epoch %d/%d  %s  lr %.2g  %.0f crops/s  %.1f s%s%s", epoch + 1, config.epochs, shown, lr,
                 row["crops_per_s"], elapsed, "  *best*" if improved else "",
                 "  (early stop)" if state["stopped_early"] else "")
        cb.on_epoch_end(epoch, logs)
        if state["stopped_early"] or model.stop_training:
            break
    cb.on_train_end()


def _metric_order(name: str) -> tuple[int, str]:
    return (name.startswith("val_"), 0 if name.endswith("loss") else 1, name)


# ---------------------------------------------------------------- the run

def _prepare_run_dir(layout: Layout, config: TrainConfig, run_name: str, *, resume: bool, overwrite: bool,
                     epochs_override: int | None) -> tuple[Path, TrainConfig, dict[str, Any] | None]:
    """Decide between a fresh run and continuing one; returns the config to use and the saved state."""
    if not RUN_NAME.match(run_name):
        raise UserError(f"run name {run_name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    run_dir = layout.runs / run_name
    state_path = run_dir / "checkpoints" / STATE_FILE
    if overwrite and run_dir.exists():
        log.info("removing the previous run in %s (--overwrite)", run_dir)
        shutil.rmtree(run_dir)
    state = _read_json(state_path)
    if state is None:
        if resume:
            raise UserError(f"{run_dir}: nothing to resume (no checkpoint); start it without --resume")
        if run_dir.exists() and any(run_dir.iterdir()):
            # A run killed during its first epoch leaves config.json but no checkpoint: start it over.
            if not (run_dir / CONFIG_FILE).is_file() or (run_dir / MODEL_FILE).exists():
                raise UserError(f"{run_dir}: folder exists but holds no resumable run; choose another --run "
                                "or pass --overwrite")
            _refuse_other_settings(run_dir, config)
            log.info("%s: no epoch had finished; starting the run over", run_dir)
        return run_dir, config, None
    if resume:
        config = _saved_config(run_dir)
    else:
        _refuse_other_settings(run_dir, config)
    if epochs_override is not None:
        config.epochs = epochs_override
    return run_dir, config, state


def _saved_config(run_dir: Path) -> TrainConfig:
    try:
        return TrainConfig.load(run_dir / CONFIG_FILE)
    except ConfigError as exc:
        raise UserError(f"{exc}; pass --overwrite to start this run over") from None


def _refuse_other_settings(run_dir: Path, config: TrainConfig) -> None:
    """Two experiments must never share a folder: a changed setting is an error, not a silent restart."""
    diffs = _saved_config(run_dir).differences(config)
    if diffs:
        raise UserError(f"{run_dir} holds a run with other settings ({'; '.join(diffs[:4])}); use another "
                        "--run NAME, --resume to continue it as it was, or --overwrite to start over")


def train(layout: Layout, config: TrainConfig, *, run_name: str | None = None, manifest: Path | str | None = None,
          resume: bool = False, overwrite: bool = False, epochs_override: int | None = None,
          progress: bool = True, callbacks: Sequence[Any] = ()) -> TrainResult:
    """Train (or continue) a run; returns where it is and how it ended.

    ``callbacks`` are extra Keras callbacks, run after the run's own bookkeeping (tests use
    one to simulate a crash after an epoch).
    """
    try:
        config.validate()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    run_name = run_name or default_run_name(config)
    run_dir, config, state = _prepare_run_dir(layout, config, run_name, resume=resume, overwrite=overwrite,
                                              epochs_override=epochs_override)
    try:
        config.validate()
    except ConfigError as exc:
        raise UserError(f"{run_dir / CONFIG_FILE}: {exc}") from None

    from ..data.manifest import prepare_dataset, read_manifest

    manifest_path, rows = read_manifest(layout, manifest)
    dataset = prepare_dataset(rows, config, source=str(manifest_path))
    if state is not None:
        from .bundle import read_labels

        saved_labels = read_labels(run_dir / LABELS_FILE)
        if saved_labels != dataset.labels:
            raise UserError(f"{run_dir}: the manifest now gives labels {dataset.labels} but the run was "
                            f"started with {saved_labels}; use another --run NAME or --overwrite")
        done = int(state.get("epoch", 0))
        if state.get("stopped_early") or done >= config.epochs:
            log.info("%s already finished (%d epochs%s); nothing to do", run_dir, done,
                     ", stopped early" if state.get("stopped_early") else "")
            summary = _read_json(run_dir / RUN_FILE) or {}
            if (run_dir / MODEL_FILE).exists():
                return TrainResult(run_dir, done, state.get("best_epoch"), state.get("best_value"), None,
                                   "finished", summary.get("val_song_accuracy"))
            log.info("the final model is missing; writing it from the best checkpoint")

    for name, split in dataset.splits.items():
        log.info("%s: %d tracks", name, len(split))
    log.info("labels (%d): %s", len(dataset.labels), ", ".join(dataset.labels))

    from ..data.cache import build_cache

    cache, _ = build_cache(layout, rows, config.features.sample_rate, progress=progress)
    return _fit(run_dir, config, dataset, cache, state, manifest_path, progress, callbacks)


def _fit(run_dir: Path, config: TrainConfig, dataset: Any, cache: Any, state: dict[str, Any] | None,
         manifest_path: Path, progress: bool, extra_callbacks: Sequence[Any]) -> TrainResult:
    import keras

    from ..data.manifest import FixedCrops, TrainCrops
    from ..models.cnn import build_model

    ckpt_dir = run_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    for partial in [*ckpt_dir.glob(".partial-*"), *run_dir.glob(".partial-*")]:  # left by a killed save
        partial.unlink(missing_ok=True)
    (run_dir / "tensorboard").mkdir(exist_ok=True)
    config.save(run_dir / CONFIG_FILE)
    atomic_write_text(run_dir / LABELS_FILE, json.dumps(dataset.labels, indent=1) + "\n")

    device = accelerator()
    mixed = use_mixed_precision(config.mixed_precision, device)
    previous_policy = keras.config.dtype_policy()
    started = time.perf_counter()
    resumed_from = None
    history = read_history(run_dir / HISTORY_FILE)
    try:
        keras.config.set_dtype_policy("mixed_float16" if mixed else "float32")
        if state is None or not (ckpt_dir / str(state.get("checkpoint", ""))).is_file():
            if state is not None:
                log.warning("%s: checkpoint %s is missing; starting this run over", run_dir, state.get("checkpoint"))
            state = {"epoch": 0, "best_value": None, "best_epoch": None, "wait": 0, "plateau_wait": 0,
                     "stopped_early": False, "checkpoint": None}
            history = []
            keras.utils.set_random_seed(config.seed)
            model = build_model(config, len(dataset.labels))
            _compile(model, config, device)
        else:
            resumed_from = int(state["epoch"])
            history = [r for r in history if int(r.get("epoch", 0)) <= resumed_from]
            keras.utils.set_random_seed(config.seed + resumed_from)
            model = keras.models.load_model(ckpt_dir / state["checkpoint"])
            model.jit_compile = jit_setting(device)
            if state.get("lr") is not None and config.lr_schedule != "cosine":
                model.optimizer.learning_rate.assign(float(state["lr"]))
            log.info("resuming %s after epoch %d (best so far: epoch %s)", run_dir, resumed_from, state["best_epoch"])
        class_weights = dataset.class_weights() if config.balance == "weights" else None
        start_epoch = int(state["epoch"])
        train_seq = TrainCrops(cache, dataset.train, config, class_weights=class_weights, epoch=start_epoch)
        val_seq = FixedCrops(cache, dataset.validation, config)
        log.info("training %s (%s-label, %d parameters) on %s%s: %d crops/epoch, %d validation crops",
                 config.model, config.task, model.count_params(), device or "CPU",
                 " with mixed precision" if mixed else "", len(train_seq) * config.batch_size,
                 len(val_seq.crop_track))
        callbacks: list[Any] = []
        tensorboard = _tensorboard(run_dir)
        if tensorboard is not None:
            callbacks.append(tensorboard)
        callbacks += list(extra_callbacks)
        if start_epoch < config.epochs and not state.get("stopped_early"):
            _run_epochs(model, config, run_dir, state, history, train_seq, val_seq, dataset, callbacks, progress)
    finally:
        keras.config.set_dtype_policy(previous_policy)

    final = _write_final_model(run_dir, config, dataset, model)
    final_scores = validation_scores(predict_crops(final, val_seq), val_seq, dataset.validation, config.task,
                                     config.threshold)
    val_song_acc, val_crop_acc = final_scores["val_song_accuracy"], final_scores["val_accuracy"]
    status = "stopped early" if state.get("stopped_early") else "finished"
    summary = {
        "status": status, "epochs_done": state["epoch"], "best_epoch": state["best_epoch"],
        "best_value": state["best_value"], "monitor": config.monitor, "labels": dataset.labels,
        "tracks": {name: len(split) for name, split in dataset.splits.items()},
        "skipped": dataset.skipped, "dropped_genres": dataset.dropped_genres,
        "val_song_accuracy": val_song_acc, "val_crop_accuracy": val_crop_acc,
        "manifest": str(manifest_path), "backend": keras.backend.backend(), "device": device or "cpu",
        "mixed_precision": mixed, "resumed_from_epoch": resumed_from,
        "seconds_this_session": round(time.perf_counter() - started, 1),
        "finished_at": utc_now_text(),
    }
    _write_json(run_dir / RUN_FILE, summary)
    log.info("run %s: %s after %d epochs; best epoch %s (%s %.4f); validation song accuracy %s",
             run_dir.name, status, state["epoch"], state["best_epoch"], config.monitor,
             state["best_value"] if state["best_value"] is not None else float("nan"),
             "n/a" if val_song_acc is None else f"{val_song_acc:.3f}")
    return TrainResult(run_dir, int(state["epoch"]), state["best_epoch"], state["best_value"], resumed_from,
                       status, val_song_acc)


def _compile(model: Any, config: TrainConfig, device: str | None) -> None:
    """AdamW, the task's loss and metrics."""
    import keras

    optimizer = keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    # Decay the convolution and dense kernels only: shrinking biases or batch-norm scales does not regularise.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "_bn", "mel_filterbank", "window"])
    if config.task == "single":
        loss = keras.losses.CategoricalCrossentropy()
        metrics: list[Any] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=config.threshold)]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_setting(device))


def _tensorboard(run_dir: Path) -> Any:
    import importlib.util

    import keras

    missing = [m for m in ("tensorflow", "tensorboard") if importlib.util.find_spec(m) is None]
    if missing:
        log.warning("TensorBoard logs need %s installed; %s/tensorboard stays empty", " and ".join(missing),
                    run_dir)
        return None
    return keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"), write_graph=False,
                                       update_freq="epoch", profile_batch=0)


def _write_final_model(run_dir: Path, config: TrainConfig, dataset: Any, trained: Any) -> Any:
    """The best weights in a freshly built float32 model: what predict loads, on any device."""
    from ..models.cnn import build_model

    final = build_model(config, len(dataset.labels))
    final.jit_compile = trained.jit_compile
    best = run_dir / "checkpoints" / BEST_WEIGHTS
    if best.is_file():
        final.load_weights(best)
    else:
        final.set_weights(trained.get_weights())
    _save_atomic(final, run_dir / MODEL_FILE)
    return final
