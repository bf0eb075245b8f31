"""Fixtures: a tiny generated corpus and tiny real Keras runs that follow the run-folder contract.

The runs are made the way the trainer makes them (TrainConfig in config.json, labels.json,
model.keras whose first layer is the shared LogMel front end, history.csv from Keras'
CSVLogger) but with a one-layer classifier fitted for a few seconds, so evaluation and
predict are tested against a real saved model without a real training run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from manifests import Layout, read_table
from manifests.schema import TRAINING

from .corpus import GENRES, make_corpus

CROP_SECONDS = 1.0


def _crops(layout: Layout, split: str, crop_samples: int, multi: bool) -> tuple[np.ndarray, np.ndarray]:
    from training.data.crops import song_crops
    from training.evaluation.evaluate import load_wave

    waves, targets = [], []
    for row in read_table(layout.table_path("training"), TRAINING):
        if row["split"] != split:
            continue
        crops = song_crops(load_wave(layout, row, 16000), crop_samples)
        target = np.zeros(len(GENRES), dtype=np.float32)
        target[GENRES.index(row["top_genre"])] = 1.0
        waves.append(crops)
        targets.extend([target] * len(crops))
    return np.concatenate(waves), np.asarray(targets)


def make_run(run_dir: Path, layout: Layout, task: str = "single", epochs: int = 8) -> Path:
    """Fit a LogMel -> time-average -> Dense classifier on the corpus and save it as a run folder."""
    import keras

    from training.config import FeatureConfig, TrainConfig
    from training.models.features import LogMel
    from training.runs.rundir import RunDir

    config = TrainConfig(model="cnn_bn", task=task, epochs=epochs, seed=7,
                         features=FeatureConfig(crop_seconds=CROP_SECONDS, n_mels=32))
    keras.utils.set_random_seed(7)
    n = config.features.crop_samples
    inputs = keras.Input((n,), name="waveform")
    x = LogMel.from_feature_config(config.features)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(len(GENRES), activation="softmax" if task == "single" else "sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss="categorical_crossentropy" if task == "single" else "binary_crossentropy",
                  metrics=["accuracy"] if task == "single" else ["binary_accuracy"])
    x_train, y_train = _crops(layout, "train", n, task == "multi")
    x_val, y_val = _crops(layout, "validation", n, task == "multi")
    run = RunDir(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=16, verbose=0,
              callbacks=[keras.callbacks.CSVLogger(str(run.history_file))])
    model.save(run.model_file)
    run.write_config(config)
    run.write_labels(GENRES)
    return run_dir


@pytest.fixture(scope="package")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """Three tone 'genres', 2 s tracks: 6 train, 2 validation and 4 test tracks per genre."""
    return make_corpus(tmp_path_factory.mktemp("data"), {"train": 6, "validation": 2, "test": 4},
                       seconds=2.0, seed=11)


@pytest.fixture(scope="package")
def single_run(corpus: Layout) -> Path:
    return make_run(corpus.runs / "tiny-single", corpus, "single")


@pytest.fixture(scope="package")
def multi_run(corpus: Layout) -> Path:
    return make_run(corpus.runs / "tiny-multi", corpus, "multi")


@pytest.fixture(scope="package")
def evaluated_without_baseline(corpus: Layout, single_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the single-label run after `evaluate --no-baseline` (tests copy it before changing it)."""
    import shutil

    from training.cli import main

    run = Path(shutil.copytree(single_run, tmp_path_factory.mktemp("evaluated") / single_run.name))
    assert main(["evaluate", str(run), "--data", str(corpus.root), "--no-baseline", "-q"]) == 0
    return run
