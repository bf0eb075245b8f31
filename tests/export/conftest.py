"""Fixtures: tiny finished runs of each kind (CNN single-label evaluated, linear probes) and the isolated scorer.

The CNN runs are the evaluation tests' tiny real Keras runs (LogMel -> time average -> Dense,
:func:`tests.training_eval.conftest.make_run`), fitted for two epochs: the export only has to
reproduce what the run predicts, not to be good.  The probe runs hold real probes fitted on real
musicnn-MSD embeddings of a few generated clips, written as ``train --model probe`` writes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from manifests import Layout
from tests.training_eval.conftest import make_run
from tests.training_eval.corpus import GENRES, make_corpus, tone

SCORER = Path(__file__).resolve().parent / "standalone.py"


@pytest.fixture(scope="package")
def export_corpus(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    return make_corpus(tmp_path_factory.mktemp("export-data"), {"train": 4, "validation": 1, "test": 2},
                       seconds=2.0, seed=3)


@pytest.fixture(scope="package")
def cnn_run(export_corpus: Layout) -> Path:
    """A finished single-label CNN run, evaluated (so its card has metrics)."""
    from training.cli import main

    run = make_run(export_corpus.runs / "cnn-single", export_corpus, "single", epochs=2)
    assert main(["evaluate", str(run), "--data", str(export_corpus.root), "--no-baseline", "-q"]) == 0
    return run


@pytest.fixture(scope="package")
def probe_features() -> tuple[np.ndarray, list[str]]:
    """musicnn-MSD embeddings (the default recipe) of two generated 3.5-s clips per genre, and their genres."""
    from training.data.embeddings import EmbeddingSettings
    from training.runs.embed import Embedder

    rng = np.random.default_rng(5)
    genres = [g for g in GENRES for _ in range(2)]
    embedder = Embedder(EmbeddingSettings())
    return np.stack([embedder.embed_wave(tone(g, 3.5, rng))[0] for g in genres]), genres


def make_probe_run(run_dir: Path, task: str, pooling: str, max_patches: int | None,
                   probe_features: tuple[np.ndarray, list[str]]) -> Path:
    """A probe run folder (config, labels, probe.npz) as ``train --model probe`` writes it.

    Both probes are fitted on the same mean-pooled embeddings whatever their pooling says (one
    embedding pass for the tests): the export has to compute what the run computes, which
    does not depend on what the coefficients were fitted on.
    """
    from training.config import PROBE, ProbeConfig, TrainConfig
    from training.runs.probe import fit_probe
    from training.runs.rundir import RunDir

    probe_config = ProbeConfig(pooling=pooling, max_patches=max_patches, c_grid=(1.0,))
    config = TrainConfig(model=PROBE, task=task, seed=5, probe=probe_config)
    features, genres = probe_features
    if pooling == "meanstd":
        features = np.concatenate([features, np.abs(features)], axis=1)
    labels = [*GENRES, "silence"] if task == "multi" else list(GENRES)
    if task == "single":
        truth: np.ndarray = np.array([GENRES.index(g) for g in genres])
    else:  # one genre never present: the probe gives it a constant probability
        truth = np.array([[g == label for label in labels] for g in genres], dtype=np.int64)
        truth[0, 1] = 1  # and an ambient clip that is chiptune too
    probe, _ = fit_probe(features, truth, task, len(labels), probe_config, seed=5)
    run = RunDir(run_dir)
    run.path.mkdir(parents=True)
    run.write_config(config)
    run.write_labels(labels)
    run.probe_file.write_bytes(probe.to_bytes())
    return run_dir


@pytest.fixture(scope="package")
def probe_single(tmp_path_factory: pytest.TempPathFactory, probe_features: tuple[np.ndarray, list[str]]) -> Path:
    """Mean and standard deviation over every patch."""
    return make_probe_run(tmp_path_factory.mktemp("runs") / "probe-single", "single", "meanstd", None,
                          probe_features)


@pytest.fixture(scope="package")
def probe_multi(tmp_path_factory: pytest.TempPathFactory, probe_features: tuple[np.ndarray, list[str]]) -> Path:
    """Max pooling over at most 2 of the 3 patches: the other patching and pooling paths."""
    return make_probe_run(tmp_path_factory.mktemp("runs") / "probe-multi", "multi", "max", 2, probe_features)


def site_packages() -> list[str]:
    """The folders TensorFlow and onnxruntime are installed in (not the project: it is a .pth entry)."""
    import onnxruntime  # type: ignore[import-untyped]
    import tensorflow

    return sorted({str(Path(m.__file__).resolve().parents[1]) for m in (tensorflow, onnxruntime)})


def score_standalone(tmp_path: Path, export: Path, fmt: str, calls: dict[str, tuple[str, str, np.ndarray]]
                     ) -> dict[str, Any]:
    """Score ``calls`` (name -> (entry, file, waves)) with the export in a fresh isolated Python; its JSON."""
    work = tmp_path / "standalone"
    work.mkdir()
    listed = []
    for name, (entry, file, waves) in calls.items():
        np.save(work / f"{name}.npy", waves.astype(np.float32))
        listed.append({"name": name, "entry": entry, "file": file, "input": str(work / f"{name}.npy")})
    spec = {"format": fmt, "path": str(export / "saved_model") if fmt == "savedmodel" else str(export),
            "site_packages": site_packages(), "calls": listed}
    (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(work)}
    done = subprocess.run([sys.executable, "-I", "-S", str(SCORER), str(work / "spec.json")], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
