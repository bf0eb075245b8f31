"""End to end on a tiny generated corpus: run folder, resume after a crash, both tasks, bundle, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from manifests.errors import UserError  # noqa: E402
from training.cli import main  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data.cache import build_cache  # noqa: E402
from training.runs.bundle import load_bundle  # noqa: E402
from training.runs.train import train  # noqa: E402

from .corpus import SR, make_corpus  # noqa: E402

RUN_FILES = {"config.json", "labels.json", "model.keras", "history.csv", "run.json", "checkpoints", "tensorboard"}


def tiny_config(**kw) -> TrainConfig:
    config = TrainConfig(**{"model": "baseline3", "width": 4, "epochs": 2, "batch_size": 8,
                            "crops_per_track": 2, "val_crops_per_track": 2, **kw})
    config.features.crop_seconds = 1.0
    config.features.n_mels = 32
    return config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    return make_corpus(tmp_path_factory.mktemp("data"), genres=("ambient", "house", "jazz"),
                       per_split=(4, 2, 1), seconds=2.0, multi=True)


def _history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_two_epoch_single_label_run_writes_the_whole_run_folder(corpus) -> None:
    layout, rows = corpus
    result = train(layout, tiny_config(), run_name="smoke", progress=False)
    run_dir = result.run_dir
    assert run_dir == layout.runs / "smoke" and result.epochs_done == 2 and result.status == "finished"
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    assert any((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["task"] == "single" and saved["model"] == "baseline3" and saved["seed"] == 1234
    assert saved["threshold"] == 0.5 and saved["features"]["n_mels"] == 32
    assert saved["features"]["crop_samples"] == SR
    assert json.loads((run_dir / "labels.json").read_text()) == ["ambient", "house", "jazz"]
    history = _history(run_dir)
    assert [int(r["epoch"]) for r in history] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "crops_per_s"} <= set(history[0])
    assert float(history[1]["crops_per_s"]) > 0
    summary = json.loads((run_dir / "run.json").read_text())
    assert summary["tracks"] == {"train": 12, "validation": 6, "test": 3} and 0 <= summary["val_song_accuracy"] <= 1

    bundle = load_bundle(run_dir)
    assert bundle.labels == ["ambient", "house", "jazz"] and bundle.task == "single"
    assert bundle.crop_samples == SR and bundle.sample_rate == SR and bundle.threshold == 0.5
    cache, _ = build_cache(layout, rows, SR, progress=False)
    wave = cache.wave(rows[-1]["track_id"])
    crops = bundle.song_crops(wave)
    assert crops.shape == (2, SR)
    crop_probs = bundle.predict_crops(crops)
    song = bundle.predict_song(wave)
    assert song.shape == (3,) and song.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(song, crop_probs.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bundle.predict_crops(np.tile(crops, (20, 1)))[-2:], crop_probs, atol=1e-5)
    assert bundle.predict_song(wave[: SR // 3]).shape == (3,)  # shorter than a crop: padded

    # the same call again is a no-op: the run is finished
    again = train(layout, tiny_config(), run_name="smoke", progress=False)
    assert again.status == "finished" and len(_history(run_dir)) == 2


class SimulatedCrash(Exception):
    pass


class CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise SimulatedCrash("power cut")


def test_rerun_after_a_crash_continues_at_the_next_epoch(corpus) -> None:
    layout, _ = corpus
    config = tiny_config(epochs=3)
    with pytest.raises(SimulatedCrash):
        train(layout, config, run_name="crashy", progress=False, callbacks=[CrashAfterFirstEpoch()])
    run_dir = layout.runs / "crashy"
    assert [int(r["epoch"]) for r in _history(run_dir)] == [1]
    assert not (run_dir / "model.keras").exists()
    first_epoch = _history(run_dir)[0]

    result = train(layout, tiny_config(epochs=3), run_name="crashy", progress=False)
    assert result.resumed_from == 1 and result.epochs_done == 3
    history = _history(run_dir)
    assert [int(r["epoch"]) for r in history] == [1, 2, 3]
    assert history[0] == first_epoch  # the epoch before the crash is kept, not redone
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    checkpoint = keras.models.load_model(run_dir / "checkpoints" / state["checkpoint"])
    steps = (12 * 2) // 8
    assert int(checkpoint.optimizer.iterations.numpy()) == 3 * steps  # optimizer state carried over
    assert (run_dir / "model.keras").exists()

    with pytest.raises(UserError, match=r"other settings \(model: 'baseline3' -> 'cnn_bn'"):
        train(layout, tiny_config(epochs=3, model="cnn_bn"), run_name="crashy", progress=False)
    more = train(layout, tiny_config(epochs=4), run_name="crashy", resume=False, progress=False)
    assert more.resumed_from == 3 and more.epochs_done == 4


class CrashInFirstBatch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise SimulatedCrash("killed")


def test_a_run_killed_before_its_first_epoch_ends_starts_over(corpus) -> None:
    layout, _ = corpus
    with pytest.raises(SimulatedCrash):
        train(layout, tiny_config(epochs=1), run_name="early", progress=False, callbacks=[CrashInFirstBatch()])
    run_dir = layout.runs / "early"
    assert (run_dir / "config.json").exists() and not (run_dir / "checkpoints" / "state.json").exists()
    with pytest.raises(UserError, match="other settings"):
        train(layout, tiny_config(epochs=1, seed=3), run_name="early", progress=False)
    result = train(layout, tiny_config(epochs=1), run_name="early", progress=False)
    assert result.resumed_from is None and result.epochs_done == 1 and len(_history(run_dir)) == 1
    foreign = layout.runs / "foreign"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds no resumable run"):
        train(layout, tiny_config(), run_name="foreign", progress=False)


def test_multi_label_run_uses_sigmoid_outputs(corpus) -> None:
    layout, rows = corpus
    config = tiny_config(task="multi", epochs=1, model="cnn_bn", balance="sampling")
    config.augment.mixup_alpha = 0.3
    result = train(layout, config, run_name="multi", progress=False)
    bundle = load_bundle(result.run_dir)
    assert bundle.task == "multi" and bundle.labels == ["ambient", "house", "jazz"]
    assert bundle.model.get_layer("probabilities").get_config()["activation"] == "sigmoid"
    cache, _ = build_cache(layout, rows, SR, progress=False)
    probs = bundle.predict_crops(bundle.song_crops(cache.wave(rows[0]["track_id"]), 3))
    assert probs.shape == (3, 3) and np.all((probs > 0) & (probs < 1))
    history = _history(result.run_dir)[0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "val_auc", "val_song_accuracy"} <= set(history)


def test_cli_trains_prints_the_run_folder_and_fails_in_one_line(corpus, tmp_path: Path, capsys) -> None:
    layout, _ = corpus
    args = ["train", "--data", str(layout.root), "--run", "cli", "--model", "baseline3", "--width", "2",
            "--epochs", "1", "--batch-size", "8", "--crop-seconds", "1", "--n-mels", "32", "--seed", "5",
            "--crops-per-track", "1", "--no-augment", "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == str(layout.runs / "cli")
    saved = json.loads((layout.runs / "cli" / "config.json").read_text())
    assert saved["augment"]["enabled"] is False and saved["seed"] == 5 and saved["model"] == "baseline3"

    assert main(["train", "--data", str(tmp_path / "empty"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'empty' / 'manifests' / 'training.csv'} not found: run make manifest first"
    assert main(["train", "--data", str(layout.root), "--crop-seconds", "0.1", "-q"]) == 2
    assert "crop_seconds 0.1" in capsys.readouterr().err
    assert main(["train", "--data", str(layout.root), "--run", "nothing", "--resume", "-q"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_fresh_starts_a_run_over_and_overwrite_still_works_with_a_deprecation_line(corpus, capsys) -> None:
    layout, _ = corpus
    args = ["train", "--data", str(layout.root), "--run", "again", "--model", "baseline3", "--width", "2",
            "--epochs", "1", "--batch-size", "8", "--crop-seconds", "1", "--n-mels", "32",
            "--crops-per-track", "1", "--no-augment", "-q"]
    run = layout.runs / "again"

    def seed() -> int:
        return json.loads((run / "config.json").read_text())["seed"]

    assert main([*args, "--seed", "5"]) == 0 and seed() == 5
    capsys.readouterr()
    assert main([*args, "--seed", "6"]) == 2  # other settings in the same folder: refused ...
    assert "--fresh to start over" in capsys.readouterr().err
    assert main([*args, "--seed", "6", "--fresh"]) == 0 and seed() == 6  # ... unless started over
    assert "deprecated" not in capsys.readouterr().err
    assert main([*args, "--seed", "7", "--overwrite"]) == 0 and seed() == 7
    err = capsys.readouterr().err
    assert "warning: --overwrite is deprecated and will be removed; use --fresh" in err
    assert [int(r["epoch"]) for r in _history(run)] == [1]  # a new run, not a continued one
    assert main([*args, "--resume", "--fresh"]) == 2
    assert "--resume and --fresh contradict each other" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = capsys.readouterr().out
    assert "--fresh" in shown and "--overwrite" not in shown
