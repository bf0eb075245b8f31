"""read_frame: a validated manifest as a DataFrame a notebook user can filter and count straight away."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from manifests import Layout, ManifestError, MissingTable, read_frame, write_table
from manifests.schema import DOWNLOADS, LABELS, TRACKS


def _data(tmp_path: Path) -> Path:
    layout = Layout.at(tmp_path)
    write_table(layout.table_path(LABELS), LABELS, [
        {"track_id": "trk-1", "genres": {"rock": 0.25, "metal": 0.75}, "top_genre": "metal",
         "sources": {"metal": ["musicbrainz", "playlist"], "rock": ["playlist"]}, "n_sources": 2,
         "status": "ok"},
        {"track_id": "trk-2", "genres": {}, "n_sources": 0, "unmapped": ["polka-gaze"], "status": "unlabeled",
         "reason": "no mapped claim"},
    ])
    write_table(layout.table_path(TRACKS), TRACKS, [
        {"track_id": "trk-1", "title": "One", "artists": ["A", "B"], "release_date": "1999-05",
         "duration_ms": 200000, "origin": "spotify"},
    ])
    write_table(layout.table_path(DOWNLOADS), DOWNLOADS, [
        {"track_id": "trk-1", "status": "ok", "retryable": False, "match_score": 0.9,
         "updated_at": "2026-12-01T08:05:48Z", "audio_duration_s": 200.5},
    ])
    return tmp_path


def test_labels_have_genre_lists_strongest_first_and_float_weights(tmp_path: Path) -> None:
    frame = read_frame("labels", _data(tmp_path))
    assert list(frame["track_id"]) == ["trk-1", "trk-2"]
    assert frame.loc[0, "genres"] == ["metal", "rock"]
    assert frame.loc[0, "genres_weights"] == {"metal": 0.75, "rock": 0.25}
    assert frame.loc[1, "genres"] == [] and frame.loc[1, "unmapped"] == ["polka-gaze"]
    assert str(frame["n_sources"].dtype) == "Int64" and str(frame["status"].dtype) == "string"
    # the questions a person auditing asks, answered in one line each
    assert frame.explode("genres")["genres"].value_counts().to_dict() == {"metal": 1, "rock": 1}
    assert (frame["status"] == "ok").sum() == 1


def test_dates_and_times_are_parsed_and_missing_values_stay_missing(tmp_path: Path) -> None:
    data = _data(tmp_path)
    tracks = read_frame("tracks", data)
    assert tracks.loc[0, "release_date"] == pd.Timestamp("1999-05-01", tz="UTC")
    assert tracks.loc[0, "artists"] == ["A", "B"] and pd.isna(tracks.loc[0, "isrc"])
    downloads = read_frame("downloads", data)
    assert downloads.loc[0, "updated_at"] == pd.Timestamp("2026-12-01T08:05:48Z")
    assert not downloads.loc[0, "retryable"]
    assert str(downloads["retryable"].dtype) == "boolean" and downloads.loc[0, "audio_duration_s"] == 200.5


def test_missing_and_broken_tables_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(MissingTable, match=r"labels.csv not found: run make labels first"):
        read_frame("labels", tmp_path)
    bad = tmp_path / "manifests" / "labels.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("track_id,status,schema\ntrk-1,maybe,labels@1\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"labels.csv:2, row 1, column 'status'"):
        read_frame("labels", tmp_path)
    with pytest.raises(ValueError, match="unknown table 'label'"):
        read_frame("label", tmp_path)
