"""The JSON API: the same answer as `training predict`, the model's own description, offline docs, limits."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from manifests.hashing import sha256_file
from tests.training_eval.corpus import GENRES

from .conftest import Served


def client(served: Served, **limits: Any) -> TestClient:
    from training.serve.app import create_app
    from training.serve.media import Limits

    return TestClient(create_app(served.worker, Limits(**limits)))


def post(api: TestClient, path: Path, query: str = "", name: str | None = None) -> Any:
    with open(path, "rb") as handle:
        return api.post(f"/api/predict{query}", files={"file": (name or path.name, handle, "application/octet-stream")})


def test_predict_gives_the_same_scores_as_predict_in_process(served: Served, songs: dict[str, Path]) -> None:
    from training.runs.predict import predict_file

    api = client(served)
    for genre in ("ambient", "chiptune", "noise", "mp3"):
        response = post(api, songs[genre], "?top=2")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["file"] == songs[genre].name and body["task"] == "single" and body["labels"] == list(GENRES)
        scores = {g["genre"]: g["score"] for g in body["genres"]}
        assert set(scores) == set(GENRES) and sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert [g["score"] for g in body["genres"]] == sorted(scores.values(), reverse=True)
        assert body["top"] == body["genres"][:2] and body["predicted"] == [body["genres"][0]["genre"]]
        # the tiny model learned the tones
        assert body["predicted"] == ["chiptune" if genre == "mp3" else genre]
        expected = predict_file(served.worker.model.bundle, songs[genre], 3)
        assert body["duration_s"] == pytest.approx(expected.duration_s, abs=1e-3)
        for label, p in expected.probabilities.items():
            assert scores[label] == pytest.approx(p, abs=1e-5)
        # per-crop scores: 1 s crops covering all of the 3.5 s, each a distribution, their mean is the song
        crops = body["crops"]
        assert crops["unit"] == "crops" and len(crops["scores"]) == expected.n_crops == math.ceil(expected.duration_s)
        assert crops["starts_s"][0] == 0 and crops["ends_s"][-1] == pytest.approx(body["duration_s"], abs=1e-3)
        mean = np.mean(np.asarray(crops["scores"]), axis=0)
        assert np.allclose(mean, [expected.probabilities[g] for g in GENRES], atol=1e-5)
    model = body["model"]
    assert model["run"] == "tiny" and model["kind"] == "cnn_bn" and model["labels"] == list(GENRES)
    assert model["sha256"] == sha256_file(served.run / "model.keras") and model["created"].endswith("Z")


def test_spectrogram_image_on_request(served: Served, songs: dict[str, Path]) -> None:
    api = client(served)
    plain = post(api, songs["noise"]).json()
    assert "spectrogram_png" not in plain
    body = post(api, songs["noise"], "?spectrogram=true").json()
    prefix = "data:image/png;base64,"
    assert body["spectrogram_png"].startswith(prefix)
    assert base64.b64decode(body["spectrogram_png"][len(prefix):])[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_description(served: Served) -> None:
    body = client(served, max_upload_bytes=10 * 2**20, max_seconds=60).get("/api/model").json()
    metrics = json.loads((served.run / "metrics.json").read_text())
    assert body["metrics"] == metrics and body["model"]["labels"] == list(GENRES)
    assert body["thresholds"]["task"] == "single"
    assert body["features"]["crop_seconds"] == 1.0 and body["features"]["sample_rate"] == 16000
    # the test split had 2 tracks per genre
    assert body["training_data"]["evaluated_tracks_per_genre"] == {g: 2 for g in GENRES}
    assert body["limits"] == {"max_upload_mb": 10, "max_seconds": 60}


def test_openapi_and_docs_work_offline(served: Served) -> None:
    api = client(served)
    spec = api.get("/openapi.json").json()
    assert {"/api/predict", "/api/model"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"413", "415", "422"} <= set(spec["paths"]["/api/predict"]["post"]["responses"])
    for page in ("/docs", "/"):
        html = api.get(page).text
        assert "/api/predict" in html or "static/app.js" in html
        assert "https://" not in html and "cdn" not in html.lower()  # nothing loads from elsewhere
    assert api.get("/static/app.js").status_code == 200 and api.get("/static/app.css").status_code == 200


def _chunked(path: Path) -> Iterator[bytes]:
    """A multipart body sent without a Content-Length: only counting the bytes can stop it."""
    yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    data = path.read_bytes()
    for first in range(0, len(data), 65536):
        yield data[first:first + 65536]
    yield b"\r\n--b--\r\n"


def test_limits_and_bad_uploads_get_one_line_json_errors(served: Served, songs: dict[str, Path],
                                                         tmp_path: Path) -> None:
    api = client(served, max_upload_bytes=170_000, max_seconds=4.0)
    big, edge = tmp_path / "big.wav", tmp_path / "edge.wav"
    sf.write(big, np.zeros(300_000, np.float32), 16000, subtype="PCM_16")  # 600 kB: refused while it arrives
    sf.write(edge, np.zeros(100_000, np.float32), 16000, subtype="PCM_16")  # 200 kB: within the form's slack
    cases = {
        "big": (post(api, big), 413, "upload larger than the 0.162 MB limit"),
        "edge": (post(api, edge), 413, "edge.wav: upload larger than the 0.162 MB limit"),
        "long": (post(api, songs["long"]), 413, "long.wav: longer than the 4 s limit"),  # 5 s in 160 kB
        "text": (post(api, songs["text"]), 415, "notes.mp3: not audio ffmpeg can decode"),
        "chunked": (api.post("/api/predict", content=_chunked(big), headers={
            "content-type": "multipart/form-data; boundary=b"}), 413, "upload larger than the 0.162 MB limit"),
        "missing": (api.post("/api/predict", data={"other": "x"}), 422, "file: Field required"),
        "empty": (api.post("/api/predict", files={"file": ("empty.wav", b"", "audio/wav")}), 422,
                  "empty.wav: the file is empty"),
        "bad top": (post(api, songs["noise"], "?top=0"), 422, "top:"),
    }
    for name, (response, status, message) in cases.items():
        assert response.status_code == status, (name, response.text)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and message in detail, (name, detail)
    # the server still answers after all that
    assert post(api, songs["noise"]).status_code == 200
