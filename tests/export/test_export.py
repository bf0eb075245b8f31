"""`training export`: SavedModel and ONNX exports that score like the run in a Python without the toolkit.

Every export is loaded in a fresh ``python -I -S`` with only TensorFlow's and onnxruntime's
site-packages on the path (the toolkit and Keras out of reach, checked there) and must give
the probabilities the toolkit gives in-process for the same samples, within 1e-4.  (A SavedModel
needs TensorFlow, which imports Keras, its own dependency; the export needs none of Keras'
custom objects, as the toolkit, which registers them, cannot be imported there.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from manifests.config import version
from manifests.errors import UserError
from manifests.hashing import sha256_file
from tests.training_eval.corpus import GENRES, tone
from training.cli import main
from training.export import exporter
from training.models.pretrained.registry import WEIGHTS_DIR
from training.runs.rundir import RunDir

from .conftest import score_standalone

TOL = 1e-4


def clips(seconds: float, seed: int) -> np.ndarray:
    """One clip per genre ``[3, samples]`` (rows of one batch share a length)."""
    rng = np.random.default_rng(seed)
    return np.stack([tone(g, seconds, rng) for g in GENRES])


@pytest.fixture(scope="module")
def cnn_savedmodel(cnn_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports") / "cnn-savedmodel"
    assert main(["export", str(cnn_run), "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def cnn_onnx(cnn_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exported over an older folder with --force: the old content is gone."""
    out = tmp_path_factory.mktemp("exports") / "cnn-onnx"
    out.mkdir()
    (out / "old-export.txt").write_text("old", encoding="utf-8")
    assert main(["export", str(cnn_run), "--format", "onnx", "--out", str(out), "--force", "-q"]) == 0
    return out


