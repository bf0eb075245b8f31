"""From a folder of audio to labels, a training manifest, a run and a prediction file, as a user runs it."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from collectors.cli import main as collectors_main
from labeling.cli import main as labeling_main
from manifests import Layout, read_table
from manifests.schema import LABELS, SPLITS_TABLE, TRACKS, TRAINING
from tests.local import media


def _pipeline(data: Path, *split_args: str) -> None:
    assert labeling_main(["resolve", "--data", str(data), "-q"]) == 0
    assert labeling_main(["split", "--data", str(data), "-q", *split_args]) == 0
    assert labeling_main(["build", "--data", str(data), "-q"]) == 0


def test_a_genre_artist_album_library_to_a_training_manifest(tmp_path: Path) -> None:
    lib, data = tmp_path / "music", tmp_path / "data"
    n = 0
    for genre in ("Rock", "Jazz"):
        for artist in range(5):
            for track in range(2):
                n += 1
                media.tone(lib / genre / f"{genre} Artist {artist}" / "Album" / f"{track + 1:02d}.flac", seconds=2,
                           freq=200 + 13 * n)
    assert collectors_main(["import-audio", str(lib), "--layout", "genre/artist/album", "--data", str(data),
                            "--min-seconds", "1", "--workers", "2", "-q"]) == 0
    _pipeline(data)
    layout = Layout.at(data)
    labels = read_table(layout.table_path(LABELS), LABELS)
    assert len(labels) == 20 and {row["status"] for row in labels} == {"ok"}
    assert {row["top_genre"] for row in labels} == {"rock", "jazz"}
    training = read_table(layout.table_path(TRAINING), TRAINING)
    assert len(training) == 20
    assert all((data / row["audio_path"]).is_file() and row["sample_rate"] == 16000 for row in training)
    artists_in: dict[str, set[str]] = defaultdict(set)
    for row in training:
        artists_in[row["artists"][0]].add(row["split"])
    assert all(len(splits) == 1 for splits in artists_in.values())  # artist-disjoint
    assert {row["split"] for row in training} == {"train", "validation", "test"}

    # ... then a (tiny) trained run, and its predictions for the whole folder in a file
    pytest.importorskip("keras")
    from training.cli import main as training_main

    assert training_main(["train", "--data", str(data), "--run", "e2e", "--model", "baseline3", "--width", "2",
                          "--epochs", "1", "--batch-size", "8", "--crop-seconds", "1", "--n-mels", "32",
                          "--crops-per-track", "1", "--no-augment", "-q"]) == 0
    preds = tmp_path / "preds.csv"
    assert training_main(["predict", str(lib), "--data", str(data), "--out", str(preds), "-q"]) == 0
    with open(preds, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    songs = sorted(str(p) for p in lib.rglob("*.flac"))
    assert sorted(row["file"] for row in rows) == songs  # every song once
    for row in rows:
        assert row["run"] == "e2e" and row["error"] == "" and row["predicted"] in {"rock", "jazz"}
        assert float(row["prob_rock"]) + float(row["prob_jazz"]) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("policy", ["track", "exclude"])
def test_gtzan_has_no_artists_and_the_split_says_so(tmp_path: Path, policy: str) -> None:
    genres, data = tmp_path / "genres", tmp_path / "data"
    for g in ("blues", "metal"):
        for i in range(6):
            media.tone(genres / g / f"{g}.{i:05d}.wav", seconds=2, freq=300 + 50 * i + (7 if g == "metal" else 0))
    assert collectors_main(["import-audio", str(genres), "--gtzan", "--data", str(data), "--min-seconds", "1",
                            "--workers", "1", "-q"]) == 0
    layout = Layout.at(data)
    tracks = read_table(layout.table_path(TRACKS), TRACKS)
    assert len(tracks) == 12
    if policy == "exclude":
        assert labeling_main(["resolve", "--data", str(data), "-q"]) == 0
        assert labeling_main(["split", "--data", str(data), "--no-artists", "exclude"]) == 2  # nothing left
        return
    _pipeline(data, "--no-artists", policy)
    splits = read_table(layout.table_path(SPLITS_TABLE), SPLITS_TABLE)
    assert len(splits) == 12 and len({row["group"] for row in splits}) == 12  # one by one
    report = (data / "reports" / "splits.md").read_text(encoding="utf-8")
    assert "12 tracks have no known artist" in report and "may be optimistic" in report
    assert len(read_table(layout.table_path(TRAINING), TRAINING)) == 12
