"""Offline mode: a folder of saved pages matched to tracks; the page index makes reruns cheap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectors.sources.base import SourceConfigError
from collectors.sources.rym import RymSource, SavedPages
from tests.sources.rym_html import CHALLENGE, artist_page, release_page, song_page


def track(tid: str, artists: list[str], title: str, album: str | None = None) -> dict:
    return {"track_id": tid, "artists": artists, "title": title, "album": album}


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    folder = tmp_path / "saved"
    (folder / "deep" / "er").mkdir(parents=True)
    (folder / "loveless.html").write_text(release_page(
        "My Bloody Valentine", "Loveless", ["Shoegaze"], ["Noise Pop", "Dream Pop"],
        tracks=["Only Shallow", "Loomer", "When You Sleep"]), encoding="utf-8")
    (folder / "deep" / "er" / "agaetis.htm").write_text(release_page(
        "Sigur Rós", "Ágætis byrjun", ["Post-Rock"], ["Dream Pop"]), encoding="utf-8")
    (folder / "teardrop.html").write_text(song_page("Massive Attack", "Teardrop", ["Trip Hop"], ["Downtempo"]),
                                          encoding="utf-8")
    (folder / "massive.html").write_text(artist_page("Massive Attack", ["Trip Hop", "Electronic"]), encoding="utf-8")
    (folder / "single.html").write_text(release_page("Burial", "Archangel", ["Future Garage"], kind="Single"),
                                        encoding="utf-8")
    (folder / "challenge.html").write_text(CHALLENGE, encoding="utf-8")
    (folder / "notes.txt").write_text("not a page", encoding="utf-8")
    return folder


def test_tracks_match_by_song_album_single_tracklist_and_artist(saved: Path, tmp_path: Path) -> None:
    pages = SavedPages(saved, tmp_path / "index.json").load()
    assert pages.counts() == {"release": 3, "song": 1, "artist": 1, "blocked": 1}
    source = RymSource(pages=pages)
    by_album = source.claims_for(track("t1", ["My Bloody Valentine"], "Soon", "Loveless (Remastered)"))
    assert [(c.raw_genre, c.weight) for c in by_album] == [("Shoegaze", 1.0), ("Noise Pop", 0.5), ("Dream Pop", 0.5)]
    assert by_album[0].evidence == "https://rateyourmusic.com/release/album/my-bloody-valentine/loveless/"
    assert "artist and album match" in by_album[0].detail
    unicode_match = source.claims_for(track("t2", ["SIGUR ROS"], "Svefn-g-englar", "ágætis BYRJUN"))
    assert [c.raw_genre for c in unicode_match] == ["Post-Rock", "Dream Pop"]
    song = source.claims_for(track("t3", ["Massive Attack", "Elizabeth Fraser"], "Teardrop", "Mezzanine"))
    assert [(c.raw_genre, c.weight) for c in song] == [("Trip Hop", 1.0), ("Downtempo", 0.5)]
    assert song[0].detail.startswith("song primary")
    artist_only = source.claims_for(track("t4", ["Massive Attack"], "Angel", "Mezzanine"))
    assert [(c.raw_genre, c.weight) for c in artist_only] == [("Trip Hop", 0.5), ("Electronic", 0.5)]
    assert source.claims_for(track("t5", ["Burial"], "Archangel", "Untrue"))[0].raw_genre == "Future Garage"
    in_tracklist = source.claims_for(track("t6", ["My Bloody Valentine"], "Loomer", None))
    assert "listing the track" in in_tracklist[0].detail
    assert source.claims_for(track("t7", ["Nobody Here"], "Loomer", "Loveless")) == []


def test_index_reparses_only_changed_files_and_fingerprint_follows_the_folder(saved: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index.json"
    first = SavedPages(saved, index).load()
    parsed: list[int] = []
    import collectors.sources.rym.offline as offline

    real = offline.parse_page
    monkeypatch.setattr(offline, "parse_page", lambda html, url=None: parsed.append(1) or real(html, url))
    again = SavedPages(saved, index).load()
    assert parsed == [] and again.fingerprint() == first.fingerprint()
    (saved / "new.html").write_text(release_page("Low", "Long Division", ["Slowcore"]), encoding="utf-8")
    os.utime(saved / "loveless.html", ns=(1, 1))
    third = SavedPages(saved, index).load()
    assert len(parsed) == 2 and third.fingerprint() != first.fingerprint()


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match="no such folder"):
        SavedPages(tmp_path / "nope")
