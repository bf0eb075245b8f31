"""The whole collector against the fake Spotify: tables, claims, resuming, failures, the command line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collectors.cli import main, parser
from collectors.spotify.collect import CollectOptions, Collector, summary_text
from collectors.spotify.refs import parse_inline, parse_playlists_arg
from manifests import Layout, read_table, write_table
from manifests.schema import CLAIMS, PLAYLISTS, TRACKS
from tests.servers.spotify import entry, episode_object, local_track_object, spotify_id, track_object, tracks

ROCK = spotify_id("playlist:rock")
INDIE = spotify_id("playlist:indie")
JAZZ = spotify_id("playlist:jazz")
FIXTURES = Path(__file__).parent / "fixtures"


def _tables(layout):
    return (read_table(layout.table_path(TRACKS), TRACKS), read_table(layout.table_path(PLAYLISTS), PLAYLISTS),
            read_table(layout.table_path(CLAIMS), CLAIMS))


def _run(layout, make_client, text, **options):
    return Collector(layout, make_client, CollectOptions(progress=False, **options)).run(parse_inline(text))


@pytest.fixture
def library(fake):
    """Three playlists the user owns; one track is in two of them, one recording has two Spotify IDs."""
    fake.add_playlist(ROCK, "Rock Classics", [*tracks(60), entry(local_track_object("Garage Demo", "Me"))])
    same_recording = track_object(7, sid=spotify_id("track:7:single"))  # same ISRC as track 7, other ID
    fake.add_playlist(INDIE, "Indie", [*tracks(3, start=100), entry(track_object(5)), entry(same_recording),
                                       entry(episode_object(1)), entry(None)])
    fake.add_playlist(JAZZ, "Jazz", tracks(30, start=200, key="track"))
    return fake


def test_collects_tracks_playlists_and_claims(library, layout, make_client) -> None:
    summary = _run(layout, make_client, f"rock={ROCK} indie={INDIE} 'alt rock'={INDIE} jazz={JAZZ}")
    tracks_rows, playlist_rows, claims = _tables(layout)
    assert summary.all_ok and len(tracks_rows) == 60 + 3 + 30  # track 5 and both IDs of track 7 merged
    by_title = {r["title"]: r for r in tracks_rows}
    assert by_title["Song 5"]["playlists"] == [ROCK, INDIE]
    assert by_title["Song 7"]["playlists"] == [ROCK, INDIE] and by_title["Song 7"]["isrc"] == "QZTST0700007"
    assert all(r["origin"] == "spotify" and r["spotify_uri"] == f"spotify:track:{r['spotify_id']}" for r in tracks_rows)
    rows = {(r["genre"], r["playlist_id"]): r for r in playlist_rows}
    assert set(rows) == {("rock", ROCK), ("indie", INDIE), ("alt rock", INDIE), ("jazz", JAZZ)}
    indie = rows[("indie", INDIE)]
    assert indie["name"] == "Indie" and indie["owner"] == "Listener" and indie["n_items"] == 7
    assert indie["n_tracks"] == 5 and indie["skipped"] == {"episode": 1, "null": 1} and indie["status"] == "ok"
    assert rows[("rock", ROCK)]["skipped"] == {"local": 1} and rows[("rock", ROCK)]["snapshot_id"]
    assert all(c["source"] == "playlist" and c["weight"] == 1 for c in claims)
    claim_keys = {(c["track_id"], c["raw_genre"], c["evidence"]) for c in claims}
    song5 = by_title["Song 5"]["track_id"]
    assert {(song5, "rock", ROCK), (song5, "indie", INDIE), (song5, "alt rock", INDIE)} <= claim_keys
    assert len(claims) == 60 + 5 + 5 + 30
    assert summary.tracks_per_genre == {"alt rock": 5, "indie": 5, "jazz": 30, "rock": 60}
    # the playlist under two genres was fetched once
    assert library.requests_to("playlist") == 3 and library.requests_to("items") == 2 + 1 + 1
    text = summary_text(summary)
    assert "skipped entries: local 1, episode 1, unavailable 0, null 1" in text and "rock " in text


def test_rerun_with_one_more_playlist_fetches_only_that_playlist(library, layout, make_client) -> None:
    _run(layout, make_client, f"rock={ROCK} indie={INDIE}")
    before = dict(library.counts)
    again = _run(layout, make_client, f"rock={ROCK} indie={INDIE}")
    assert dict(library.counts) == before and again.requests == 0 and again.all_ok  # nothing asked at all
    more = _run(layout, make_client, f"rock={ROCK} indie={INDIE} jazz={JAZZ} 'alt rock'={INDIE}")
    assert library.requests_to("playlist") == before["playlist"] + 1
    assert library.requests_to("items") == before["items"] + 1  # 30 jazz items: one page
    assert more.fetched == [JAZZ] and more.reused == [INDIE] and more.requests == 2
    _, playlist_rows, claims = _tables(layout)
    assert len(playlist_rows) == 4 and {c["raw_genre"] for c in claims} == {"rock", "indie", "alt rock", "jazz"}


def test_one_bad_playlist_never_loses_the_others(library, layout, make_client) -> None:
    theirs, editorial = spotify_id("playlist:theirs"), "37i9dQZF1DXcBWIGoYBM5M"
    library.add_playlist(theirs, "Their Mix", tracks(5), owned=False, owner_id="someone")
    library.add_playlist(editorial, "Today's Top Hits", tracks(5), editorial=True)
    summary = _run(layout, make_client, f"rock={ROCK} pop={theirs} pop={editorial} jazz={JAZZ}")
    _, playlist_rows, claims = _tables(layout)
    status = {r["playlist_id"]: r for r in playlist_rows}
    assert status[ROCK]["status"] == status[JAZZ]["status"] == "ok"
    assert status[theirs]["status"] == "failed" and "copy it into a playlist you own" in status[theirs]["reason"]
    assert status[theirs]["name"] == "Their Mix"
    assert status[editorial]["status"] == "failed" and "editorial" in status[editorial]["reason"]
    assert {c["evidence"] for c in claims} == {ROCK, JAZZ} and not summary.all_ok
    assert "failed: pop / Their Mix" in summary_text(summary)


def test_rate_limit_beyond_the_cap_stops_the_run_keeping_what_was_read(library, layout, make_client) -> None:
    library.add_fault("429", match=f"{INDIE}/items", retry_after="86400")
    summary = _run(layout, make_client, f"rock={ROCK} indie={INDIE} jazz={JAZZ}")
    _, playlist_rows, claims = _tables(layout)
    status = {r["playlist_id"]: r["status"] for r in playlist_rows}
    assert status == {ROCK: "ok", INDIE: "failed", JAZZ: "failed"} and summary.stop.kind == "rate_limited"
    assert library.requests_to("items") == 2 + 1  # rock's pages and the refused one; jazz never asked
    jazz_reason = next(r["reason"] for r in playlist_rows if r["playlist_id"] == JAZZ)
    assert "not attempted" in jazz_reason and "stopped" in summary_text(summary)
    assert {c["evidence"] for c in claims} == {ROCK}
    resumed = _run(layout, make_client, f"rock={ROCK} indie={INDIE} jazz={JAZZ}")  # the limit has passed
    assert resumed.all_ok and resumed.fetched == [INDIE, JAZZ]


def test_rate_limit_in_the_middle_of_a_playlist_keeps_a_partial_playlist(fake, layout, make_client) -> None:
    fake.add_playlist(ROCK, "Rock", tracks(120))
    fake.add_fault("429", match="offset=100", retry_after="999999")
    summary = _run(layout, make_client, f"rock={ROCK}")
    tracks_rows, (row,), claims = _tables(layout)
    assert row["status"] == "partial" and row["n_tracks"] == 100 and "stopped after 100 of 120" in row["reason"]
    assert len(tracks_rows) == len(claims) == 100 and not summary.all_ok
    _run(layout, make_client, f"rock={ROCK}")  # a partial playlist is fetched again, whole
    tracks_rows, (row,), _ = _tables(layout)
    assert row["status"] == "ok" and len(tracks_rows) == 120


def test_premium_required_stops_at_the_first_request(library, layout, make_client) -> None:
    library.premium_required = True
    summary = _run(layout, make_client, f"rock={ROCK} jazz={JAZZ}")
    assert summary.stop.kind == "premium" and library.requests_to("playlist") == 1
    _, playlist_rows, _ = _tables(layout)
    assert [r["status"] for r in playlist_rows] == ["failed", "failed"]


def test_claims_of_other_sources_are_kept(library, layout, make_client) -> None:
    foreign = {"track_id": "tforeign0000001", "source": "musicbrainz", "raw_genre": "post-punk", "weight": 0.5,
               "evidence": "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d", "detail": "3 votes"}
    write_table(layout.table_path(CLAIMS), CLAIMS, [foreign])
    _run(layout, make_client, f"jazz={JAZZ}")
    _, _, claims = _tables(layout)
    assert foreign in claims and len(claims) == 31


def test_fresh_refetches_only_changed_playlists_and_drops_removed_tracks(library, layout, make_client) -> None:
    _run(layout, make_client, f"rock={ROCK} jazz={JAZZ}")
    items_before = library.requests_to("items")
    unchanged = _run(layout, make_client, f"rock={ROCK} jazz={JAZZ}", fresh=True)
    assert unchanged.unchanged == [ROCK, JAZZ] and library.requests_to("items") == items_before
    library.playlists[JAZZ].entries = library.playlists[JAZZ].entries[:10]
    library.playlists[JAZZ].snapshot_id = "changed-snapshot"
    changed = _run(layout, make_client, f"rock={ROCK} jazz={JAZZ}", fresh=True)
    assert changed.fetched == [JAZZ] and library.requests_to("items") == items_before + 1
    tracks_rows, playlist_rows, claims = _tables(layout)
    assert len(tracks_rows) == 60 + 10 and sum(c["evidence"] == JAZZ for c in claims) == 10
    assert next(r for r in playlist_rows if r["playlist_id"] == JAZZ)["snapshot_id"] == "changed-snapshot"


def test_prune_forgets_pairs_no_longer_asked_for(library, layout, make_client) -> None:
    _run(layout, make_client, f"rock={ROCK} jazz={JAZZ}")
    _run(layout, make_client, f"jazz={JAZZ}", prune=True)
    tracks_rows, playlist_rows, claims = _tables(layout)
    assert [r["playlist_id"] for r in playlist_rows] == [JAZZ] and len(tracks_rows) == 30
    assert {c["evidence"] for c in claims} == {JAZZ}


def test_exports_and_spotify_playlists_in_one_list(library, layout, make_client, tmp_path) -> None:
    playlists = tmp_path / "playlists.csv"
    playlists.write_text(f"genre,playlist\nrock,{ROCK}\nindie,{FIXTURES / 'exportify_current.csv'}\n"
                         f"hip hop,{FIXTURES / 'exportify_net.csv'}\n")
    requests = parse_playlists_arg(str(playlists))
    summary = Collector(layout, make_client, CollectOptions(progress=False)).run(requests)
    tracks_rows, playlist_rows, claims = _tables(layout)
    rows = {r["playlist_id"]: r for r in playlist_rows}
    export_row = rows["exportify_current.csv"]
    assert export_row["snapshot_id"].startswith("sha256:") and export_row["n_items"] == 9
    assert export_row["n_tracks"] == 6 and export_row["skipped"] == {"local": 1, "episode": 1, "unavailable": 1}
    earfquake = [r for r in tracks_rows if r["title"] == "EARFQUAKE"]
    assert len(earfquake) == 1 and earfquake[0]["playlists"] == ["exportify_current.csv", "exportify_net.csv"]
    assert earfquake[0]["artists"] == ["Tyler, The Creator", "Kali Uchis"] and earfquake[0]["origin"] == "exportify"
    crying = next(r for r in tracks_rows if r["title"] == "Crying")
    assert {(c["raw_genre"], c["evidence"]) for c in claims if c["track_id"] == crying["track_id"]} == {
        ("indie", "exportify_current.csv")}
    assert summary.all_ok and summary.fetched == [ROCK, "exportify_current.csv", "exportify_net.csv"]
    again = Collector(layout, None, CollectOptions(progress=False)).run(requests[1:])  # no Spotify needed
    assert again.unchanged == ["exportify_current.csv", "exportify_net.csv"] and again.fetched == []


# ---------------------------------------------------------------- the command line

@pytest.fixture
def cli_env(fake, creds, token_cache, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", creds.client_id)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", creds.client_secret)
    monkeypatch.setenv("SPOTIFY_API_URL", creds.api_url)
    monkeypatch.setenv("SPOTIFY_ACCOUNTS_URL", creds.accounts_url)
    monkeypatch.setenv("GENRE_SPOTIFY_TOKEN_CACHE", str(token_cache.path))
    monkeypatch.delenv("SPOTIFY_MARKET", raising=False)
    return tmp_path / "data"


def test_cli_collect_end_to_end_keeps_secrets_out(library, cli_env, token_cache, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    playlists = cli_env.parent / "playlists.csv"
    playlists.write_text(f"genre,playlist\nrock,https://open.spotify.com/playlist/{ROCK}?si=abc\n"
                         f"jazz,spotify:playlist:{JAZZ}\n")
    code = main(["collect", "--playlists", str(playlists), "--data", str(cli_env), "--request-interval", "0", "-vv"])
    out = capsys.readouterr()
    assert code == 0 and "rock" in out.out and "jazz" in out.out
    token = token_cache.get_cached_token()
    secrets = [token["access_token"], token["refresh_token"], library.client_secret]
    manifests = "".join(p.read_text() for p in (cli_env / "manifests").glob("*.csv"))
    for secret in secrets:
        assert secret not in caplog.text and secret not in out.out + out.err and secret not in manifests
    rows = read_table(cli_env / "manifests" / "playlists.csv", PLAYLISTS)
    assert {r["playlist_ref"] for r in rows} == {f"https://open.spotify.com/playlist/{ROCK}?si=abc",
                                                 f"spotify:playlist:{JAZZ}"}
    assert all("market=from_token" in path for _, path in library.log if "/items" in path)


def test_cli_client_credentials_and_market(library, cli_env, capsys) -> None:
    code = main(["collect", "--playlists", f"jazz={JAZZ}", "--auth", "client", "--market", "DE", "--data",
                 str(cli_env), "--request-interval", "0", "-q"])
    assert code == 0 and library.requests_to("token") == 1
    assert all("market=DE" in path for _, path in library.log if "/v1/" in path)


def test_cli_exit_codes_and_one_line_errors(library, cli_env, capsys) -> None:
    theirs = spotify_id("playlist:theirs")
    library.add_playlist(theirs, "Theirs", tracks(2), owned=False)
    assert main(["collect", "--playlists", f"rock={ROCK} pop={theirs}", "--data", str(cli_env),
                 "--request-interval", "0", "-q"]) == 1
    assert "failed: pop / Theirs" in capsys.readouterr().out
    assert main(["collect", "--playlists", f"rock=https://open.spotify.com/track/{ROCK}", "--data",
                 str(cli_env)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: PLAYLISTS item 1") and "track link" in err and "\n" not in err


def test_cli_without_a_sign_in_says_how_to_sign_in(library, cli_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GENRE_SPOTIFY_TOKEN_CACHE", str(cli_env.parent / "nobody.json"))
    assert main(["collect", "--playlists", f"rock={ROCK}", "--data", str(cli_env)]) == 2
    assert "spotify-login" in capsys.readouterr().err


def test_cli_import_export_with_genre_and_with_a_map(cli_env, tmp_path, capsys) -> None:
    code = main(["import-export", str(FIXTURES / "exportify_current.csv"), str(FIXTURES / "plain.csv"),
                 "--genre", "indie", "--data", str(cli_env)])
    assert code == 0
    mapping = tmp_path / "exports.csv"
    mapping.write_text(f"genre,file\nhip hop,{FIXTURES / 'exportify_net.csv'}\n")
    assert main(["import-export", "--map", str(mapping), "--data", str(cli_env)]) == 0
    tracks_rows, playlist_rows, _ = _tables(Layout.at(cli_env))
    assert {(r["genre"], r["playlist_id"]) for r in playlist_rows} == {
        ("indie", "exportify_current.csv"), ("indie", "plain.csv"), ("hip hop", "exportify_net.csv")}
    assert {r["origin"] for r in tracks_rows} == {"exportify", "csv"}
    assert "indie" in capsys.readouterr().out
    assert main(["import-export", str(FIXTURES / "exportify_current.csv"), "--data", str(cli_env)]) == 2
    assert "--genre is required" in capsys.readouterr().err


def test_cli_bad_export_writes_nothing(cli_env, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("title,artists\nA,\n")
    assert main(["import-export", str(FIXTURES / "plain.csv"), str(bad), "--genre", "x", "--data",
                 str(cli_env)]) == 2
    assert "bad.csv line 2" in capsys.readouterr().err and not (cli_env / "manifests").exists()


def test_cli_login_forget_removes_the_cached_sign_in(cli_env, token_cache, capsys) -> None:
    assert token_cache.path.exists()
    assert main(["spotify-login", "--forget"]) == 0
    assert not token_cache.path.exists() and "removed" in capsys.readouterr().out


def test_ctrl_c_keeps_the_playlists_already_finished(library, layout, make_client, monkeypatch) -> None:
    import collectors.spotify.collect as collect_module

    real, calls = collect_module.fetch_items, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(collect_module, "fetch_items", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(layout, make_client, f"rock={ROCK} jazz={JAZZ}")
    tracks_rows, playlist_rows, claims = _tables(layout)
    assert [(r["playlist_id"], r["status"]) for r in playlist_rows] == [(ROCK, "ok")]
    assert len(tracks_rows) == len(claims) == 60


@pytest.mark.parametrize("old, new", [
    (["--refresh"], ["--fresh"]),
    (["--interval", "0.5"], ["--request-interval", "0.5"]),
])
def test_old_collect_flag_names_still_work_with_one_deprecation_line(old, new, capsys) -> None:
    command = ["collect", "--playlists", f"rock={ROCK}"]
    assert vars(parser().parse_args(command + old)) == vars(parser().parse_args(command + new))
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {old[0]} is deprecated and will be removed; use {new[0]}"]
