"""The schema check the fake is held to really bites, and the fake's fields= filter is Spotify's."""

from __future__ import annotations

import copy

from tests.servers.spotify import (
    apply_fields,
    entry,
    episode_object,
    parse_fields,
    spotify_id,
    track_object,
    tracks,
)


def _page(items):
    return {"href": "https://api.spotify.com/v1/playlists/x/items", "items": items, "limit": 50, "next": None,
            "offset": 0, "previous": None, "total": len(items)}


def test_valid_fixtures_pass_and_broken_ones_fail(contract) -> None:
    page = _page([*tracks(2), entry(episode_object(1)), entry(None), entry(None, key="track")])
    assert contract.errors("PagingPlaylistTrackObject", page) == []
    broken = copy.deepcopy(page)
    del broken["next"]  # required
    broken["items"][0]["item"]["duration_ms"] = "3:00"  # integer
    broken["items"][1]["item"]["type"] = "song"  # neither a track nor an episode
    errors = contract.errors("PagingPlaylistTrackObject", broken)
    assert any("'next' is a required property" in e for e in errors)
    assert any(e.startswith("items/0/item") for e in errors)  # anyOf(track, episode, null) fails
    assert any(e.startswith("items/1/item") for e in errors)
    album_without_fields = copy.deepcopy(page)
    del album_without_fields["items"][0]["item"]["album"]["album_type"]
    assert contract.errors("PagingPlaylistTrackObject", album_without_fields)


def test_filtered_bodies_may_lack_required_fields_but_not_break_types(contract) -> None:
    filtered = apply_fields(_page(tracks(1)), parse_fields("next,total,items(item(type,name,album(name)))"))
    assert contract.errors("PagingPlaylistTrackObject", filtered)  # strict: lacks href, limit, album_type...
    assert contract.errors("PagingPlaylistTrackObject", filtered, relaxed=True) == []
    filtered["items"][0]["item"]["album"]["name"] = 7
    assert contract.errors("PagingPlaylistTrackObject", filtered, relaxed=True)


def test_errors_tokens_and_playlists(contract) -> None:
    assert contract.errors("error:403", {"error": {"status": 403, "message": "Forbidden"}}) == []
    assert contract.errors("error:429", {"error": {"status": 429}})  # message is required
    assert contract.errors("error:503", {"error": {"status": 503, "message": "Service unavailable"}}) == []
    assert contract.errors("error:502", {"error": {"status": 700, "message": "x"}})
    assert contract.errors("token", {"access_token": "BQx", "token_type": "Bearer", "expires_in": 3600}) == []
    assert contract.errors("token", {"access_token": "BQx", "expires_in": 3600})
    assert contract.errors("token-error", {"error": "invalid_grant", "error_description": "bad"}) == []
    assert contract.errors("PlaylistObject", {"snapshot_id": 12, "owner": {"display_name": None}}, relaxed=True)
    assert contract.errors("PlaylistObject", {"snapshot_id": "a", "owner": {"display_name": None}},
                           relaxed=True) == []


def test_every_body_of_a_fetch_is_recorded_for_validation(fake, make_client) -> None:
    from collectors.spotify.fetch import fetch_items, fetch_meta

    pid = spotify_id("playlist:contract")
    fake.add_playlist(pid, "Contract", [*tracks(51), entry(track_object(99, playable=False))])
    fake.add_fault("503", match="offset=50")
    client = make_client()
    fetch_items(client, fetch_meta(client, pid, "US"), "US", progress=False)
    assert [(s.schema, s.status, s.filtered) for s in fake.served] == [
        ("PlaylistObject", 200, True), ("PagingPlaylistTrackObject", 200, True), ("error:503", 503, False),
        ("PagingPlaylistTrackObject", 200, True)]
    # the unfiltered playlist body embeds its first page, as Spotify does for owned playlists
    assert fake.served[0].full["items"]["total"] == 52 and "items" not in fake.served[0].body


def test_fields_filter_follows_spotify_syntax() -> None:
    spec = parse_fields("id,owner.id,owner.display_name,items(item(name,artists(name)))")
    assert spec == {"id": None, "owner": {"id": None, "display_name": None},
                    "items": {"item": {"name": None, "artists": {"name": None}}}}
    body = {"id": "p", "name": "drop me", "owner": {"id": "u", "display_name": "U", "href": "h"},
            "items": [{"added_at": "t", "item": {"name": "S", "artists": [{"name": "A", "id": "x"}], "id": "i"}}]}
    assert apply_fields(body, spec) == {"id": "p", "owner": {"id": "u", "display_name": "U"},
                                        "items": [{"item": {"name": "S", "artists": [{"name": "A"}]}}]}
