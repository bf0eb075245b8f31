"""Embedded tags as real taggers write them (mutagen on ffmpeg-made files): every format, and the broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.local.tags import parse_date, read_tags, repair_mojibake, split_genres
from tests.local import media

MBID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"


def test_id3v23_with_two_genres_isrc_date_and_musicbrainz_recording_id(tmp_path: Path) -> None:
    path = media.id3(media.tone(tmp_path / "a.mp3"), 3, title="Song", artists=["Band"], album="LP",
                     genres=["Rock", "Metal"], year="1999", isrc="US-RC1-76-07839", mbid=MBID)
    tags = read_tags(path)
    assert tags.format == "ID3v2.3"
    assert (tags.title, tags.artists, tags.album, tags.date) == ("Song", ("Band",), "LP", "1999")
    assert tags.genres == (("Rock", "ID3v2.3 TCON"), ("Metal", "ID3v2.3 TCON"))  # written "Rock/Metal"
    assert tags.isrc == "USRC17607839" and tags.musicbrainz_recording_id == MBID
    assert tags.duration_s == pytest.approx(3.0, abs=0.1)


def test_id3v24_keeps_several_artists_and_genres_apart(tmp_path: Path) -> None:
    path = media.id3(media.tone(tmp_path / "a.mp3"), 4, title="Duet", artists=["A", "B"],
                     genres=["Jazz", "Soul"], year="2001-05-03")
    tags = read_tags(path)
    assert tags.format == "ID3v2.4" and tags.artists == ("A", "B") and tags.date == "2001-05-03"
    assert [g for g, _ in tags.genres] == ["Jazz", "Soul"]


def test_numeric_genres_are_names(tmp_path: Path) -> None:
    v1 = read_tags(media.id3v1_only(media.tone(tmp_path / "v1.mp3"), 17))  # ID3v1 genre byte 17
    assert v1.format == "ID3v1" and [g for g, _ in v1.genres] == ["Rock"]
    assert (v1.title, v1.artists, v1.date) == ("Old Tag", ("V1 Band",), "1999")
    ref = read_tags(media.id3(media.tone(tmp_path / "ref.mp3"), 3, genres=["(17)"]))  # ID3v2 reference
    assert [g for g, _ in ref.genres] == ["Rock"]


@pytest.mark.parametrize("ext", ["flac", "ogg", "opus"])
def test_vorbis_comments_with_genre_written_rock_semicolon_metal(tmp_path: Path, ext: str) -> None:
    path = media.vorbis(media.tone(tmp_path / f"a.{ext}"), genre="Rock;Metal", artist=["X", "Y"], title="T",
                        album="Al", date="2010-02", isrc="GBAYE0601498", musicbrainz_trackid=MBID)
    tags = read_tags(path)
    assert tags.format == "Vorbis comments"
    assert [g for g, _ in tags.genres] == ["Rock", "Metal"]
    assert (tags.title, tags.artists, tags.album, tags.date) == ("T", ("X", "Y"), "Al", "2010-02")
    assert tags.isrc == "GBAYE0601498" and tags.musicbrainz_recording_id == MBID


def test_mp4_atoms(tmp_path: Path) -> None:
    path = media.vorbis(media.tone(tmp_path / "a.m4a"), **{
        "\u00a9gen": "Hip-Hop", "\u00a9ART": "MC", "\u00a9nam": "Rhymes", "\u00a9alb": "Tape",
        "\u00a9day": "2004-05-01T07:00:00Z"})
    tags = read_tags(path)
    assert tags.format == "MP4"
    assert (tags.title, tags.artists, tags.album, tags.date) == ("Rhymes", ("MC",), "Tape", "2004-05-01")
    assert tags.genres == (("Hip-Hop", "MP4 \u00a9gen"),)


def test_wrong_encodings_are_read_as_well_as_possible_and_never_crash(tmp_path: Path) -> None:
    # UTF-8 bytes in a frame declared Latin-1 (a common tagger bug) read back as meant
    moji = read_tags(media.id3(media.tone(tmp_path / "m.mp3"), 3, artists=["Caf\u00c3\u00a9"], latin1=True))
    assert moji.artists == ("Café",)
    # a frame declared UTF-8 holding a Latin-1 byte: mutagen drops that frame, the rest is read
    bad = media.id3(media.tone(tmp_path / "b.mp3"), 4, artists=["Good"], title="CafX", genres=["Blues"])
    media.replace_bytes(bad, b"CafX", b"Caf\xe9")
    tags = read_tags(bad)
    assert tags.title is None and tags.artists == ("Good",) and [g for g, _ in tags.genres] == ["Blues"]
    # a Vorbis comment that is not UTF-8: read with a replacement character
    flac = media.vorbis(media.tone(tmp_path / "c.flac"), artist="BjXrk", genre="Pop")
    media.replace_bytes(flac, b"BjXrk", b"Bj\xf6rk")
    tags = read_tags(flac)
    assert tags.artists == ("Bj\ufffdrk",) and [g for g, _ in tags.genres] == ["Pop"]


def test_files_that_are_not_audio_give_empty_tags_with_a_reason(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("this is not an MP3\n")
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    for path in (text, empty):
        tags = read_tags(path)
        assert tags.genres == () and tags.title is None and tags.problem


def test_placeholder_artists_are_no_artist(tmp_path: Path) -> None:
    path = media.vorbis(media.tone(tmp_path / "a.ogg"), artist=["Unknown Artist", "[unknown]"], genre="Jazz")
    assert read_tags(path).artists == ()


def test_helpers() -> None:
    assert split_genres(["Rock; Metal", "Rock/Pop", "Folk, World, & Country", " ", "Jazz|Blues\\Soul"]) == [
        "Rock", "Metal", "Pop", "Folk, World, & Country", "Jazz", "Blues", "Soul"]
    assert repair_mojibake("CafÃ©") == "Café" and repair_mojibake("Café") == "Café"
    assert repair_mojibake("plain") == "plain" and repair_mojibake("Ωmega") == "Ωmega"
    assert parse_date("2004-05-01T07:00:00Z") == "2004-05-01" and parse_date("1999") == "1999"
    assert parse_date("2004-13-01") == "2004" and parse_date("unknown") is None and parse_date(None) is None
