"""Many clients at once on a real uvicorn server: right answers, one model, never run twice at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Served

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", "GENRE_ENV_FILE": ""}


def test_eight_clients_at_once_get_their_own_right_answers(served: Served, songs: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from training.serve.app import create_app
    from training.serve.server import ServerThread

    model = served.worker.model
    active, most, threads = 0, 0, set()
    lock = threading.Lock()
    real = model.predict_waves

    def watched(waves: Any) -> Any:  # how many model calls run at the same time, and on which threads
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
            threads.add(threading.current_thread().name)
        try:
            return real(waves)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(model, "predict_waves", watched)
    files = [songs[g] for g in ("ambient", "chiptune", "noise", "mp3")] * 2
    with ServerThread(create_app(served.worker)) as url, httpx.Client(base_url=url, timeout=60) as http:
        def ask(path: Path) -> dict[str, Any]:
            with open(path, "rb") as handle:
                response = http.post("/api/predict", files={"file": (path.name, handle)})
            assert response.status_code == 200, response.text
            return {g["genre"]: g["score"] for g in response.json()["genres"]}

        alone = {path: ask(path) for path in files[:4]}  # one at a time first
        start = threading.Barrier(8)

        def together(path: Path) -> dict[str, Any]:
            start.wait()
            return ask(path)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(together, files))
    for path, answer in zip(files, answers, strict=True):
        assert answer.keys() == alone[path].keys()
        for genre, score in answer.items():
            assert score == pytest.approx(alone[path][genre], abs=1e-5), path.name
    assert served.loads == [str(served.run)]  # loaded once, at start
    assert most == 1 and threads == {"model-worker"}


def test_a_closed_worker_answers_503_instead_of_hanging(served: Served, songs: dict[str, Path]) -> None:
    from fastapi.testclient import TestClient

    from training.serve.app import create_app
    from training.serve.model import ModelWorker

    worker = ModelWorker(served.worker.model)
    worker.close()
    with open(songs["noise"], "rb") as handle:
        response = TestClient(create_app(worker)).post("/api/predict", files={"file": ("noise.wav", handle)})
    assert response.status_code == 503 and response.json() == {"detail": "the server is shutting down"}


def test_serve_command_prints_its_url_and_answers(served: Served, songs: dict[str, Path]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "training", "serve", "tiny", "--data", str(served.layout.root),
                             "--port", "0", "--max-seconds", "30"], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        url = match.group(1)
        assert "serving run tiny (cnn_bn, single-label, 3 genres)" in line
        with httpx.Client(base_url=url, timeout=60) as http:
            assert http.get("/api/model").json()["limits"]["max_seconds"] == 30
            with open(songs["chiptune"], "rb") as handle:
                body = http.post("/api/predict", files={"file": ("chip.wav", handle)}).json()
            assert body["predicted"] == ["chiptune"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_serve_command_refuses_a_missing_run(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    from training.cli import main

    assert main(["serve", "nope", "--data", str(served.layout.root), "--port", "0"]) == 2
    assert "nope: not a run folder" in capsys.readouterr().err
