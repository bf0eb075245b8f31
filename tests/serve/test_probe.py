"""A linear-probe run served: musicnn patches, the same song scores as `training predict`, a timeline per patch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from manifests.hashing import sha256_file
from tests.training_eval.corpus import GENRES, RATE, make_corpus, tone


@pytest.fixture(scope="module")
def probe_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from training.cli import main
    from training.runs.rundir import RunDir
    from training.serve.model import ModelWorker, ServedModel

    layout = make_corpus(tmp_path_factory.mktemp("probe-data"), {"train": 6, "validation": 2, "test": 1},
                         seconds=5.0, seed=5)
    assert main(["train", "--model", "probe", "--data", str(layout.root), "--run", "probe", "-q"]) == 0
    worker = ModelWorker(ServedModel(RunDir(layout.runs / "probe")))
    try:
        yield worker
    finally:
        worker.close()


def test_probe_run_scores_match_predict_and_have_one_row_per_patch(probe_worker: object, tmp_path: Path) -> None:
    from training.runs.predict import predict_file
    from training.serve.app import create_app
    from training.serve.model import ModelWorker

    assert isinstance(probe_worker, ModelWorker)
    song = tmp_path / "noise.wav"
    sf.write(song, tone("noise", 7.0, np.random.default_rng(9)), RATE, subtype="PCM_16")
    with open(song, "rb") as handle:
        response = TestClient(create_app(probe_worker)).post("/api/predict", files={"file": (song.name, handle)})
    assert response.status_code == 200, response.text
    body = response.json()
    model = probe_worker.model
    assert body["model"]["kind"] == "probe (musicnn-MSD penultimate, mean pooling)"
    assert body["model"]["sha256"] == sha256_file(model.run.probe_file) and body["labels"] == list(GENRES)
    expected = predict_file(model.bundle, song, 3)
    scores = {g["genre"]: g["score"] for g in body["genres"]}
    for genre, p in expected.probabilities.items():
        assert scores[genre] == pytest.approx(p, abs=1e-5)
    crops = body["crops"]
    # 7 s in half-overlapping 3-s patches: every patch scored on its own, each a distribution
    assert crops["unit"] == "patches" and len(crops["scores"]) == expected.n_crops >= 3
    assert np.allclose(np.sum(crops["scores"], axis=1), 1.0, atol=1e-5)
    assert crops["starts_s"] == sorted(crops["starts_s"]) and crops["ends_s"][-1] <= body["duration_s"] + 1e-3
