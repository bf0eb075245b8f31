"""`python -m training train --model musicnn`: the pretrained network fine-tuned, frozen then unfrozen.

One tiny run (three tone genres, two training crops per genre, one step an epoch) is
killed after its frozen epoch and continued into its unfrozen one, as a crash would
leave it; the tests then evaluate and predict it like any CNN run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("keras")

import keras

from manifests import Layout
from manifests.errors import UserError
from training.cli import main
from training.config import FineTuneConfig, TrainConfig
from training.models.pretrained.finetune import HEAD_LAYERS, apply_input_spec, build_finetune, frozen_layers
from training.models.pretrained.registry import get_pretrained
from training.models.pretrained.weights import model_weight_keys
from training.runs.bundle import load_bundle
from training.runs.train import train

from ..training_eval.corpus import make_corpus


class SimulatedCrash(Exception):
    pass


def _pretrained_arrays() -> dict[str, np.ndarray]:
    with np.load(get_pretrained("musicnn-MSD").weights_path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files if "/" in key}


def _frontend_keys(model: Any, arrays: dict[str, np.ndarray]) -> list[str]:
    """Stored variables of the pretrained layers that the frozen phase must leave alone."""
    return [key for key in model_weight_keys(model) if key in arrays and key.split("/")[0] not in HEAD_LAYERS]


class Watch(keras.callbacks.Callback):
    """Records, after each epoch, which layers were frozen and every weight by its key."""

    def __init__(self, crash_after: int | None = None) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.frozen: dict[int, list[str]] = {}
        self.weights: dict[int, dict[str, np.ndarray]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.frozen[epoch] = frozen_layers(self.model)
        self.weights[epoch] = {k: np.array(v.numpy()) for k, v in model_weight_keys(self.model).items()}
        if epoch == self.crash_after:
            raise SimulatedCrash("power cut")


def _config() -> TrainConfig:
    config = TrainConfig(model="musicnn", epochs=2, batch_size=6, crops_per_track=1, val_crops_per_track=1,
                         min_tracks=2, seed=3, finetune=FineTuneConfig(unfreeze_epochs=1, fine_tune_lr=1e-4))
    apply_input_spec(config, {})
    return config


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Layout, Path, Watch, Watch]:
    layout = make_corpus(tmp_path_factory.mktemp("finetune"), {"train": 2, "validation": 1, "test": 1},
                         seconds=4.0, seed=3)
    first, second = Watch(crash_after=0), Watch()
    with pytest.raises(SimulatedCrash):
        train(layout, _config(), run_name="ft", progress=False, callbacks=[first])
    result = train(layout, _config(), run_name="ft", progress=False, callbacks=[second])
    assert result.resumed_from == 1 and result.epochs_done == 2
    return layout, result.run_dir, first, second


def test_the_frozen_phase_trains_only_the_head_then_every_layer_learns(
        finetuned: tuple[Layout, Path, Watch, Watch]) -> None:
    _, run_dir, first, second = finetuned
    arrays = _pretrained_arrays()
    after_frozen = first.weights[0]
    keys = _frontend_keys(first.model, arrays)
    assert any(k.startswith("timbral_74_conv/") for k in keys) and any(k.startswith("midend3_") for k in keys)
    # epoch 1: front and mid end (batch-norm statistics included) exactly as pretrained, the head moved
    assert {"timbral_74_conv", "temporal_128_bn", "midend1_conv", "input_bn"} <= set(first.frozen[0])
    assert not set(first.frozen[0]) & HEAD_LAYERS
    for key in keys:
        np.testing.assert_array_equal(after_frozen[key], arrays[key], err_msg=key)
    assert not np.array_equal(after_frozen["penultimate_dense/kernel"], arrays["penultimate_dense/kernel"])
    # epoch 2 (continued after the crash): nothing frozen, and the pretrained convolutions move
    assert second.frozen[1] == []
    moved = [k for k in keys if k.endswith("/kernel") and not np.array_equal(second.weights[1][k], arrays[k])]
    assert "timbral_74_conv/kernel" in moved and "midend1_conv/kernel" in moved
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "musicnn" and config["finetune"]["unfreeze_epochs"] == 1
    assert config["features"]["sample_rate"] == 16000 and config["features"]["crop_samples"] == 48128
    assert "finetune" not in TrainConfig().to_dict()  # a CNN's config.json is unchanged


def test_evaluate_and_predict_take_the_finetuned_run(finetuned: tuple[Layout, Path, Watch, Watch],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    layout, run_dir, _, _ = finetuned
    bundle = load_bundle(run_dir)
    assert bundle.sample_rate == 16000 and bundle.crop_samples == 48128 and bundle.labels == [
        "ambient", "chiptune", "noise"]
    assert main(["evaluate", str(run_dir), "--data", str(layout.root), "--no-baseline", "-q"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == "musicnn" and metrics["n_tracks"] == 3
    capsys.readouterr()
    wav = next(layout.audio.glob("*.wav"))
    assert main(["predict", str(wav), "--run", str(run_dir), "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = result if isinstance(result, list) else result.get("results", [result])
    assert rows[0]["predicted"][0] in bundle.labels


def test_feature_options_that_contradict_the_model_input_are_refused(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data", str(tmp_path), "-q"]
    assert main(["train", "--model", "musicnn", "--n-mels", "128", *data]) == 2
    assert "--n-mels 128: musicnn-MSD takes mono 16000 Hz; 96-band mel" in capsys.readouterr().err
    assert main(["train", "--unfreeze-epochs", "2", *data]) == 2
    assert "add --model musicnn" in capsys.readouterr().err
    assert main(["train", "--model", "musicnn", "--epochs", "3", "--unfreeze-epochs", "3", *data]) == 2
    assert "unfreeze_epochs 3" in capsys.readouterr().err
    config = TrainConfig(model="musicnn")  # CNN features (128 mels, 4 s crops) never reach the model
    with pytest.raises(UserError, match="musicnn-MSD takes mono 16000 Hz.*n_mels is 128, not 96"):
        build_finetune(config, 3)
