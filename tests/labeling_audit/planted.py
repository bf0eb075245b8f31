"""A small data folder with known problems planted in it, for the audit tests.

Every planted problem is named in ``PLANTED`` so tests assert the audit finds
exactly those tracks.  Audio files are real 16 kHz mono PCM16 WAV headers over
sparse data (the audit reads headers and hashes, it never decodes), so a 200 s
track costs no disk space; a few are broken on purpose (empty, an HTML page,
cut off, stereo 44.1 kHz, not the length the manifest says).
"""

from __future__ import annotations

import struct
from pathlib import Path

from manifests.hashing import sha256_file
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
    "audio_empty": {"t-wav-empty"},
    "audio_not_wav": {"t-wav-html"},
    "audio_truncated": {"t-wav-cut"},
    "audio_wrong_format": {"t-wav-stereo"},
    "audio_duration_mismatch": {"t-wav-changed"},
}
FAIL_REASON = "HTTP Error 403: Forbidden (after 3 attempts)"
NOMATCH_REASON = "no candidate scored above 0.6 (best 0.41)"
FORMULA_TITLE = '=HYPERLINK("http://example.invalid","click")'


def _track(tid: str, title: str, artists: list[str], **kw: object) -> dict:
    return track_row(tid, title, artists, origin="csv", **{"album": f"Album of {tid}", "release_date": "2010",
                                                           "duration_ms": 200_000, **kw})


def write_wav(path: Path, seconds: float, marker: bytes, *, rate: int = 16000, channels: int = 1,
              keep_fraction: float = 1.0) -> None:
    """A PCM16 WAV whose samples are ``marker`` then zeros, written sparse; ``keep_fraction`` < 1 cuts it off."""
    data = round(seconds * rate) * channels * 2
    header = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
              + b"data" + struct.pack("<I", data))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(header + marker[:data])
        handle.truncate(len(header) + int(data * keep_fraction) // 2 * 2)


#: Broken files, by track: what is written instead of a good WAV of the manifest's length.
BROKEN_WAVS = {"t-wav-empty", "t-wav-html", "t-wav-cut", "t-wav-stereo", "t-wav-changed"}


def _write_audio(path: Path, tid: str, seconds: float) -> None:
    marker = f"{'t-hash-a' if tid == 't-hash-b' else tid} ".encode()
    if tid == "t-wav-empty":
        path.write_bytes(b"")
    elif tid == "t-wav-html":
        path.write_text("<html><body>429 Too Many Requests</body></html>\n", encoding="utf-8")
    elif tid == "t-wav-cut":
        write_wav(path, seconds, marker, keep_fraction=0.5)
    elif tid == "t-wav-stereo":
        write_wav(path, seconds, marker, rate=44100, channels=2)
    elif tid == "t-wav-changed":
        write_wav(path, seconds / 2, marker)
    else:
        write_wav(path, seconds, marker)


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
        *(_track(tid, f"Broken {tid[6:]}", [f"Broken Artist {tid[6:]}"]) for tid in sorted(BROKEN_WAVS)),
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

    downloads = []
    for i, t in enumerate(tracks):
        tid = t["track_id"]
        if tid == "t-dropped":
            continue
        row = {"track_id": tid, "status": "ok", "youtube_id": f"vid{i:08d}"[:11].ljust(11, "x"),
               "match_score": 0.9, "audio_path": f"audio/{tid}.wav", "sample_rate": 16000,
               "audio_duration_s": t["duration_ms"] / 1000, "attempts": 1}
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
        if row["status"] == "ok":
            path = layout.root / row["audio_path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_audio(path, tid, row["audio_duration_s"])
            row["sha256"] = sha256_file(path)
            if tid == "t-nofile":
                path.unlink()

    # a hand-written splits table with leakage planted in it
    split_of = {t["track_id"]: ("train", "validation", "test")[i % 3] for i, t in enumerate(tracks)}
    split_of.update({"t-isrc-a": "train", "t-isrc-b": "test", "t-title-a": "train", "t-title-b": "train",
                     "t-leak-1": "train", "t-leak-2": "test", "t-album-1": "train", "t-album-2": "validation",
                     "t-hash-a": "train", "t-hash-b": "train"})
    del split_of["t-dropped"]
    return write_tables(layout, tracks=tracks, claims=claims, labels=labels, downloads=downloads,
                        splits=[split_row(tid, s) for tid, s in split_of.items()],
                        overrides=[{"track_id": "t-dropped", "action": "drop", "note": "test"}])
