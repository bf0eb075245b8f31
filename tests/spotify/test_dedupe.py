"""One row per recording: Spotify ID, then ISRC, then artist + title + duration within 2 s."""

from __future__ import annotations

from collectors.spotify.dedupe import TrackIndex
from collectors.spotify.entries import TrackEntry
from manifests.ids import make_track_id


def _entry(title="Song", artists=("Artist",), origin="spotify", **kw) -> TrackEntry:
    return TrackEntry(title=title, artists=list(artists), origin=origin, **kw)


def test_same_spotify_id_in_two_playlists_is_one_row_with_both() -> None:
    index = TrackIndex()
    a = index.add(_entry(spotify_id="1GrLfs4TEvAZ86HVzXHchS"), "P1")
    b = index.add(_entry(spotify_id="1GrLfs4TEvAZ86HVzXHchS"), "P2")
    index.add(_entry(spotify_id="1GrLfs4TEvAZ86HVzXHchS"), "P2")  # twice in one playlist
    assert a == b and index.rows[a]["playlists"] == ["P1", "P2"] and len(index.rows) == 1
    assert a == make_track_id("spotify", "1GrLfs4TEvAZ86HVzXHchS")


def test_same_isrc_under_two_spotify_ids_is_one_recording() -> None:
    index = TrackIndex()
    a = index.add(_entry(title="Crying", spotify_id="1GrLfs4TEvAZ86HVzXHchS", isrc="UK4UP1300002",
                         album="Single"), "P1")
    b = index.add(_entry(title="Crying - Remastered", spotify_id="2GrLfs4TEvAZ86HVzXHchS", isrc="UK4UP1300002",
                         album="Best Of"), "P2")
    assert a == b == make_track_id("isrc", "UK4UP1300002")
    assert index.rows[a]["album"] == "Single" and index.rows[a]["playlists"] == ["P1", "P2"]
    assert index.match(_entry(spotify_id="2GrLfs4TEvAZ86HVzXHchS")) == a


def test_artist_title_match_needs_durations_within_two_seconds() -> None:
    index = TrackIndex()
    studio = index.add(_entry(title="Hey Jude", artists=["The Beatles"], duration_ms=431000,
                              spotify_id="0aym2LBJBk9DAYuHHutrIl"), "P1")
    same = index.add(_entry(title="Hey Jude - Remastered 2015", artists=["the beatles", "Paul McCartney"],
                            duration_ms=432900, origin="exportify"), "P2")
    live = index.add(_entry(title="Hey Jude (Live)", artists=["The Beatles"], duration_ms=470000,
                            origin="exportify"), "P3")
    assert same == studio and live != studio and len(index.rows) == 2
    assert index.rows[studio]["artists"] == ["The Beatles"]  # the richer (Spotify API) row keeps its fields


def test_unknown_duration_matches_only_a_single_candidate() -> None:
    index = TrackIndex()
    one = index.add(_entry(title="Clair de Lune", artists=["Claude Debussy"], duration_ms=300000), "P1")
    assert index.add(_entry(title="Clair de lune", artists=["Claude Debussy"], origin="csv"), "P2") == one
    index.add(_entry(title="Clair de Lune", artists=["Claude Debussy"], duration_ms=200000), "P3")
    assert index.match(_entry(title="Clair de Lune", artists=["Claude Debussy"], origin="csv")) is None


def test_a_richer_source_replaces_fields_and_empty_fields_are_filled() -> None:
    index = TrackIndex()
    tid = index.add(_entry(title="get lucky", artists=["Daft Punk"], origin="csv", duration_ms=369000), "mine.csv")
    index.add(_entry(title="Get Lucky", artists=["Daft Punk", "Pharrell Williams", "Nile Rodgers"],
                     duration_ms=369626, isrc="USQX91300108", spotify_id="2Foc5Q5nqNiosCNqttzHof",
                     spotify_uri="spotify:track:2Foc5Q5nqNiosCNqttzHof", album="Random Access Memories",
                     release_date="2013-05-17"), "P1")
    row = index.rows[tid]
    assert row["title"] == "Get Lucky" and row["artists"] == ["Daft Punk", "Pharrell Williams", "Nile Rodgers"]
    assert row["isrc"] == "USQX91300108" and row["spotify_id"] == "2Foc5Q5nqNiosCNqttzHof"
    assert row["origin"] == "spotify" and row["playlists"] == ["mine.csv", "P1"]
    assert tid == make_track_id("text", "daft punk|get lucky|369000")  # the ID stays stable


def test_re_reading_a_playlist_drops_tracks_it_alone_held_and_keeps_foreign_rows() -> None:
    synthetic = {"track_id": "tsyn000000000001", "title": "Tone", "artists": ["Synth"], "origin": "synthetic",
                 "playlists": []}
    index = TrackIndex([synthetic])
    shared = index.add(_entry(title="Shared", spotify_id="1GrLfs4TEvAZ86HVzXHchS"), "P1")
    index.add(_entry(title="Shared", spotify_id="1GrLfs4TEvAZ86HVzXHchS"), "P2")
    only = index.add(_entry(title="Only P1", spotify_id="3n3Ppam7vgaVa1iaRUc9Lp"), "P1")
    index.remove_source("P1")
    assert only not in index.rows and index.rows[shared]["playlists"] == ["P2"]
    assert index.match(_entry(title="Only P1", spotify_id="3n3Ppam7vgaVa1iaRUc9Lp")) is None
    assert synthetic["track_id"] in {r["track_id"] for r in index.all_rows()}


def test_an_id_collision_gets_a_distinct_stable_suffix() -> None:
    index = TrackIndex()
    first = index.add(_entry(title="Intro", artists=["Band"], origin="csv"), "A")  # key "band|intro|"
    assert index.add(_entry(title="Intro", artists=["Band"], duration_ms=120000, origin="csv"), "B") == first
    index.add(_entry(title="Intro", artists=["Band"], duration_ms=60000, origin="csv"), "C")  # 60 s apart: new
    ambiguous = index.add(_entry(title="Intro", artists=["Band"], origin="csv"), "D")  # two candidates: new
    assert len(index.rows) == 3 and ambiguous != first
    assert ambiguous == make_track_id("text", "band|intro|#2")
