"""A generated catalogue shaped like a real collection, for split and audit tests.

Artists with a main genre (some also in a second one), multi-genre tracks,
featuring credits that link artists, and the same recordings under other
track IDs (same ISRC with the artist spelled differently; same artist and title
with a remaster suffix).
"""

from __future__ import annotations

import random

from manifests.ids import make_track_id

#: canonical genres with how often artists play them (rock common, bossa nova rare)
GENRES = {"rock": 30, "pop": 25, "hip hop": 20, "jazz": 12, "electronic": 12, "metal": 8,
          "classical": 6, "reggae": 4, "blues": 3, "bossa nova": 2}
SECOND = {"rock": "metal", "metal": "rock", "pop": "electronic", "electronic": "pop", "hip hop": "pop",
          "jazz": "blues", "blues": "jazz", "classical": "jazz", "reggae": "pop", "bossa nova": "jazz"}


def isrc(n: int) -> str:
    return f"GBABC{n:07d}"


def make_catalogue(n_artists: int = 220, seed: int = 7) -> tuple[list[dict], list[dict]]:
    """Rows of the tracks and labels tables (valid for manifests.write_table)."""
    rng = random.Random(seed)
    names = [f"Artist {i:03d}" for i in range(n_artists)]
    genres, weights = zip(*GENRES.items(), strict=True)
    tracks: list[dict] = []
    labels: list[dict] = []
    serial = 0
    for a, artist in enumerate(names):
        main = rng.choices(genres, weights)[0]
        other = SECOND[main] if rng.random() < 0.25 else None
        for t in range(rng.randint(1, 7)):
            serial += 1
            credits = [artist]
            if rng.random() < 0.08:  # a featuring credit links two artists' groups
                credits.append(names[rng.randrange(n_artists)])
                credits = list(dict.fromkeys(credits))
            genre = other if other and t % 2 else main
            label = {genre: 1.0}
            if rng.random() < 0.2:
                label[SECOND[genre]] = round(rng.uniform(0.3, 0.9), 3)
            tid = make_track_id("test", f"{a}:{t}")
            tracks.append({"track_id": tid, "title": f"Song {a}-{t}", "artists": credits,
                           "album": f"Album {a}-{t // 4}", "release_date": f"{2000 + a % 20}",
                           "duration_ms": rng.randint(120_000, 360_000), "isrc": isrc(serial),
                           "origin": "synthetic"})
            labels.append({"track_id": tid, "genres": label, "top_genre": genre,
                           "sources": {g: ["playlist"] for g in label}, "n_sources": 1, "status": "ok"})
    # the same recordings again under other IDs
    originals = rng.sample(tracks[:], 24)
    for k, orig in enumerate(originals):
        tid = make_track_id("dup", orig["track_id"])
        dup = dict(orig, track_id=tid)
        if k % 2 == 0:  # same ISRC, artist credited under another name
            dup["artists"] = [f"Alias {k:02d}"]
        else:  # no ISRC, same artist (case and accents differ) and title with a remaster tail
            dup["isrc"] = None
            dup["artists"] = [orig["artists"][0].upper().replace("A", "Á", 1)]
            dup["title"] = orig["title"] + " - Remastered 2011"
        tracks.append(dup)
        label = next(lb for lb in labels if lb["track_id"] == orig["track_id"])
        labels.append(dict(label, track_id=tid))
    return tracks, labels
