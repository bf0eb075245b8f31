"""Reading playlists through spotipy from the fake Web API: paging, skipped entries, faults, errors."""

from __future__ import annotations

import math

import pytest

from collectors.spotify.client import SpotifyError, StopCollecting, parse_retry_after
from collectors.spotify.fetch import fetch_items, fetch_meta
from tests.servers.spotify import entry, episode_object, local_track_object, spotify_id, track_object, tracks

PID = spotify_id("playlist:rock")


def _read(client, pid=PID, market="from_token"):
    meta = fetch_meta(client, pid, market)
    return fetch_items(client, meta, market, progress=False)


def test_large_playlist_is_read_50_at_a_time_following_absolute_next_links(fake, make_client) -> None:
    fake.add_playlist(PID, "Big Rock", tracks(1001))
    client = make_client()
    result = _read(client)
    assert result.status == "ok" and result.n_items == 1001 and len(result.entries) == 1001
    assert result.meta.name == "Big Rock" and result.meta.owner == "Listener" and result.meta.snapshot_id
    # the floor: one metadata request plus one per 50 items, nothing per track
    assert fake.requests_to("items") == math.ceil(1001 / 50) and fake.requests_to("playlist") == 1
    assert client.attempts == 1 + math.ceil(1001 / 50)
    pages = [path for method, path in fake.log if "/items" in path]
    assert all("limit=50" in p and "fields=" in p and "market=from_token" in p for p in pages)
    assert fake.requests_to("other") == 0  # never the removed /tracks endpoint
    first = result.entries[0]
    assert first.title == "Song 0" and first.artists == ["Artist 0"] and first.isrc == "QZTST0000000"
    assert first.album == "Album 0" and first.release_date == "2019-05-17" and first.duration_ms == 180000
    assert first.spotify_uri == f"spotify:track:{first.spotify_id}" and first.origin == "spotify"


def test_entries_under_item_and_under_the_older_track_key_are_both_read(fake, make_client) -> None:
    fake.add_playlist(PID, "Mixed", tracks(3, key="item") + tracks(2, start=10, key="track"))
    result = _read(make_client())
    assert [e.title for e in result.entries] == ["Song 0", "Song 1", "Song 2", "Song 10", "Song 11"]


def test_local_episode_unavailable_and_null_entries_are_skipped_and_counted(fake, make_client) -> None:
    items = [*tracks(2), entry(local_track_object("Demo Take", "Me")), entry(episode_object(1)),
             entry(track_object(5, playable=False)), entry(None), entry(None, key="track"),
             entry(track_object(6, artists=["Beyoncé", "JAY-Z"], name='Déjà Vu "Live"'))]
    fake.add_playlist(PID, "Odd", items)
    result = _read(make_client())
    assert dict(result.skipped) == {"local": 1, "episode": 1, "unavailable": 1, "null": 2}
    assert result.n_items == len(items) and len(result.entries) == 3
    assert result.entries[-1].artists == ["Beyoncé", "JAY-Z"] and result.entries[-1].title == 'Déjà Vu "Live"'


def test_empty_playlist_is_ok_with_no_tracks(fake, make_client) -> None:
    fake.add_playlist(PID, "Empty", [])
    result = _read(make_client())
    assert result.status == "ok" and result.entries == [] and result.n_items == 0
    assert fake.requests_to("items") == 1


def test_429_below_the_cap_is_waited_out_and_retried(fake, make_client, sleeps) -> None:
    fake.add_playlist(PID, "Rock", tracks(120))
    fake.add_fault("429", match="offset=50", times=2, retry_after="7")
    client = make_client(max_retry_after_s=30)
    result = _read(client)
    assert result.status == "ok" and len(result.entries) == 120
    assert sleeps == [7, 7] and client.waited_s == 14
    assert fake.requests_to("items") == 3 + 2


def test_429_beyond_the_cap_stops_keeping_what_was_collected(fake, make_client, sleeps) -> None:
    fake.add_playlist(PID, "Rock", tracks(120))
    fake.add_fault("429", match="offset=100", retry_after="3600")
    result = _read(make_client(max_retry_after_s=60))
    assert result.status == "partial" and len(result.entries) == 100
    assert isinstance(result.error, StopCollecting) and result.error.fatal and result.error.kind == "rate_limited"
    assert "3600 s" in result.reason and "60 s cap" in result.reason and "stopped after 100 of 120" in result.reason
    assert sleeps == []  # never slept through the hour


