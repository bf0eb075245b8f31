"""Exportify files (every layout its versions wrote) and plain CSV files, read offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.spotify.exports import read_export, split_artists
from manifests.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures"


def test_current_exportify_layout() -> None:
    export = read_export(FIXTURES / "exportify_current.csv")
    assert export.layout == "exportify" and export.n_rows == 9
    assert dict(export.skipped) == {"local": 1, "episode": 1, "unavailable": 1}  # Is Playable false
    by_title = {e.title: e for e in export.entries}
    crying = by_title["Crying"]
    assert crying.artists == ["Six by Seven"] and crying.isrc == "UK4UP1300002"
    assert crying.spotify_id == "1GrLfs4TEvAZ86HVzXHchS" and crying.spotify_uri == "spotify:track:1GrLfs4TEvAZ86HVzXHchS"
    assert crying.duration_ms == 198093 and crying.release_date == "2017-02-17" and crying.origin == "exportify"
    assert by_title["EARFQUAKE"].artists == ["Tyler, The Creator", "Kali Uchis"]  # escaped comma kept in the name
    assert by_title["Hoppípolla"].artists == ["Sigur Rós"] and by_title["Hoppípolla"].album == "Takk..."
    quoted = by_title['Hello, "World" (Live at the Roundhouse)']
    assert quoted.isrc is None and quoted.release_date == "2003"
    assert by_title["坂本龍一 - Merry Christmas Mr. Lawrence"].release_date == "1983-01"
    assert [e.title for e in export.entries].count("Crying") == 2  # duplicates are merged later, by dedupe


def test_exportify_net_layout_with_semicolon_artists_bom_and_undefined_cells() -> None:
    export = read_export(FIXTURES / "exportify_net.csv")
    assert export.layout == "exportify.net" and len(export.entries) == 3
    first, second, third = export.entries
    assert first.artists == ["Tyler, The Creator", "Kali Uchis"] and first.spotify_id == "5hVghJ4KaYES3BFUATCYn0"
    assert second.album == "÷ (Deluxe)" and second.duration_ms == 233712 and second.isrc is None
    assert third.title == "Bohemian Rhapsody - Remastered 2011" and third.release_date == "1975-11-21"


def test_older_exportify_net_layout_with_spotify_id_and_comma_artists() -> None:
    export = read_export(FIXTURES / "exportify_net_older.csv")
    assert [e.artists for e in export.entries] == [["The Killers"], ["Daft Punk", "Pharrell Williams"]]
    assert export.entries[0].spotify_id == "3n3Ppam7vgaVa1iaRUc9Lp"


def test_original_exportify_layout() -> None:
    export = read_export(FIXTURES / "exportify_original.csv")
    assert export.layout == "exportify-original"
    (entry,) = export.entries
    assert entry.artists == ["Daft Punk", "Pharrell Williams"] and entry.duration_ms == 369626
    assert entry.spotify_id == "2Foc5Q5nqNiosCNqttzHof"


def test_plain_csv_with_durations_in_minutes_and_track_links() -> None:
    export = read_export(FIXTURES / "plain.csv")
    assert export.layout == "plain" and len(export.entries) == 3
    lucky, carosone, debussy = export.entries
    assert lucky.artists == ["Daft Punk", "Pharrell Williams", "Nile Rodgers"] and lucky.duration_ms == 369000
    assert lucky.isrc == "USQX91300108" and lucky.origin == "csv"
    assert carosone.title == "Tu Vuò Fà L'Americano" and carosone.release_date == "1956" and carosone.album is None
    assert debussy.spotify_id == "5u5aVJKjSMJr4zesMPz7bL" and debussy.duration_ms is None


def test_fingerprint_changes_with_the_content(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("title,artists\nA,B\n")
    before = read_export(path).fingerprint
    path.write_text("title,artists\nA,B\nC,D\n")
    assert read_export(path).fingerprint != before and before.startswith("sha256:")


@pytest.mark.parametrize(("text", "words"), [
    ("name,who\nA,B\n", "not an Exportify export"),
    ("", "the file is empty"),
    ("title,artists\n", "a header but no rows"),
    ('title,artists\n"unclosed,B\n', "malformed CSV"),
    ("title,artists\n,B\n", "line 2: the title is empty"),
    ("title,artists\nA,\n", "line 2: no artist for 'A'"),
    ("title,artists,duration\nA,B,long\n", "line 2: duration 'long' is not a number"),
    ("title,artists,isrc\nA,B,USUM1\n", "line 2: 'USUM1' is not an ISRC"),
    ("title,artists,spotify\nA,B,spotify:album:5u5aVJKjSMJr4zesMPz7bL\n", "not a Spotify track ID"),
    ("title,artists,release_date\nA,B,last year\n", "release date 'last year'"),
])
def test_bad_files_are_refused_naming_file_and_line(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=words) as caught:
        read_export(path)
    assert str(path) in str(caught.value)


def test_non_utf8_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("title,artists\nCaf\xe9,B\n".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        read_export(path)


def test_artist_splitting_per_layout() -> None:
    assert split_artists("Earth\\, Wind & Fire, Kali Uchis", "exportify") == ["Earth, Wind & Fire", "Kali Uchis"]
    assert split_artists("Earth, Wind & Fire,Kali Uchis", "exportify.net") == ["Earth, Wind & Fire", "Kali Uchis"]
    assert split_artists("A; B ;C", "plain") == ["A", "B", "C"]
    assert split_artists("undefined", "exportify") == []