def _card(export: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((export / "model_card.json").read_text(encoding="utf-8"))
    return card


def _isolated(result: dict[str, object], fmt: str) -> None:
    """The toolkit was out of reach; with ONNX Keras too (TensorFlow itself imports Keras, its dependency)."""
    assert result["importable"] == {"training": False, "manifests": False}
    if fmt == "onnx":
        assert result["keras_loaded"] is False


def test_cnn_savedmodel_scores_like_the_run_without_the_toolkit(cnn_run: Path, cnn_savedmodel: Path,
                                                                 tmp_path: Path) -> None:
    from training.runs.bundle import load_bundle

    bundle = load_bundle(cnn_run)
    songs, short = clips(2.5, 1), clips(0.4, 2)[:1]  # 3 crops each; one shorter than a crop
    crops = np.concatenate([bundle.song_crops(w) for w in songs])
    result = score_standalone(tmp_path, cnn_savedmodel, "savedmodel", {
        "crops": ("serving_default", "", crops), "songs": ("song", "", songs), "short": ("song", "", short)})
    _isolated(result, "savedmodel")
    for name in ("serving_default", "song"):
        assert result["signatures"][name] == {"inputs": ["waveform"], "outputs": ["scores"]}
    np.testing.assert_allclose(result["scores"]["crops"], bundle.predict_crops(crops), atol=TOL)
    np.testing.assert_allclose(result["scores"]["songs"], [bundle.predict_song(w) for w in songs], atol=TOL)
    np.testing.assert_allclose(result["scores"]["short"], [bundle.predict_song(short[0])], atol=TOL)
    # the song entry is the mean of the crop entry over the documented crops
    per_song = np.asarray(result["scores"]["crops"]).reshape(len(songs), -1, len(GENRES)).mean(axis=1)
    np.testing.assert_allclose(result["scores"]["songs"], per_song, atol=TOL)


def test_cnn_onnx_scores_like_the_run_without_the_toolkit(cnn_run: Path, cnn_onnx: Path, tmp_path: Path) -> None:
    from training.runs.bundle import load_bundle

    assert not (cnn_onnx / "old-export.txt").exists()
    bundle = load_bundle(cnn_run)
    songs = clips(3.3, 4)
    crops = np.concatenate([bundle.song_crops(w) for w in songs])
    result = score_standalone(tmp_path, cnn_onnx, "onnx", {
        "crops": ("serving_default", "model.onnx", crops), "songs": ("song", "song.onnx", songs)})
    _isolated(result, "onnx")
    for file in ("model.onnx", "song.onnx"):
        meta = result["files"][file]
        assert meta["inputs"] == ["waveform"] and meta["outputs"] == ["scores"] and meta["opset"] >= 17
    np.testing.assert_allclose(result["scores"]["crops"], bundle.predict_crops(crops), atol=TOL)
    np.testing.assert_allclose(result["scores"]["songs"], [bundle.predict_song(w) for w in songs], atol=TOL)


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_probe_export_scores_like_the_probe_without_the_toolkit(fmt: str, probe_single: Path, probe_multi: Path,
                                                                tmp_path: Path) -> None:
    """Single-label probe (mean pooling) as a SavedModel, multi-label (max over 2 of 3 patches) as ONNX."""
    from training.runs.probe import load_probe

    run = probe_single if fmt == "savedmodel" else probe_multi
    out = tmp_path / "export"
    assert main(["export", str(run), "--format", fmt, "--out", str(out), "-q"]) == 0
    bundle = load_probe(RunDir(run))
    songs, short = clips(6.5, 6), clips(1.5, 7)[:1]  # three patches each; one shorter than a patch
    file = "model.onnx" if fmt == "onnx" else ""
    result = score_standalone(tmp_path, out, fmt, {"songs": ("serving_default", file, songs),
                                                   "short": ("serving_default", file, short)})
    _isolated(result, fmt)
    for name, waves in (("songs", songs), ("short", short)):
        want = np.stack([bundle.predict_wave(w)[0] for w in waves])
        np.testing.assert_allclose(result["scores"][name], want, atol=TOL)
    card = _card(out)
    assert card["kind"] == "probe" and card["task"] == bundle.task and card["crop"] is None
    assert [e["level"] for e in card["entries"]] == ["song"]
    pretrained = card["pretrained"]
    assert pretrained["licence"] == "ISC" and "Pons" in pretrained["attribution"]
    assert (out / "LICENSE-musicnn.txt").read_text() == (WEIGHTS_DIR / "LICENSE").read_text()
    patches = card["preprocessing"]["patches"]
    assert patches["max_patches"] == bundle.settings.max_patches and patches["samples"] == 48128
    if bundle.task == "multi":
        assert card["decision"]["thresholds"] == {g: bundle.threshold for g in bundle.labels}


def test_cnn_model_card_describes_the_run(cnn_run: Path, cnn_savedmodel: Path) -> None:
    run = RunDir(cnn_run)
    config, metrics = run.read_config(), run.read_metrics()
    card = _card(cnn_savedmodel)
    assert card["labels"] == run.read_labels() and card["task"] == "single" and card["kind"] == "cnn"
    assert card["format"] == "savedmodel" and card["sample_rate"] == 16000
    assert card["decision"] == {"rule": "argmax: the label with the highest probability", "thresholds": None}
    assert card["crop"] == {"samples": config.features.crop_samples, "seconds": 1.0}
    pre = card["preprocessing"]
    assert (pre["stft"]["n_fft"], pre["stft"]["hop_length"], pre["mel"]["n_mels"]) == (
        config.features.n_fft, config.features.hop_length, config.features.n_mels)
    card_metrics = card["metrics"]
    assert card_metrics["song"]["accuracy"] == metrics["song"]["accuracy"]
    assert card_metrics["crop"]["accuracy"] == metrics["crop"]["accuracy"]
    assert card_metrics["split"] == "test" and card_metrics["n_tracks"] == metrics["n_tracks"]
    identity = card["run"]
    assert identity["name"] == "cnn-single" and identity["trained_file_sha256"] == sha256_file(run.model_file)
    assert identity["config"] == config.to_dict()
    assert card["toolkit"] == {"name": "genre-dataset-toolkit", "version": version()}
    assert card["pretrained"] is None
    assert [(e["name"], e["level"], e["input_shape"]) for e in card["entries"]] == [
        ("serving_default", "crop", [None, 16000]), ("song", "song", [None, None])]
    assert "signatures['song']" in card["usage"]["python"]
    assert max(card["verification"]["max_abs_difference"].values()) <= TOL
    readme = (cnn_savedmodel / "README.md").read_text(encoding="utf-8")
    assert ", ".join(GENRES) in readme and "tf.saved_model.load('saved_model')" in readme


# ---------------------------------------------------------------- bad input: one line, exit 2, nothing written

def _one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, "nope", "--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert "nope" in err and "not a run folder" in err
    assert not (tmp_path / "out").exists()


def test_unfinished_run(cnn_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "unfinished"
    run.mkdir()
    shutil.copy(cnn_run / "config.json", run)
    err = _one_line_error(capsys, str(run), "--out", str(tmp_path / "out"))
    assert "unfinished" in err and "model.keras" in err
    assert not (tmp_path / "out").exists()


def test_existing_out_is_refused_without_force(cnn_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep", encoding="utf-8")
    err = _one_line_error(capsys, str(cnn_run), "--out", str(out))
    assert str(out) in err and "--force" in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_unknown_format(cnn_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, str(cnn_run), "--format", "tflite", "--out", str(tmp_path / "out"))
    assert "'tflite'" in err and "savedmodel" in err and "onnx" in err
    assert not (tmp_path / "out").exists()


def test_a_failed_export_leaves_nothing_and_keeps_the_old_one(cnn_run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The files go into a hidden folder renamed into place at the end: a failure half way removes it.

    An export killed earlier (SIGKILL: no cleanup) left its hidden folder; the next export into
    the same place removes it.
    """
    def half_written(plan: object, folder: Path) -> list[str]:
        (folder / "saved_model").mkdir()
        (folder / "saved_model" / "saved_model.pb").write_bytes(b"partial")
        raise UserError("the disk went away")

    monkeypatch.setattr(exporter, "_write_savedmodel", half_written)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old", encoding="utf-8")
    killed = tmp_path / ".out.partial-killed"  # what an export killed earlier left
    killed.mkdir()
    (killed / "model.onnx").write_bytes(b"half")
    with pytest.raises(UserError, match="the disk went away"):
        exporter.export_run(RunDir(cnn_run), out, "savedmodel", force=True)
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".out.export.lock"))
    assert left == ["out"]  # neither this export's staging folder nor the killed one's


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_a_full_size_architecture_exports_within_tolerance(fmt: str, tmp_path: Path) -> None:
    """``cnn_bn`` as the trainer builds it (pitch shift in the front end, batch norm, TimePool), multi-label.

    Untrained weights are enough: the export must compute what the model computes. The
    export's own check (loading the written files back) is what is asserted here.
    """
    import keras

    from training.config import FeatureConfig, TrainConfig
    from training.models.cnn import build_model

    config = TrainConfig(model="cnn_bn", task="multi", width=4, threshold=0.4, seed=3,
                         features=FeatureConfig(crop_seconds=1.0, n_mels=32))
    keras.utils.set_random_seed(3)
    run = RunDir(tmp_path / "cnn-bn")
    run.path.mkdir()
    build_model(config, len(GENRES)).save(run.model_file)
    run.write_config(config)
    run.write_labels(list(GENRES))
    result = exporter.export_run(run, tmp_path / "out", fmt)
    card = result.card
    assert set(card["verification"]["max_abs_difference"]) == {"serving_default", "song"}
    assert max(card["verification"]["max_abs_difference"].values()) <= TOL
    assert card["decision"]["thresholds"] == {g: 0.4 for g in GENRES}
    assert card["metrics"] is None and card["pretrained"] is None
    model_files = ["saved_model"] if fmt == "savedmodel" else ["model.onnx", "song.onnx"]
    assert sorted(result.files) == sorted([*model_files, "model_card.json", "README.md"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(result.files)
