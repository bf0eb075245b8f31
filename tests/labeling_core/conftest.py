"""A tiny but complete data folder (tracks, claims, downloads, splits, audio) for the labeling tests."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from manifests.io import write_table
from manifests.layout import Layout
from manifests.schema import CLAIMS, DOWNLOADS, OVERRIDES, SPLITS_TABLE, TRACKS

SHA = "a" * 64


def track(track_id: str, title: str = "Song", artists: list[str] | None = None) -> dict:
    return {"track_id": track_id, "title": title, "artists": artists or [f"Artist {track_id}"],
            "origin": "synthetic"}


def claim(track_id: str, source: str, raw: str, weight: float = 1.0, evidence: str = "ev") -> dict:
    return {"track_id": track_id, "source": source, "raw_genre": raw, "weight": weight, "evidence": evidence}


def write_wav(path: Path, seconds: float = 0.05, rate: int = 16000) -> None:
    """A real (silent) 16 kHz mono WAV: the build only needs the file to exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"\x00\x00" * int(seconds * rate))


def download(layout: Layout, track_id: str, status: str = "ok", make_file: bool = True) -> dict:
    row: dict = {"track_id": track_id, "status": status}
    if status == "ok":
        path = layout.audio_path(track_id)
        if make_file:
            write_wav(path)
        row.update(audio_path=layout.relative(path), sample_rate=16000, audio_duration_s=0.05, sha256=SHA,
                   youtube_id="dQw4w9WgXcQ", match_score=0.91)
    else:
        row["reason"] = "no candidate passed the threshold" if status == "no_match" else "HTTP 403"
    return row


@pytest.fixture()
def tiny_data(tmp_path: Path) -> Layout:
    """Six tracks covering the interesting cases; every input table of resolve and build present."""
    layout = Layout.at(tmp_path / "data")
    tracks = [track("tr-rock", "=cmd|' /C calc'!A0"), track("tr-rockmetal"), track("tr-jazz", "Blue, \"Quoted\""),
              track("tr-none"), track("tr-drop"), track("tr-nosplit")]
    claims = [
        claim("tr-rock", "playlist", "Rock", evidence="pl-rock"),
        claim("tr-rockmetal", "playlist", "rock", evidence="pl-rock"),
        claim("tr-rockmetal", "playlist", "Metal", evidence="pl-metal"),
        claim("tr-jazz", "playlist", "Jazz", evidence="pl-jazz"),
        claim("tr-jazz", "lastfm", "seen live", 0.9, evidence="lastfm"),
        claim("tr-none", "lastfm", "favorites", 1.0, evidence="lastfm"),
        claim("tr-drop", "playlist", "Hip-Hop", evidence="pl-hh"),
        claim("tr-nosplit", "synthetic", "drum & bass", evidence="synthetic"),
    ]
    write_table(layout.table_path("tracks"), TRACKS, tracks)
    write_table(layout.table_path("claims"), CLAIMS, claims)
    write_table(layout.table_path("downloads"), DOWNLOADS,
                [download(layout, t["track_id"]) for t in tracks])
    write_table(layout.table_path("splits"), SPLITS_TABLE,
                [{"track_id": t["track_id"], "split": "train", "group": t["track_id"], "seed": 1}
                 for t in tracks if t["track_id"] != "tr-nosplit"])
    write_table(layout.overrides, OVERRIDES, [{"track_id": "tr-drop", "action": "drop", "note": "live bootleg"}])
    return layout
