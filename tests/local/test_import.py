"""``import-audio`` on a messy tagged library: rows for every file, reasons for the bad ones, stable IDs, reruns."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from collectors.cli import main as collectors_main
from collectors.local.importer import UNKNOWN_ARTIST
from manifests import Layout, read_table, sha256_file
from manifests.audio import inspect_wav
from manifests.ids import make_track_id
from manifests.schema import CLAIMS, DOWNLOADS, TRACKS
from tests.local import media

MBID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"


def _library(root: Path) -> Path:
    """rock/ and jazz/ of tagged files in every format, bad/ of files that must fail or be skipped."""
    media.id3(media.tone(root / "rock" / "v23.mp3", freq=300), 3, title="Three", artists=["Band A"],
              genres=["Rock"], isrc="USRC17607839", mbid=MBID, year="1999")
    media.id3(media.tone(root / "rock" / "v24.mp3", freq=310), 4, title="Four", artists=["A", "B"],
              genres=["Rock", "Metal"])
    media.vorbis(media.tone(root / "rock" / "multi.flac", freq=320), genre="Rock;Metal", artist="Flac Band",
                 title="Semicolon")
    media.vorbis(media.tone(root / "jazz" / "vorbis.ogg", freq=330), genre="Jazz", artist="Ogg Band", title="O")
    media.vorbis(media.tone(root / "jazz" / "opus.opus", freq=340), genre="Jazz", artist="Opus Band", title="P")
    media.vorbis(media.tone(root / "jazz" / "apple.m4a", freq=350),
                 **{"\u00a9gen": "Smooth Jazz", "\u00a9ART": "M4A Band", "\u00a9nam": "M"})
    media.id3v1_only(media.tone(root / "jazz" / "v1.mp3", freq=360), 17)
    bad_tag = media.id3(media.tone(root / "jazz" / "latin.mp3", freq=370), 4, title="CafX", artists=["Tagger"])
    media.replace_bytes(bad_tag, b"CafX", b"Caf\xe9")
    shutil.copy(root / "rock" / "v23.mp3", root / "jazz" / "copy-of-v23.mp3")
    (root / "bad").mkdir()
    (root / "bad" / "notes.mp3").write_text("not audio at all\n")
    (root / "bad" / "empty.mp3").write_bytes(b"")
    media.truncate(media.tone(root / "bad" / "cut.mp3", seconds=20, freq=380), 0.4)
    (root / "bad" / "loop1.mp3").symlink_to("loop2.mp3")
    (root / "bad" / "loop2.mp3").symlink_to("loop1.mp3")
    (root / "bad" / "up").symlink_to("..")
    (root / "rock" / "cover.jpg").write_bytes(b"\xff\xd8 jpeg")
    return root


def _import(data: Path, *args: str) -> int:
    return collectors_main(["import-audio", *args, "--data", str(data), "--min-seconds", "1", "-q"])


def _tables(data: Path) -> tuple[dict[str, dict], list[dict], dict[str, dict]]:
    layout = Layout.at(data)
    tracks = {r["track_id"]: r for r in read_table(layout.table_path(TRACKS), TRACKS)}
    claims = read_table(layout.table_path(CLAIMS), CLAIMS)
    downloads = {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}
    return tracks, claims, downloads


def _report(data: Path) -> dict[str, dict[str, str]]:
    with open(data / "reports" / "import_audio.csv", encoding="utf-8", newline="") as handle:
        return {Path(r["path"]).name: r for r in csv.DictReader(handle)}


def _tid(path: Path) -> str:
    return make_track_id("local", sha256_file(path))


def test_a_messy_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib, data = _library(tmp_path / "lib"), tmp_path / "data"
    assert _import(data, str(lib), "--layout", "genre", "--workers", "2") == 0
    out = capsys.readouterr().out
    tracks, claims, downloads = _tables(data)

    # every distinct file is one track; the copy is the same track and is reported
    assert len(tracks) == 11  # 8 good (the copy is v23 again) + notes, empty, cut
    v23 = _tid(lib / "rock" / "v23.mp3")
    assert _tid(lib / "jazz" / "copy-of-v23.mp3") == v23
    assert "duplicate:" in out and "copy-of-v23.mp3" in out
    assert {r["origin"] for r in tracks.values()} == {"local"}

    # the good files: 16 kHz mono WAVs, original path, sha256 and duration recorded
    good = {"v23.mp3", "v24.mp3", "multi.flac", "vorbis.ogg", "opus.opus", "apple.m4a", "v1.mp3", "latin.mp3"}
    for path in lib.rglob("*"):
        if path.name not in good:
            continue
        row = downloads[_tid(path)]
        assert row["status"] == "ok", (path.name, row["reason"])
        wav = data / row["audio_path"]
        facts = inspect_wav(wav)
        assert (facts.sample_rate, facts.channels) == (16000, 1) and facts.sha256 == row["sha256"]
        assert row["source_sha256"] == sha256_file(path)
        assert row["audio_duration_s"] == pytest.approx(3.0, abs=0.1)
        assert tracks[_tid(path)]["duration_ms"] == pytest.approx(3000, abs=100)
    assert downloads[v23]["source_path"] == str(lib / "jazz" / "copy-of-v23.mp3")  # first in name order

    # the bad files: a failed row with the reason, never retryable by the download stage
    reasons = {name: downloads[_tid(lib / "bad" / name)] for name in ("notes.mp3", "empty.mp3", "cut.mp3")}
    assert all(r["status"] == "failed" and r["retryable"] is False for r in reasons.values())
    assert reasons["notes.mp3"]["reason"].startswith("not audio: ffmpeg cannot read it")
    assert reasons["empty.mp3"]["reason"] == "empty: the file has 0 bytes"
    assert reasons["cut.mp3"]["reason"].startswith("truncated: decoded")
    assert not list((data / "audio").glob("*.part")) and len(list((data / "audio").glob("*.wav"))) == 8

    # tags: title, artists, ISRC; unknown artists credited [unknown]; tags that cannot be read fall back
    assert (tracks[v23]["title"], tracks[v23]["artists"], tracks[v23]["isrc"]) == ("Three", ["Band A"],
                                                                                   "USRC17607839")
    assert tracks[v23]["musicbrainz_id"] == MBID  # the labels stage looks it up by this ID
    assert tracks[_tid(lib / "rock" / "v24.mp3")]["musicbrainz_id"] is None
    assert tracks[_tid(lib / "rock" / "v24.mp3")]["artists"] == ["A", "B"]
    assert tracks[_tid(lib / "jazz" / "v1.mp3")]["artists"] == ["V1 Band"]
    latin = tracks[_tid(lib / "jazz" / "latin.mp3")]
    assert (latin["title"], latin["artists"]) == ("latin", ["Tagger"])  # the broken title frame is dropped
    assert tracks[_tid(lib / "bad" / "notes.mp3")]["artists"] == [UNKNOWN_ARTIST]

    # claims: the folder and the tags, each with the file as evidence
    def genres(path: Path, source: str) -> set[str]:
        return {c["raw_genre"] for c in claims if c["track_id"] == _tid(path) and c["source"] == source}

    assert genres(lib / "rock" / "v24.mp3", "tags") == {"Rock", "Metal"}
    assert genres(lib / "rock" / "multi.flac", "tags") == {"Rock", "Metal"}
    assert genres(lib / "jazz" / "v1.mp3", "tags") == {"Rock"}  # ID3v1 code 17
    assert genres(lib / "jazz" / "apple.m4a", "tags") == {"Smooth Jazz"}
    assert genres(lib / "rock" / "v23.mp3", "folder") == {"rock", "jazz"}  # both places of the same bytes
    assert {c["evidence"] for c in claims if c["track_id"] == v23 and c["source"] == "folder"} == {
        str(lib / "rock" / "v23.mp3"), str(lib / "jazz" / "copy-of-v23.mp3")}

    # the report says what happened to every file, the skipped ones included
    report = _report(data)
    assert report["loop1.mp3"]["outcome"] == "skipped" and "loop" in report["loop1.mp3"]["reason"]
    assert report["up"]["outcome"] == "skipped"
    assert report["cover.jpg"]["outcome"] == "ignored"
    assert report["v23.mp3"]["musicbrainz_recording_id"] == MBID and report["v23.mp3"]["tags"] == "ID3v2.3"
    assert report["copy-of-v23.mp3"]["outcome"] == "imported" and report["v23.mp3"]["outcome"] == "duplicate"


def test_rerun_keeps_everything_and_a_changed_file_replaces_its_track(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    lib, data = tmp_path / "lib", tmp_path / "data"
    song = media.id3(media.tone(lib / "rock" / "a.mp3", freq=500), 4, title="A", artists=["X"], genres=["Rock"])
    media.id3(media.tone(lib / "rock" / "b.mp3", freq=600), 4, title="B", artists=["Y"], genres=["Rock"])
    (lib / "rock" / "bad.mp3").write_text("text")
    assert _import(data, str(lib), "--workers", "1") == 0
    manifests = data / "manifests"
    before = {p.name: p.read_bytes() for p in manifests.glob("*.csv")}
    capsys.readouterr()

    assert _import(data, str(lib), "--workers", "1") == 0  # nothing to do: nothing changes
    out = capsys.readouterr().out
    assert "0 converted, 2 kept from an earlier run, 0 failed (+1 failed earlier" in out
    assert {p.name: p.read_bytes() for p in manifests.glob("*.csv")} == before

    old = _tid(song)
    media.id3(song, 4, title="A (retagged)", artists=["X"], genres=["Punk"])  # new bytes: a new track
    assert _import(data, str(lib), "--workers", "1", "--retry-failed") == 0
    out = capsys.readouterr().out
    tracks, claims, downloads = _tables(data)
    assert old not in tracks and old not in downloads and not (data / "audio" / f"{old}.wav").exists()
    assert tracks[_tid(song)]["title"] == "A (retagged)"
    assert {c["raw_genre"] for c in claims if c["track_id"] == _tid(song)} == {"Punk"}
    assert "1 files changed since an earlier import" in out and "removed 1 tracks" in out
    assert downloads[_tid(lib / "rock" / "bad.mp3")]["attempts"] == 2  # --retry-failed tried it again


def test_csv_list_and_folder_layouts(tmp_path: Path) -> None:
    lib, data = tmp_path / "lib", tmp_path / "data"
    nested = media.tone(lib / "Soul" / "Aretha" / "Lady Soul" / "01.wav", freq=700)
    untagged = media.tone(lib / "Funk" / "Loose" / "02.flac", freq=710)
    outside = media.tone(tmp_path / "elsewhere" / "x.ogg", freq=720)
    listing = tmp_path / "list.csv"
    listing.write_text("Path,Genre,Artist,Title\n"
                       "lib/Funk/Loose/02.flac,Funk;Soul,James; Bootsy,Sex Machine\n"
                       "elsewhere/x.ogg,Disco,,\n"
                       "missing.mp3,Pop,,\n", encoding="utf-8")
    assert _import(data, str(lib), "--layout", "genre/artist/album", "--csv", str(listing), "--workers", "1") == 0
    tracks, claims, _ = _tables(data)
    row = tracks[_tid(nested)]
    assert (row["artists"], row["album"], row["title"]) == (["Aretha"], "Lady Soul", "01")
    listed = tracks[_tid(untagged)]
    assert (listed["artists"], listed["title"]) == (["James", "Bootsy"], "Sex Machine")  # the list wins
    by = {(c["track_id"], c["source"], c["raw_genre"]) for c in claims}
    assert {(_tid(untagged), "csv", "Funk"), (_tid(untagged), "csv", "Soul"), (_tid(untagged), "folder", "Funk"),
            (_tid(nested), "folder", "Soul"), (_tid(outside), "csv", "Disco")} <= by
    assert tracks[_tid(outside)]["artists"] == [UNKNOWN_ARTIST]
    assert _report(data)["missing.mp3"]["outcome"] == "missing"


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert collectors_main(["import-audio", "--data", str(tmp_path / "d")]) == 2
    assert collectors_main(["import-audio", str(tmp_path / "nope"), "--data", str(tmp_path / "d")]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("file,style\nx.mp3,rock\n", encoding="utf-8")
    assert collectors_main(["import-audio", "--csv", str(bad), "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "name at least one folder" in err and "no such file or folder" in err and "no path and no genre column" in err
