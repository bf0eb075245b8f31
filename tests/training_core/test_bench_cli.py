"""The benchmark runs end to end on its own audio; presets and options map onto the config."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.commands.train import config_from_args, register
from training.config import PRESETS, preset

REPO = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["train", *argv])


def test_presets_and_options_build_the_config() -> None:
    config = config_from_args(_parse(["--preset", "cpu", "--epochs", "3", "--mixup", "0", "--no-noise"]))
    assert (config.model, config.width, config.epochs) == ("cnn_bn", 16, 3)
    assert (config.features.n_mels, config.features.n_fft, config.features.hop_length) == (64, 1024, 512)
    assert config.augment.mixup_alpha == 0 and config.augment.noise_prob == 0 and config.augment.enabled
    plain = config_from_args(_parse(["--task", "multi", "--crop-seconds", "3.7", "--no-augment"]))
    assert plain.task == "multi" and plain.features.crop_seconds == 3.7 and not plain.augment.enabled
    assert plain.features.n_mels == 128 and plain.model == "cnn_bn"  # documented defaults
    for name in PRESETS:
        preset(name).validate()


def test_from_config_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    preset("gpu").save(path)
    config = config_from_args(_parse(["--config", str(path), "--width", "8"]))
    assert config.model == "shortchunk" and config.width == 8 and config.features.crop_seconds == 3.69
    with pytest.raises(SystemExit):
        _parse(["--config", str(path), "--preset", "cpu"])


def test_help_is_fast_and_imports_no_keras() -> None:
    code = ("import sys; from training.cli import main\n"
            "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'heavy import'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--crop-seconds" in done.stdout and "--resume" in done.stdout


def test_bench_writes_its_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.bench import main

    out = tmp_path / "bench.json"
    argv = ["--data", str(tmp_path), "--tracks", "20", "--seconds", "4.5", "--batches", "2", "--steps", "2",
            "--naive-crops", "3", "--rounds", "1", "--width", "4", "--embed-tracks", "2", "--probe-tracks", "60",
            "--out", str(out), "-q"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "crops/s" in table and "speed-up vs naive" in table and str(out) in table
    result = json.loads(out.read_text())
    for key in ("pipeline_crops_per_s", "pipeline_no_augment_crops_per_s", "naive_librosa_crops_per_s",
                "train_steps_per_s", "cache_resident_vs_int16", "speedup_no_augment_vs_naive"):
        assert result[key] > 0, key
    assert result["tracks"] == 20 and result["memory_mapped"] is True
    assert "embedding, back-to-back patches" in table and "linear probe on 60 cached tracks" in table
    for key in ("embed_back_to_back_x_real_time", "embed_half_overlap_x_real_time", "probe_fit_s"):
        assert result[key] > 0, key
    assert result["embed_half_overlap_patches"] > result["embed_back_to_back_patches"] > 0
    assert not any(tmp_path.glob("genre-bench-*"))  # generated audio is cleaned up
    assert main(["--data", str(tmp_path), "--tracks", "3", "-q"]) == 2


def test_the_gpu_suite_times_both_models_on_this_device(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``make bench-gpu`` on a machine without an accelerator: the same code, CPU numbers, every field filled."""
    import tempfile

    from training.bench import main

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    out = tmp_path / "gpu.json"
    argv = ["--gpu-suite", "--data", str(tmp_path), "--tracks", "20", "--seconds", "5", "--steps", "2",
            "--batch-size", "4", "--workers", "1", "--out", str(out), "-q"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "samples/s" in table and "input wait" in table and str(out) in table
    result = json.loads(out.read_text())
    assert result["device"].startswith("cpu") and result["batch_size"] == 4 and result["workers"] == 1
    assert set(result["models"]) == {"cnn", "musicnn fine-tune"}
    for name, numbers in result["models"].items():
        assert numbers["samples_per_s"] > 0 and numbers["producer_one_thread_samples_per_s"] > 0, name
        assert 0 <= numbers["input_wait_share"] <= 1, name
        assert numbers["peak_rss_mb"] > 0 and numbers["parameters"] > 0, name
        assert numbers["peak_device_memory_mb"] is None, name  # no accelerator: the process's memory only
    assert result["models"]["musicnn fine-tune"]["model"] == "musicnn"
    assert not list(temporary.iterdir())  # the generated corpus and its cache are removed
