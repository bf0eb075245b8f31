"""What users paste as playlists, and the genre -> playlist lists they come in."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.spotify.refs import RefError, parse_inline, parse_playlist_ref, parse_playlists_arg
from manifests.errors import UserError

PID = "37i9dQZF1DXcBWIGoYBM5M"
OTHER = "3cEYpjA9oz9GiPac4AsH4n"


@pytest.mark.parametrize("ref", [
    f"https://open.spotify.com/playlist/{PID}?si=4f1a2b3c4d5e6f70",
    f"https://open.spotify.com/playlist/{PID}",
    f"http://open.spotify.com/playlist/{PID}/",
    f"open.spotify.com/playlist/{PID}",
    f"https://open.spotify.com/intl-de/playlist/{PID}?si=x&pt=y",
    f"https://open.spotify.com/embed/playlist/{PID}?utm_source=generator",
    f"https://open.spotify.com/user/spotify/playlist/{PID}",
    f"spotify:playlist:{PID}",
    f"spotify:user:someone:playlist:{PID}",
    PID,
    f"  {PID}  ",
])
def test_every_pasted_form_gives_the_playlist_id(ref: str) -> None:
    assert parse_playlist_ref(ref) == PID


@pytest.mark.parametrize(("ref", "words"), [
    (f"https://open.spotify.com/track/{PID}", "track link, not a playlist"),
    (f"https://open.spotify.com/album/{PID}?si=1", "album link, not a playlist"),
    (f"spotify:artist:{PID}", "artist URI, not a playlist"),
    ("https://spotify.link/AbCdEf", "short link"),
    ("https://www.youtube.com/playlist?list=PL123", "not a Spotify link"),
    ("spotify:playlist:tooShort", "valid playlist ID"),
    (PID + "X", "valid playlist ID"),
    ("", "empty"),
])
def test_other_references_are_refused_saying_why(ref: str, words: str) -> None:
    with pytest.raises(RefError, match=words):
        parse_playlist_ref(ref)


def test_inline_form_with_quoted_genres_urls_and_comma_separators() -> None:
    reqs = parse_inline(f'rock={PID} "hip hop=spotify:playlist:{OTHER}" '
                        f'jazz=https://open.spotify.com/playlist/{PID}?si=a1b2,blues={OTHER}')
    assert [(r.genre, r.playlist_id) for r in reqs] == [
        ("rock", PID), ("hip hop", OTHER), ("jazz", PID), ("blues", OTHER)]
    assert reqs[2].ref == f"https://open.spotify.com/playlist/{PID}?si=a1b2"


def test_inline_item_without_genre_is_named_in_the_error() -> None:
    with pytest.raises(UserError, match=r"PLAYLISTS item 2 \('" + OTHER + r"'\): expected GENRE=PLAYLIST"):
        parse_inline(f"rock={PID} {OTHER}")


def test_inline_bad_reference_names_item_and_reference() -> None:
    with pytest.raises(UserError, match=r"PLAYLISTS item 1 .*track link"):
        parse_playlists_arg(f"rock=https://open.spotify.com/track/{PID}")


def test_playlists_file_with_bom_comments_semicolons_and_repeats(tmp_path: Path) -> None:
    path = tmp_path / "playlists.csv"
    path.write_text("\ufeff# my genres\ngenre;playlist\nrock;https://open.spotify.com/playlist/"
                    f"{PID}?si=1\n\n  Hip  Hop ;spotify:playlist:{OTHER}\nrock;{PID}\nindie;{PID}\n",
                    encoding="utf-8")
    reqs = parse_playlists_arg(str(path))
    assert [(r.genre, r.playlist_id) for r in reqs] == [("rock", PID), ("Hip Hop", OTHER), ("indie", PID)]
    assert reqs[0].where == f"{path} row 3"


def test_playlists_file_bad_row_is_named_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "playlists.csv"
    path.write_text(f"genre,playlist\nrock,{PID}\n# comment\njazz,https://open.spotify.com/album/{PID}\n")
    with pytest.raises(UserError, match=rf"{path} row 4: .*album link, not a playlist"):
        parse_playlists_arg(str(path))


def test_playlists_file_needs_its_columns_and_a_genre(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"name,link\nrock,{PID}\n")
    with pytest.raises(UserError, match="lacks the columns 'genre' and 'playlist'"):
        parse_playlists_arg(str(path))
    path.write_text(f"genre,playlist\n ,{PID}\n")
    with pytest.raises(UserError, match="row 2: the genre is empty"):
        parse_playlists_arg(str(path))


def test_export_files_are_accepted_relative_to_the_list_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "my_jazz.csv").write_text("title,artists\nA,B\n")
    path = tmp_path / "playlists.csv"
    path.write_text(f"genre,playlist\njazz,exports/my_jazz.csv\nrock,{PID}\n")
    reqs = parse_playlists_arg(str(path))
    assert reqs[0].is_file and reqs[0].playlist_id == "my_jazz.csv" and not reqs[1].is_file
    path.write_text("genre,playlist\njazz,exports/missing.csv\n")
    with pytest.raises(UserError, match="row 2: export file 'exports/missing.csv' not found"):
        parse_playlists_arg(str(path))


def test_a_missing_file_is_not_mistaken_for_an_inline_list(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file, and not an inline list"):
        parse_playlists_arg(str(tmp_path / "nope.csv"))
