"""A small data folder with known problems planted in it, for the audit tests.

Every planted problem is named in ``PLANTED`` so tests assert the audit finds
exactly those tracks.  Audio files are tiny byte strings: the audit hashes and
checks for files, it never decodes them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from manifests.layout import Layout
from tests.fixtures.corpus import label_row, split_row, track_row, write_tables

PLANTED = {
    "duplicate_isrc": {"t-isrc-a", "t-isrc-b"},
    "duplicate_artist_title": {"t-title-a", "t-title-b"},
    "duplicate_audio": {"t-hash-a", "t-hash-b"},
    "recording_leakage": {"t-isrc-a", "t-isrc-b"},
    "artist_leakage": {"t-leak-1", "t-leak-2"},
    "album_leakage": {"t-album-1", "t-album-2"},
    "formula_injection": {"t-formula-1", "t-formula-2", "t-formula-3"},
    "audio_failed": {"t-fail-403", "t-nomatch"},
    "audio_skipped": {"t-skipped"},
    "audio_file_missing": {"t-nofile"},
    "duration_outlier": {"t-dur-cut", "t-dur-short", "t-dur-long"},
    "low_match_score": {"t-lowscore"},
    "unmapped_genre": {"t-unmapped"},
    "source_disagreement": {"t-disagree"},
}
FAIL_REASON = "HTTP Error 403: Forbidden (after 3 attempts)"
NOMATCH_REASON = "no candidate scored above 0.6 (best 0.41)"
FORMULA_TITLE = '=HYPERLINK("http://example.invalid","click")'


def _track(tid: str, title: str, artists: list[str], **kw: object) -> dict:
    return track_row(tid, title, artists, origin="csv", **{"album": f"Album of {tid}", "release_date": "2010",
                                                           "duration_ms": 200_000, **kw})


def build(root: Path) -> Layout:
    """Write tracks, claims, labels, downloads, splits, overrides and audio under ``root``."""
    layout = Layout(root)
    tracks = [
        _track("t-isrc-a", "Around the World", ["Daft Punk"], isrc="FRZ039700212"),
        _track("t-isrc-b", "Around the World (Radio Edit)", ["Thomas Bangalter"], isrc="FRZ039700212"),
        _track("t-title-a", "Hey Jude", ["The Beatles"]),
        _track("t-title-b", "Hey Jude - Remastered 2015", ["THE BEATLES"]),
        _track("t-hash-a", "Song A", ["Hash One"]),
        _track("t-hash-b", "Song B", ["Hash Two"]),
        _track("t-leak-1", "Leak Train", ["Leaky Artist"]),
        _track("t-leak-2", "Leak Test", ["Guest", "Leaky Artist"]),
        _track("t-album-1", "Comp 1", ["Comp Artist One"], album="Shared Compilation", release_date="2001"),
        _track("t-album-2", "Comp 2", ["Comp Artist Two"], album="Shared Compilation", release_date="2001"),
        _track("t-formula-1", FORMULA_TITLE, ["Formula One"]),
        _track("t-formula-2", "Plus", ["+44"]),
        _track("t-formula-3", "At", ["At Artist"], album="@SUM(A1:A9)"),
        _track("t-fail-403", "Failed", ["Fail Artist"]),
        _track("t-nomatch", "No Match", ["Nomatch Artist"]),
        _track("t-skipped", "Skipped", ["Skip Artist"]),
        _track("t-nofile", "No File", ["Nofile Artist"]),
        _track("t-dur-cut", "Cut", ["Dur Cut"], duration_ms=200_000),
        _track("t-dur-short", "Short", ["Dur Short"], duration_ms=6_000),
        _track("t-dur-long", "Long", ["Dur Long"], duration_ms=1_300_000),
        _track("t-lowscore", "Low Score", ["Low Artist"]),
        _track("t-unmapped", "Unmapped", ["Unmapped Artist"]),
        _track("t-disagree", "Disagree", ["Disagree Artist"]),
        _track("t-dropped", "=DROPPED()", ["Dropped Artist"], isrc="FRZ039700212"),
    ]
    for i in range(8):  # clean tracks, so the flagged ones are a minority
        tracks.append(_track(f"t-clean-{i}", f"Clean {i}", [f"Clean Artist {i}"]))
    genre_of = {t["track_id"]: ("rock" if i % 2 else "jazz") for i, t in enumerate(tracks)}
    claims = [{"track_id": t["track_id"], "source": "playlist", "raw_genre": genre_of[t["track_id"]].title(),
               "weight": 1.0, "evidence": "playlist-1"} for t in tracks]
    claims += [
        {"track_id": "t-unmapped", "source": "lastfm", "raw_genre": "zzz no such genre", "weight": 0.8,
         "evidence": "https://last.fm/x"},
        {"track_id": "t-disagree", "source": "musicbrainz", "raw_genre": "Hip-Hop", "weight": 1.0,
         "evidence": "mbid-1"},
        {"track_id": "t-clean-0", "source": "musicbrainz", "raw_genre": genre_of["t-clean-0"], "weight": 1.0,
         "evidence": "mbid-2"},
    ]
    labels = [label_row(t["track_id"], {genre_of[t["track_id"]]: 1.0}, top=genre_of[t["track_id"]],
                        status="dropped" if t["track_id"] == "t-dropped" else "ok") for t in tracks]
    for label in labels:
        if label["track_id"] == "t-unmapped":
            label["unmapped"] = ["zzz no such genre"]

    audio_bytes = {t["track_id"]: f"RIFF fake audio {t['track_id']}".encode() for t in tracks}
    audio_bytes["t-hash-b"] = audio_bytes["t-hash-a"]
    downloads = []
    for i, t in enumerate(tracks):
        tid = t["track_id"]
        if tid == "t-dropped":
            continue
        row = {"track_id": tid, "status": "ok", "youtube_id": f"vid{i:08d}"[:11].ljust(11, "x"),
               "match_score": 0.9, "audio_path": f"audio/{tid}.wav", "sample_rate": 16000,
               "audio_duration_s": t["duration_ms"] / 1000, "attempts": 1,
               "sha256": hashlib.sha256(audio_bytes[tid]).hexdigest()}
        if tid == "t-fail-403":
            row = {"track_id": tid, "status": "failed", "reason": FAIL_REASON, "retryable": True, "attempts": 3}
        elif tid == "t-nomatch":
            row = {"track_id": tid, "status": "no_match", "reason": NOMATCH_REASON, "attempts": 1}
        elif tid == "t-skipped":
            row = {"track_id": tid, "status": "skipped", "reason": "age-restricted video", "attempts": 0}
        elif tid == "t-dur-cut":
            row["audio_duration_s"] = 61.5
        elif tid == "t-dur-short":
            row["audio_duration_s"] = 5.9
        elif tid == "t-dur-long":
            row["audio_duration_s"] = 1300.0
        elif tid == "t-lowscore":
            row["match_score"] = 0.42
        downloads.append(row)
        if row["status"] == "ok" and tid != "t-nofile":
            path = layout.root / row["audio_path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(audio_bytes[tid])

    # a hand-written splits table with leakage planted in it
    split_of = {t["track_id"]: ("train", "validation", "test")[i % 3] for i, t in enumerate(tracks)}
    split_of.update({"t-isrc-a": "train", "t-isrc-b": "test", "t-title-a": "train", "t-title-b": "train",
                     "t-leak-1": "train", "t-leak-2": "test", "t-album-1": "train", "t-album-2": "validation",
                     "t-hash-a": "train", "t-hash-b": "train"})
    del split_of["t-dropped"]
    return write_tables(layout, tracks=tracks, claims=claims, labels=labels, downloads=downloads,
                        splits=[split_row(tid, s) for tid, s in split_of.items()],
                        overrides=[{"track_id": "t-dropped", "action": "drop", "note": "test"}])
