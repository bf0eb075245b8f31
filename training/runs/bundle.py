"""A trained run, loaded for prediction: model, label list and feature settings together.

A run folder (:class:`~training.runs.rundir.RunDir`) carries everything predict needs:
``config.json`` (the full :class:`~training.config.TrainConfig`), ``labels.json``
(the ordered label list the model's outputs follow) and ``model.keras`` (the
best model, whose first layer is the log-mel front end).  Evaluation and
``predict`` go through :func:`load_bundle`, so they cannot disagree with training
about crop length, sample rate or label order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from manifests.errors import UserError

from ..config import TrainConfig
from ..data.crops import song_crops
from ..runtime import accelerator, jit_setting, start_backend
from .rundir import RunDir

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)


@dataclass
class Bundle:
    """A loaded run. Waveforms are mono float32 at ``sample_rate`` in [-1, 1]."""

    run_dir: Path
    model: keras.Model
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
        return song_crops(wave, self.crop_samples, n_crops)

    def predict_song(self, wave: np.ndarray, n_crops: int | None = None) -> np.ndarray:
        """Song-level probabilities ``[n_labels]``: the mean over evenly spaced crops."""
        return np.asarray(self.predict_crops(self.song_crops(wave, n_crops)).mean(axis=0))

    def top(self, probs: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable labels with their probabilities, best first."""
        order = np.argsort(-probs)[:k]
        return [(self.labels[i], float(probs[i])) for i in order]


def load_bundle(run_dir: Path | str | RunDir, *, batch_size: int = 32) -> Bundle:
    """Load a run folder for prediction; one-line ``UserError`` when something is missing or inconsistent."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    if not run.path.is_dir():
        raise UserError(f"{run}: no such run folder (train one with 'python -m training train')")
    if not run.model_file.is_file():
        raise UserError(f"{run.model_file}: no trained model in this run folder (training unfinished? "
                        "rerun the same train command to continue it)")
    config = run.read_config()
    labels = run.read_labels()

    start_backend()
    import keras

    from ..models import cnn, features  # noqa: F401  (registers the custom layers for deserialisation)

    try:
        model = keras.models.load_model(run.model_file, compile=False)
    except Exception as exc:  # a corrupt or foreign file: say which, in one line
        raise UserError(f"{run.model_file}: cannot load the model: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    model.jit_compile = jit_setting(accelerator())
    n_out = model.output_shape[-1]
    if n_out != len(labels):
        raise UserError(f"{run}: model has {n_out} outputs but {run.labels_file.name} lists {len(labels)} labels")
    log.debug("loaded %s: %s, %d labels", run, config.model, len(labels))
    return Bundle(run_dir=run.path, model=model, labels=labels, config=config, batch_size=batch_size)
