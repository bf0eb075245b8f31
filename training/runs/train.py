"""Train a genre classifier on the training manifest, resumably, into a run folder.

The flow: the settings (:class:`~training.config.TrainConfig`) and the run folder
(:class:`~training.runs.rundir.RunDir`: a new run, or one to continue), then the data
(manifest, label space, audio cache, crop sequences), the model, the epoch loop, and the
final model and summary.

After every epoch the last checkpoint and ``state.json`` (epoch, early-stopping and
learning-rate counters) are written atomically, so a crash or Ctrl-C loses at most
the epoch in progress: rerunning the same command continues from the next epoch
with the optimizer state, history and counters as they were.  The continued run is the
uninterrupted one, digit for digit on CPU: the model and optimizer are built and compiled
as for a new run before the checkpoint's weights and optimizer state are loaded into them
(:meth:`RunDir.load_checkpoint`), and every random draw of an epoch derives from
``(seed, epoch)`` alone (:func:`seed_epoch`, :class:`~training.data.sequences.TrainCrops`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from manifests.clock import utc_now_text
from manifests.errors import UserError
from manifests.layout import Layout

from ..config import FINETUNE, ConfigError, TrainConfig
from ..data.manifest import Dataset, SplitData
from ..data.sequences import FixedCrops, TrainCrops, prefetch
from ..runtime import accelerator, jit_setting, start_backend, use_mixed_precision
from .distribute import SINGLE, Replicas, start_distribution, worker_role
from .rundir import HistoryRow, JSONObject, RunDir, TrainState

if TYPE_CHECKING:
    import keras

    from ..data.cache import AudioCache

log = logging.getLogger(__name__)


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


# ---------------------------------------------------------------- validation

def predict_crops(model: keras.Model, seq: FixedCrops, replicas: Replicas = SINGLE) -> np.ndarray:
    return np.concatenate([replicas.predict(model, seq[i][0]) for i in range(len(seq))])


def validation_scores(probs: np.ndarray, val_seq: FixedCrops, split: SplitData, task: str,
                      threshold: float) -> dict[str, float]:
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

def _run_epochs(model: keras.Model, config: TrainConfig, run: RunDir, state: TrainState,
                history: list[HistoryRow], train_seq: TrainCrops, val_seq: FixedCrops, dataset: Dataset,
                callbacks: Sequence[keras.callbacks.Callback], progress: bool, replicas: Replicas = SINGLE) -> None:
    """Train from ``state.epoch`` to ``config.epochs`` with ``train_on_batch`` (any backend, no tf.data).

    After each epoch: validation, best checkpoint, learning-rate schedule, early stopping,
    history.csv, the last checkpoint and state.json, then the Keras callbacks (TensorBoard).
    """
    import keras
    from tqdm import tqdm

    better: Callable[[float, float], bool] = (
        (lambda a, b: a < b) if config.monitor == "val_loss" else (lambda a, b: a > b))
    cb = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=config.epochs,
                                      steps=len(train_seq), verbose=0)
    from ..models.pretrained import finetune

    optimizer = model.optimizer
    base_lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    if config.lr_schedule == "cosine":  # the schedule starts from the peak rate (x replicas with linear scaling)
        base_lr *= replicas.lr_scale(config)
    model.stop_training = False
    cb.on_train_begin()
    for epoch in range(state.epoch, config.epochs):
        train_seq.epoch = epoch
        if finetune.unfreezes_at(config, epoch):  # a fine-tuned musicnn: every layer learns from now on
            base_lr = finetune.set_phase(model, config, epoch)
            compile_model(model, config, accelerator(), learning_rate=base_lr)
            optimizer, state.wait, state.plateau_wait = model.optimizer, 0, 0
            log.info("epoch %d: every layer trainable now, learning rate %.2g", epoch + 1, base_lr)
        seed_epoch(model, config.seed, epoch)
        if config.lr_schedule == "cosine":
            optimizer.learning_rate.assign(config.min_lr + 0.5 * (base_lr - config.min_lr) * (
                1 + math.cos(math.pi * epoch / max(1, config.epochs))))
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        cb.on_epoch_begin(epoch)
        started = time.perf_counter()
        sums: dict[str, float] = {}
        seen = 0
        bar = tqdm(total=len(train_seq), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False,
                   disable=not progress or None)
        # closed at once when the epoch ends early (an exception, Ctrl-C): its threads stop with it
        with bar, closing(prefetch(train_seq, config.workers)) as batches:
            for step, batch in enumerate(batches):
                cb.on_train_batch_begin(step)
                x = batch[0]
                warm = replicas.warmup_rate(config, epoch, step, len(train_seq))
                if warm is not None:
                    optimizer.learning_rate.assign(warm)
                logs = replicas.train_step(model, batch)
                for key, value in logs.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(x)
                seen += len(x)
                cb.on_train_batch_end(step, logs)
                bar.update(1)
                bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)
        train_s = time.perf_counter() - started
        scores = {key: value / max(seen, 1) for key, value in sums.items()}
        scores.update(validation_scores(predict_crops(model, val_seq, replicas), val_seq, dataset.validation, config.task,
                                        config.threshold))
        elapsed = time.perf_counter() - started

        value = scores[config.monitor]
        improved = state.best_value is None or better(value, state.best_value)
        if improved:
            state.best_value, state.best_epoch, state.wait, state.plateau_wait = float(value), epoch + 1, 0, 0
            run.save_model(model, run.best_weights_file, weights_only=True)
        else:
            state.wait += 1
            state.plateau_wait += 1
        if (config.lr_schedule == "plateau" and state.plateau_wait >= config.lr_patience
                and not replicas.warming(config, epoch + 1)):
            new_lr = max(lr * config.lr_factor, config.min_lr)
            if new_lr < lr:
                optimizer.learning_rate.assign(new_lr)
                log.info("validation %s has not improved for %d epochs: learning rate %.2g -> %.2g",
                         config.monitor, state.plateau_wait, lr, new_lr)
            state.plateau_wait = 0
        if state.wait >= config.early_stopping_patience and finetune.stop_allowed(config, epoch):
            state.stopped_early = True
        row: HistoryRow = {"epoch": epoch + 1, **scores, "lr": lr, "crops_per_s": seen / train_s,
                           "steps_per_s": len(train_seq) / train_s, "seconds": elapsed}
        history.append(row)
        run.write_history(history)
        # Checkpoint first, then the state naming it: a crash in between resumes one epoch earlier.
        checkpoint = run.checkpoint(epoch + 1)
        run.save_model(model, checkpoint)
        previous = run.resume_checkpoint(state)
        state.epoch, state.checkpoint = epoch + 1, checkpoint.name
        state.lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        run.write_state(state)
        if previous is not None and previous != checkpoint:
            previous.unlink(missing_ok=True)
        shown = "  ".join(f"{k} {scores[k]:.4f}" for k in sorted(scores, key=_metric_order))
        log.info("epoch %d/%d  %s  lr %.2g  %.0f crops/s  %.1f s%s%s", epoch + 1, config.epochs, shown, lr,
                 seen / train_s, elapsed, "  *best*" if improved else "",
                 "  (early stop)" if state.stopped_early else "")
        cb.on_epoch_end(epoch, scores)
        if state.stopped_early or model.stop_training:
            break
    cb.on_train_end()


def seed_epoch(model: keras.Model, seed: int, epoch: int) -> None:
    """Seed every random number generator training draws from by ``(seed, epoch)`` alone.

    The model's own generators (dropout masks, the front end's pitch shifts) and the global
    ones (Python's ``random``, numpy's, the backend's) start each epoch from a state derived
    from the run's seed and the epoch number, as the training crops do.  Nothing random is
    carried from one epoch to the next, so a run resumed after epoch k draws exactly what
    the uninterrupted run drew: a checkpoint needs no generator state (Keras does not save
    its generators' states in a checkpoint anyway).
    """
    import keras

    keras.utils.set_random_seed(_derived_seed(seed, epoch, 0))
    generators = [v for v in model.variables if v.name == "seed_generator_state"]
    for index, variable in enumerate(generators, start=1):
        variable.assign(np.array([_derived_seed(seed, epoch, index), 0], dtype=variable.dtype))


def _derived_seed(seed: int, epoch: int, stream: int) -> int:
    """A seed below 2**31 (every backend's seed type holds it) for one random stream of one epoch."""
    return int(np.random.SeedSequence([seed, epoch, stream, 0x5EED]).generate_state(1)[0] >> 1)


def _metric_order(name: str) -> tuple[bool, int, str]:
    return (name.startswith("val_"), 0 if name.endswith("loss") else 1, name)


# ---------------------------------------------------------------- the run

def _prepare_run(run: RunDir, config: TrainConfig, *, resume: bool, fresh: bool,
                 epochs_override: int | None) -> tuple[TrainConfig, TrainState | None]:
    """Decide between a new run and continuing one; returns the config to use and the saved state."""
    if fresh and run.path.exists():
        log.info("removing the previous run in %s (--fresh)", run)
        run.clear()
    state = run.read_state()
    if state is None:
        if resume:
            raise UserError(f"{run}: nothing to resume (no checkpoint); start it without --resume")
        if not run.is_empty:
            if not run.started_without_epoch:
                raise UserError(f"{run}: folder exists but holds no resumable run; choose another --run "
                                "or pass --fresh")
            _refuse_other_settings(run, config)
            log.info("%s: no epoch had finished; starting the run over", run)
        return config, None
    if resume:
        config = _saved_config(run)
    else:
        _refuse_other_settings(run, config)
    if epochs_override is not None:
        config.epochs = epochs_override
    return config, state


def _saved_config(run: RunDir) -> TrainConfig:
    try:
        return TrainConfig.load(run.config_file)
    except ConfigError as exc:
        raise UserError(f"{exc}; pass --fresh to start this run over") from None


def _refuse_other_settings(run: RunDir, config: TrainConfig) -> None:
    """Two experiments must never share a folder: a changed setting is an error, not a silent restart."""
    diffs = _saved_config(run).differences(config)
    if diffs:
        raise UserError(f"{run} holds a run with other settings ({'; '.join(diffs[:4])}); use another "
                        "--run NAME, --resume to continue it as it was, or --fresh to start over")


def train(layout: Layout, config: TrainConfig, *, run_name: str | None = None, manifest: Path | str | None = None,
          resume: bool = False, fresh: bool = False, epochs_override: int | None = None,
          progress: bool = True, callbacks: Sequence[keras.callbacks.Callback] = ()) -> TrainResult:
    """Train (or continue) a run; returns where it is and how it ended.

    ``callbacks`` are extra Keras callbacks, run after the run's own bookkeeping (tests use
    one to simulate a crash after an epoch).
    """
    try:
        config.validate()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    name = run_name or default_run_name(config)
    if config.distribute and not worker_role().chief:  # worker k keeps its own copy of the run, to resume
        name = f"{name}.worker{worker_role().index}"
    run = RunDir.named(layout, name)
    with run.lock("training train"):
        return _train(layout, run, config, manifest=manifest, resume=resume, fresh=fresh,
                      epochs_override=epochs_override, progress=progress, callbacks=callbacks)


def _train(layout: Layout, run: RunDir, config: TrainConfig, *, manifest: Path | str | None, resume: bool,
           fresh: bool, epochs_override: int | None, progress: bool,
           callbacks: Sequence[keras.callbacks.Callback]) -> TrainResult:
    config, state = _prepare_run(run, config, resume=resume, fresh=fresh, epochs_override=epochs_override)
    try:
        config.validate()
    except ConfigError as exc:
        raise UserError(f"{run.config_file}: {exc}") from None

    from ..data.manifest import prepare_dataset, read_manifest

    manifest_path, rows = read_manifest(layout, manifest)
    dataset = prepare_dataset(rows, config, source=str(manifest_path))
    if state is not None:
        saved_labels = run.read_labels()
        if saved_labels != dataset.labels:
            raise UserError(f"{run}: the manifest now gives labels {dataset.labels} but the run was "
                            f"started with {saved_labels}; use another --run NAME or --fresh")
        if state.stopped_early or state.epoch >= config.epochs:
            log.info("%s already finished (%d epochs%s); nothing to do", run, state.epoch,
                     ", stopped early" if state.stopped_early else "")
            if run.model_file.exists():
                return TrainResult(run.path, state.epoch, state.best_epoch, state.best_value, None,
                                   "finished", run.read_summary().get("val_song_accuracy"))
            log.info("the final model is missing; writing it from the best checkpoint")

    for name, split in dataset.splits.items():
        log.info("%s: %d tracks", name, len(split))
    log.info("labels (%d): %s", len(dataset.labels), ", ".join(dataset.labels))

    from ..data.cache import build_cache

    cache, _ = build_cache(layout, rows, config.features.sample_rate, progress=progress)
    return _fit(run, config, dataset, cache, state, manifest_path, progress, callbacks)


def _fit(run: RunDir, config: TrainConfig, dataset: Dataset, cache: AudioCache, state: TrainState | None,
         manifest_path: Path, progress: bool, extra_callbacks: Sequence[keras.callbacks.Callback]) -> TrainResult:
    replicas = start_distribution(config)  # first: a multi-worker strategy must exist before TF runs anything
    start_backend()
    import keras

    run.prepare()
    run.write_config(config)
    run.write_labels(dataset.labels)

    device = accelerator()
    mixed = use_mixed_precision(config.mixed_precision, device)
    previous_policy = keras.config.dtype_policy()
    started = time.perf_counter()
    resumed_from = None
    history = run.read_history()
    scope = ExitStack()
    try:
        scope.enter_context(replicas.scope())  # the model, optimizer and metrics are the strategy's
        checkpoint = run.resume_checkpoint(state) if state is not None else None
        if state is not None and checkpoint is None:
            log.warning("%s: checkpoint %s is missing; starting this run over", run, state.checkpoint)
            state = None
        if state is not None and state.mixed_precision is not None and state.mixed_precision != mixed:
            # the checkpoint's optimizer has (or lacks) the loss-scale wrapper: keep the run's precision
            log.info("%s: continuing in %s as it started", run, "mixed precision" if state.mixed_precision
                     else "float32")
            mixed = state.mixed_precision
        keras.config.set_dtype_policy("mixed_float16" if mixed else "float32")
        # The same model and optimizer as a new run, whether new or resumed: AdamW's exclusions from
        # weight decay are not in its saved config, so a model loaded whole would lose them.
        keras.utils.set_random_seed(config.seed)
        model = build_model(config, len(dataset.labels))
        compile_model(model, config, device, learning_rate=_phase(model, config, state))
        replicas.prepare(model)
        if state is None or checkpoint is None:
            state = TrainState()
            history = []
            if not replicas.warming(config, 0):  # no warm-up: the scaled rate from the first step
                model.optimizer.learning_rate.assign(
                    float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) * replicas.lr_scale(config))
        else:
            resumed_from = state.epoch
            history = [r for r in history if int(r.get("epoch", 0)) <= resumed_from]
            run.load_checkpoint(model, checkpoint)
            if state.lr is not None and config.lr_schedule != "cosine":
                model.optimizer.learning_rate.assign(state.lr)
            log.info("resuming %s after epoch %d (best so far: epoch %s)", run, resumed_from, state.best_epoch)
        state.mixed_precision = mixed
        class_weights = dataset.class_weights() if config.balance == "weights" else None
        batches = replicas.batch_config(config)  # the global batch
        train_seq = TrainCrops(cache, dataset.train, batches, class_weights=class_weights, epoch=state.epoch)
        val_seq = FixedCrops(cache, dataset.validation, batches)
        log.info("%s", replicas.describe(config))
        log.info("training %s (%s-label, %d parameters) on %s%s: %d crops/epoch, %d validation crops",
                 config.model, config.task, model.count_params(), device or "CPU",
                 " with mixed precision" if mixed else "", len(train_seq) * batches.batch_size,
                 len(val_seq.crop_track))
        callbacks: list[keras.callbacks.Callback] = []
        tensorboard = _tensorboard(run)
        if tensorboard is not None:
            callbacks.append(tensorboard)
        callbacks += list(extra_callbacks)
        if state.epoch < config.epochs and not state.stopped_early:
            _run_epochs(model, config, run, state, history, train_seq, val_seq, dataset, callbacks, progress,
                        replicas)
    finally:
        scope.close()
        replicas.close()
        keras.config.set_dtype_policy(previous_policy)

    final = _write_final_model(run, config, dataset, model)
    final_scores = validation_scores(predict_crops(final, val_seq), val_seq, dataset.validation, config.task,
                                     config.threshold)
    val_song_acc, val_crop_acc = final_scores["val_song_accuracy"], final_scores["val_accuracy"]
    status = "stopped early" if state.stopped_early else "finished"
    summary: JSONObject = {
        "status": status, "epochs_done": state.epoch, "best_epoch": state.best_epoch,
        "best_value": state.best_value, "monitor": config.monitor, "labels": dataset.labels,
        "tracks": {name: len(split) for name, split in dataset.splits.items()},
        "skipped": dataset.skipped, "dropped_genres": dataset.dropped_genres,
        "val_song_accuracy": val_song_acc, "val_crop_accuracy": val_crop_acc,
        "manifest": str(manifest_path), "backend": keras.backend.backend(), "device": device or "cpu",
        "mixed_precision": mixed, "resumed_from_epoch": resumed_from,
        "replicas": replicas.count, "distribute_engine": replicas.engine, "global_batch": batches.batch_size,
        "seconds_this_session": round(time.perf_counter() - started, 1),
        "finished_at": utc_now_text(),
    }
    run.write_summary(summary)
    log.info("run %s: %s after %d epochs; best epoch %s (%s %.4f); validation song accuracy %s",
             run.name, status, state.epoch, state.best_epoch, config.monitor,
             state.best_value if state.best_value is not None else float("nan"),
             "n/a" if val_song_acc is None else f"{val_song_acc:.3f}")
    return TrainResult(run.path, state.epoch, state.best_epoch, state.best_value, resumed_from,
                       status, val_song_acc)


def build_model(config: TrainConfig, n_labels: int, *, pretrained: bool = True) -> keras.Model:
    """The run's model: a CNN from scratch, or a pretrained musicnn with a new head (``pretrained``: its weights)."""
    if config.model == FINETUNE:
        from ..models.pretrained.finetune import build_finetune

        return build_finetune(config, n_labels, pretrained=pretrained)
    from ..models.cnn import build_model as build_cnn

    return build_cnn(config, n_labels)


def _phase(model: keras.Model, config: TrainConfig, state: TrainState | None) -> float:
    """The learning rate to compile with; a fine-tuned musicnn is frozen or not as its last finished epoch was."""
    if config.model != FINETUNE:
        return config.learning_rate
    from ..models.pretrained.finetune import set_phase

    # the checkpoint to load holds the optimizer of the phase of the last finished epoch
    return set_phase(model, config, max(0, state.epoch - 1) if state is not None else 0)


def compile_model(model: keras.Model, config: TrainConfig, device: str | None, *,
                  learning_rate: float | None = None) -> None:
    """AdamW (at ``learning_rate``, default the config's), the task's loss and metrics."""
    import keras

    optimizer = keras.optimizers.AdamW(learning_rate=config.learning_rate if learning_rate is None else learning_rate,
                                       weight_decay=config.weight_decay)
    # Decay the convolution and dense kernels only: shrinking biases or batch-norm scales does not regularise.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "_bn", "mel_filterbank", "window"])
    if config.task == "single":
        loss = keras.losses.CategoricalCrossentropy()
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=config.threshold)]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_setting(device))


def _tensorboard(run: RunDir) -> keras.callbacks.Callback | None:
    import importlib.util

    import keras

    missing = [m for m in ("tensorflow", "tensorboard") if importlib.util.find_spec(m) is None]
    if missing:
        log.warning("TensorBoard logs need %s installed; %s stays empty", " and ".join(missing), run.tensorboard)
        return None
    return keras.callbacks.TensorBoard(log_dir=str(run.tensorboard), write_graph=False,
                                       update_freq="epoch", profile_batch=0)


def _write_final_model(run: RunDir, config: TrainConfig, dataset: Dataset, trained: keras.Model) -> keras.Model:
    """The best weights in a freshly built float32 model: what predict loads, on any device."""
    final = build_model(config, len(dataset.labels), pretrained=False)
    final.jit_compile = trained.jit_compile
    if run.best_weights_file.is_file():
        final.load_weights(run.best_weights_file)
    else:
        final.set_weights(trained.get_weights())
    run.save_model(final, run.model_file)
    return final
