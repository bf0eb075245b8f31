"""A tiny, fast, generated corpus for the trainer's tests: WAVs written with numpy plus a training table.

Each genre is a recognisable signal (a low drone, a bright tone, clicks at a
tempo, ...) so two epochs of a tiny model already separate them a little; the
tests check mechanics, not accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from manifests.layout import Layout
from tests.fixtures.corpus import training_row, write_tables

SR = 16000
GENRES = ("ambient", "house", "metal", "jazz")


def genre_signal(genre: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    if genre == "ambient":  # slow low drone
        f = rng.uniform(80, 120)
        y = 0.4 * np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))
    elif genre == "house":  # four-on-the-floor thumps
        y = np.zeros_like(t)
        period = int(SR * 60 / rng.uniform(120, 128))
        kick = np.sin(2 * np.pi * 60 * np.arange(1600) / SR) * np.exp(-np.arange(1600) / 300)
        for start in range(0, len(t) - 1600, period):
            y[start: start + 1600] += 0.8 * kick
    elif genre == "metal":  # loud broadband noise
        y = 0.5 * np.tanh(3 * rng.standard_normal(len(t)))
    else:  # bright tones
        f = rng.uniform(1500, 2500)
        y = 0.3 * np.sin(2 * np.pi * f * t) + 0.1 * np.sin(2 * np.pi * 1.5 * f * t)
    y = y + 0.01 * rng.standard_normal(len(t))
    return np.clip(y, -1, 1).astype(np.float32)


def make_corpus(root: Path, *, genres: tuple[str, ...] = GENRES, per_split: tuple[int, int, int] = (4, 2, 2),
                seconds: float = 3.0, seed: int = 0, short: int = 0,
                multi: bool = False) -> tuple[Layout, list[dict]]:
    """Write ``per_split`` (train, validation, test) tracks per genre and the training table.

    ``short`` tracks per genre in train are only 1 s long (shorter than a crop).  With
    ``multi`` every other track also carries the next genre at weight 0.6.
    """
    layout = Layout.at(root)
    layout.audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for gi, genre in enumerate(genres):
        n = 0
        for split, count in zip(("train", "validation", "test"), per_split, strict=True):
            for _ in range(count):
                n += 1
                track_id = f"t{genre[:3]}{n:03d}"
                length = 1.0 if split == "train" and n <= short else seconds
                labels = {genre: 1.0}
                if multi and n % 2 == 0:
                    labels[genres[(gi + 1) % len(genres)]] = 0.6
                rows.append(training_row(layout, track_id, genre_signal(genre, length, rng), genres=labels,
                                         split=split, title=f"{genre} {n}", artists=[f"{genre} artist {n}"],
                                         top_genre=genre))
    write_tables(layout, training=rows)
    return layout, rows
