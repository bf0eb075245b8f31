"""A small data folder with everything the review app shows, and the app over it (TestClient, real server)."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from labeling.cli import main as labeling_main
from labeling.review.app import create_app
from manifests.layout import Layout
from manifests.listen import bind, url_of
from tests.fixtures.corpus import SR, claim_row, download_row, split_row, track_row, write_tables
from tests.fixtures.waiting import wait_until

#: The origin TestClient requests come from (the Host the app sees).
ORIGIN = "http://127.0.0.1:8765"
RUNNER_UP = "aaaaaaaaaaa"
CHOSEN = "bbbbbbbbbbb"

#: (track_id, title, artist, raw genre, split, seconds of audio or None, match score)
TRACKS = [
    ("rv-blues1", "Crossroad Tune", "Muddy Creek", "Blues", "train", 4.0, 0.95),
    ("rv-jazz1", "Blue Night", "Ella Stone", "Jazz", "train", 4.0, 0.93),
    ("rv-jazz2", "So What Now", "Miles Away", "Jazz", "test", 4.0, 0.88),
    ("rv-metal1", "Iron Rain", "Steel Pulse", "Metal", "validation", 4.0, 0.81),
    ("rv-rock1", "Highway Song", "The Rollers", "Rock", "train", 4.0, 0.90),
    ("rv-rock2", "Stone Wall", "The Rollers", "Rock", "test", 4.0, 0.52),
    ("rv-rock3", "Garage Days", "Fuzz Box", "Rock", "train", 4.0, 0.77),
    ("rv-nomatch", "Lost Tape", "Nobody Known", "Rock", "", None, None),
]


def tone(seconds: float, hz: float) -> np.ndarray:
    """A little tune rooted at ``hz``: a plucked arpeggio with overtones over a ticking hi-hat
    (something worth looking at in the spectrogram and the README's screenshot)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    step = int(0.25 * SR)
    out = np.zeros(n)
    for index, start in enumerate(range(0, n, step)):
        f = hz * (1.0, 1.25, 1.5, 2.0)[index % 4]
        local = t[start:start + step] - t[start]
        note = sum(np.sin(2 * np.pi * f * k * local) / k for k in (1, 2, 3, 4))
        out[start:start + step] = 0.25 * np.exp(-6 * local) * note
    clicks = np.random.default_rng(int(hz)).normal(0, 0.05, n) * (np.mod(t, 0.5) < 0.03)
    return (out + clicks).astype(np.float32)


def build_review_folder(root: Path) -> Layout:
    """Tracks, claims, resolved labels, downloads (WAVs of a few seconds), splits, an audit's flagged.csv,
    an audio-disagreement report and an evaluated run's predictions.csv."""
    layout = Layout.at(root)
    tracks, claims, downloads, splits = [], [], [], []
    for n, (track_id, title, artist, genre, split, seconds, score) in enumerate(TRACKS):
        tracks.append(track_row(track_id, title, [artist]))
        claims.append(claim_row(track_id, "playlist", genre, evidence=f"pl-{genre.lower()}"))
        if n % 2:
            claims.append(claim_row(track_id, "musicbrainz", genre, 0.8, evidence=f"mb-{track_id}",
                                    detail="4 votes"))
        if seconds is None:
            downloads.append(download_row(layout, track_id, "no_match"))
        else:
            downloads.append(download_row(layout, track_id, samples=tone(seconds, 220.0 * (1 + n)),
                                          match_score=score, youtube_id=CHOSEN, runner_up_id=RUNNER_UP,
                                          runner_up_score=round(score - 0.1, 3),
                                          match_detail={"title": 1.0, "artist": 0.9, "duration": 0.8}))
        if split:
            splits.append(split_row(track_id, split))
    write_tables(layout, tracks=tracks, claims=claims, downloads=downloads, splits=splits)
    assert labeling_main(["resolve", "--data", str(root), "-q"]) == 0
    audit = root / "reports" / "audit"
    audit.mkdir(parents=True)
    with open(audit / "flagged.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track_id", "check", "severity", "detail", "title", "artists", "split", "youtube_url"])
        writer.writerow(["rv-rock2", "low_match_score", "warning", "match score 0.52", "Stone Wall", "", "test", ""])
        writer.writerow(["rv-metal1", "duration_outlier", "warning", "decoded 4 s", "Iron Rain", "", "", ""])
        writer.writerow(["", "file_problem", "error", "about a file, not a track", "", "", "", ""])
    with open(audit / "audio_disagreement.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track_id", "given", "suspected_genre", "score"])
        writer.writerow(["rv-rock3", "rock", "jazz", "0.81"])
    run = root / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "predictions.csv").write_text(
        "track_id,title,artists,true,predicted,correct,confidence,prob_jazz,prob_rock\n"
        "rv-jazz2,So What Now,Miles Away,jazz,rock,false,0.7000,0.3000,0.7000\n"
        "rv-rock2,Stone Wall,The Rollers,rock,rock,true,0.9000,0.1000,0.9000\n", encoding="utf-8")
    return layout


@pytest.fixture
def review_folder(tmp_path: Path) -> Layout:
    return build_review_folder(tmp_path / "data")


@pytest.fixture
def app_client(review_folder: Layout) -> Iterator[TestClient]:
    app = create_app(review_folder, run=review_folder.root / "runs" / "r1")
    with TestClient(app, base_url=ORIGIN) as client:
        client.headers.update({"Origin": ORIGIN, "X-CSRF-Token": app.state.csrf})
        yield client


@pytest.fixture
def live_url(review_folder: Layout) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a free port), in a thread, for the browser tests."""
    app = create_app(review_folder, run=review_folder.root / "runs" / "r1")
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20)
    try:
        yield url_of(sock).rstrip("/")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def ro_folder(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """One folder for the tests that only read (built once per module: resolve takes a moment)."""
    return build_review_folder(tmp_path_factory.mktemp("review") / "data")


@pytest.fixture(scope="module")
def ro_client(ro_folder: Layout) -> Iterator[TestClient]:
    app = create_app(ro_folder, run=ro_folder.root / "runs" / "r1")
    with TestClient(app, base_url=ORIGIN) as client:
        client.headers.update({"Origin": ORIGIN, "X-CSRF-Token": app.state.csrf})
        yield client
