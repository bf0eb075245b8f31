"""A tiny generated data folder: distinct synthetic tones per genre, a real training manifest.

Each genre has its own sound (low hum, bright harmonic tone, noise bursts), each track a
random pitch/level/noise, and artists never cross splits unless a test asks for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from manifests import Layout
from tests.fixtures.corpus import training_row, write_tables

RATE = 16000
GENRES = ("ambient", "chiptune", "noise")


def tone(genre: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    if genre == "ambient":  # low, smooth, slowly swelling
        f = rng.uniform(90, 160)
        wave = np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    elif genre == "chiptune":  # bright square-ish tone with fast notes
        f = rng.uniform(600, 1200) * (1 + (np.floor(t * 8) % 3) / 4)
        wave = np.sign(np.sin(2 * np.pi * f * t)) * 0.5
    else:  # bursts of filtered noise
        env = (np.sin(2 * np.pi * rng.uniform(2, 4) * t) > 0).astype(float)
        wave = rng.standard_normal(t.size) * env * 0.4
    wave = wave * rng.uniform(0.3, 0.8) + rng.standard_normal(t.size) * 0.01
    return np.clip(wave, -1, 1).astype(np.float32)


def make_corpus(root: Path, per_genre: dict[str, int] | None = None, seconds: float = 2.0, seed: int = 0,
                shared_artist: str | None = None, genres: tuple[str, ...] = GENRES,
                random_labels: bool = False) -> Layout:
    """Write audio/*.wav and manifests/training.csv; tracks per genre and split from ``per_genre``.

    ``shared_artist`` puts that artist on one train track and one test track (a leak).
    ``random_labels`` shuffles the genre labels so nothing can be learned.
    """
    per_genre = per_genre or {"train": 6, "validation": 1, "test": 3}
    layout = Layout.at(root)
    layout.audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for split, count in per_genre.items():
        for genre in genres:
            for k in range(count):
                track_id = f"t{split[:2]}{genre[:3]}{k:03d}"
                rows.append(training_row(layout, track_id, tone(genre, seconds, rng), genres={genre: 1.0},
                                         split=split, title=f"{genre} song {k}", rate=RATE,
                                         artists=[f"{split} {genre} artist {k % 2}"]))
    if random_labels:
        shuffled = rng.permutation([r["top_genre"] for r in rows])
        for row, genre in zip(rows, shuffled, strict=True):
            row["top_genre"], row["genres"] = str(genre), {str(genre): 1.0}
    if shared_artist:
        train = next(r for r in rows if r["split"] == "train")
        test = next(r for r in rows if r["split"] == "test")
        train["artists"] = [shared_artist]
        test["artists"] = ["Someone Else", shared_artist.upper() + "!"]  # same artist once normalised
    write_tables(layout, training=rows)
    return layout
