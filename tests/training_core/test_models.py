"""The model registry: every architecture maps waveform crops to probabilities and survives save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.config import MODEL_NAMES, TrainConfig  # noqa: E402
from training.models.cnn import MODELS, build_model  # noqa: E402


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_predicts_probabilities_and_round_trips(name: str, tmp_path: Path) -> None:
    assert set(MODELS) == set(MODEL_NAMES)
    config = TrainConfig(model=name, width=2, task="single")
    config.features.crop_seconds = 0.5
    config.features.n_mels = 32
    model = build_model(config, 5)
    assert model.input_shape == (None, 8000) and model.output_shape == (None, 5)
    x = np.random.default_rng(0).standard_normal((3, 8000)).astype(np.float32) * 0.1
    probs = np.asarray(model(x, training=False))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), probs, rtol=1e-5, atol=1e-6)
    assert loaded.get_layer("logmel").get_config()["n_mels"] == 32


def test_mixed_precision_keeps_the_front_end_and_outputs_in_float32() -> None:
    config = TrainConfig(model="cnn_bn", width=2, task="multi")
    config.features.crop_seconds = 0.5
    config.features.n_mels = 32
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        model = build_model(config, 4)
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.get_layer("logmel").compute_dtype == "float32"
    assert model.get_layer("block1_conv").compute_dtype == "float16"
    out = model(np.zeros((2, 8000), np.float32))
    assert keras.backend.standardize_dtype(out.dtype) == "float32" and model.get_layer("probabilities").compute_dtype == "float32"
