"""A trained run, loaded for prediction: model, label list and feature settings together.

A run folder (``data/runs/<name>/``) carries everything predict needs:
``config.json`` (the full :class:`~training.config.TrainConfig`), ``labels.json``
(the ordered label list the model's outputs follow) and ``model.keras`` (the
best model, whose first layer is the log-mel front end).  Evaluation and
``predict`` go through :func:`load_bundle`, so they cannot disagree with training
about crop length, sample rate or label order.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifests.errors import UserError

from ..config import ConfigError, TrainConfig

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
MODEL_FILE = "model.keras"


@dataclass
class Bundle:
    """A loaded run. Waveforms are mono float32 at ``sample_rate`` in [-1, 1]."""

    run_dir: Path
    model: Any
    labels: list[str]
    config: TrainConfig
    batch_size: int = 32

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def threshold(self) -> float:
        return self.config.threshold

    @property
    def crop_samples(self) -> int:
        return self.config.features.crop_samples

    @property
    def sample_rate(self) -> int:
        return self.config.features.sample_rate

    def predict_crops(self, waves: np.ndarray) -> np.ndarray:
        """Probabilities ``[B, n_labels]`` for crops ``[B, crop_samples]`` (softmax or sigmoid)."""
        waves = np.asarray(waves, dtype=np.float32)
        if waves.ndim != 2 or waves.shape[1] != self.crop_samples:
            raise ValueError(f"expected crops of shape [B, {self.crop_samples}], got {waves.shape}")
        if waves.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        out = []
        size = self.batch_size
        for start in range(0, waves.shape[0], size):
            chunk = waves[start: start + size]
            n = chunk.shape[0]
            if n < size:  # one batch shape for every call: no retracing, same numerics
                chunk = np.concatenate([chunk, np.zeros((size - n, chunk.shape[1]), np.float32)])
            probs = np.asarray(self.model.predict_on_batch(chunk), dtype=np.float32)
            out.append(probs[:n])
        return np.concatenate(out)

    def song_crops(self, wave: np.ndarray, n_crops: int | None = None) -> np.ndarray:
        """Evenly spaced crops over the whole track ``[n, crop_samples]``; a short track is zero-padded."""
        from ..models.features import song_crops

        return song_crops(wave, self.crop_samples, n_crops)

    def predict_song(self, wave: np.ndarray, n_crops: int | None = None) -> np.ndarray:
        """Song-level probabilities ``[n_labels]``: the mean over evenly spaced crops."""
        return self.predict_crops(self.song_crops(wave, n_crops)).mean(axis=0)

    def top(self, probs: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable labels with their probabilities, best first."""
        order = np.argsort(-probs)[:k]
        return [(self.labels[i], float(probs[i])) for i in order]


def read_labels(path: Path) -> list[str]:
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no label list; is this a finished training run?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable label list: {exc}") from None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise UserError(f"{path}: expected a non-empty JSON list of genre names")
    return labels


def load_bundle(run_dir: Path | str, *, batch_size: int = 32) -> Bundle:
    """Load a run folder for prediction; one-line ``UserError`` when something is missing or inconsistent."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run folder (train one with 'python -m training train')")
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        raise UserError(f"{model_path}: no trained model in this run folder (training unfinished? "
                        "rerun the same train command to continue it)")
    try:
        config = TrainConfig.load(run_dir / CONFIG_FILE)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    labels = read_labels(run_dir / LABELS_FILE)

    import keras

    from ..models import cnn, features  # noqa: F401  (registers the custom layers for deserialisation)

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # a corrupt or foreign file: say which, in one line
        raise UserError(f"{model_path}: cannot load the model: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    from .train import accelerator, jit_setting

    model.jit_compile = jit_setting(accelerator())
    n_out = model.output_shape[-1]
    if n_out != len(labels):
        raise UserError(f"{run_dir}: model has {n_out} outputs but {LABELS_FILE} lists {len(labels)} labels")
    log.debug("loaded %s: %s, %d labels", run_dir, config.model, len(labels))
    return Bundle(run_dir=run_dir, model=model, labels=labels, config=config, batch_size=batch_size)