def test_total_wait_budget_stops_a_run_of_repeated_429s(fake, make_client, sleeps) -> None:
    fake.add_playlist(PID, "Rock", tracks(10))
    fake.add_fault("429", match="/items", times=5, retry_after="10")
    result = _read(make_client(max_retry_after_s=60, max_total_wait_s=25))
    assert result.status == "failed" and result.error.kind == "rate_limited"
    assert sleeps == [10, 10] and "already waited 20 s" in result.reason


def test_429_without_retry_after_uses_a_default_wait(fake, make_client, sleeps) -> None:
    fake.add_playlist(PID, "Rock", tracks(3))
    fake.add_fault("429", match="/items")
    assert _read(make_client(default_retry_after_s=2.5)).status == "ok"
    assert sleeps == [2.5]


@pytest.mark.parametrize("kind", ["500", "502", "503", "reset", "truncate"])
def test_server_errors_resets_and_truncated_bodies_are_retried_with_backoff(fake, make_client, sleeps, kind) -> None:
    fake.add_playlist(PID, "Rock", tracks(60))
    fake.add_fault(kind, match="offset=50", times=3)
    result = _read(make_client(max_retries=4))
    assert result.status == "ok" and len(result.entries) == 60
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # exponential backoff


def test_a_burst_longer_than_the_retries_gives_a_partial_playlist(fake, make_client) -> None:
    fake.add_playlist(PID, "Rock", tracks(60))
    fake.add_fault("503", match="offset=50", times=10)
    result = _read(make_client(max_retries=2))
    assert result.status == "partial" and len(result.entries) == 50
    assert result.error.kind == "server" and not result.error.fatal and "503" in result.reason


def test_connection_resets_beyond_the_retries_stop_the_run(fake, make_client) -> None:
    fake.add_playlist(PID, "Rock", tracks(10))
    fake.add_fault("reset", match="/items", times=10)
    result = _read(make_client(max_retries=1))
    assert result.status == "failed" and result.error.kind == "network" and result.error.fatal


def test_playlist_the_user_does_not_own_teaches_copy_or_export(fake, make_client) -> None:
    fake.add_playlist(PID, "Someone else's", tracks(5), owned=False, owner_id="other")
    result = _read(make_client())
    assert result.status == "failed" and result.error.kind == "not_owner" and not result.error.fatal
    assert "copy it into a playlist you own" in result.reason and "python -m collectors import-export" in result.reason


def test_app_token_reads_any_playlist_like_an_extended_quota_app(fake, make_client) -> None:
    fake.add_playlist(PID, "Someone else's", tracks(5), owned=False)
    assert len(_read(make_client(auth="client")).entries) == 5
    assert fake.requests_to("token") == 1


def test_premium_required_is_explained_and_fatal(fake, make_client) -> None:
    fake.add_playlist(PID, "Rock", tracks(5))
    fake.premium_required = True
    with pytest.raises(SpotifyError) as caught:
        fetch_meta(make_client(), PID, None)
    assert caught.value.kind == "premium" and caught.value.fatal and "Premium subscription" in str(caught.value)


def test_editorial_playlists_404_with_advice(fake, make_client) -> None:
    fake.add_playlist(PID, "Today's Top Hits", tracks(5), editorial=True)
    with pytest.raises(SpotifyError) as caught:
        fetch_meta(make_client(), PID, None)
    assert caught.value.kind == "not_found" and not caught.value.fatal
    assert "editorial" in str(caught.value) and "Exportify" in str(caught.value)


def test_revoked_token_is_a_fatal_401_telling_to_sign_in_again(fake, make_client) -> None:
    fake.add_playlist(PID, "Rock", tracks(5))
    client = make_client()
    fake.revoke_all()
    with pytest.raises(SpotifyError) as caught:
        fetch_meta(client, PID, None)
    assert caught.value.kind == "unauthorized" and caught.value.fatal and "spotify-login" in str(caught.value)


def test_expired_sign_in_is_refreshed_without_a_browser(fake, creds, token_cache, make_client) -> None:
    fake.add_playlist(PID, "Rock", tracks(5))
    token_cache.save_token_to_cache(fake.issue_user_token(expires_in=-10))
    old = token_cache.get_cached_token()["access_token"]
    assert len(_read(make_client()).entries) == 5
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"
    assert token_cache.get_cached_token()["access_token"] != old


def test_retry_after_header_forms() -> None:
    assert parse_retry_after("120") == 120 and parse_retry_after(" 0 ") == 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
