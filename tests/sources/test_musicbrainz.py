"""MusicBrainz against a WS/2 JSON server on 127.0.0.1: levels, votes, search, rate limiting, cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.sources.base import TrackFailed
from collectors.sources.musicbrainz import MusicBrainzSource, default_policy
from tests.servers.local_site import LocalSite, Reply
from tests.servers.musicbrainz import (
    ART_MASSIVE,
    REC_ANGEL,
    REC_TAGGED,
    REC_TEARDROP,
    REC_UNKNOWN,
    RG_MEZZANINE,
    serve_musicbrainz,
)
from tests.sources.helpers import CONTACT, make_track, test_session

INTERVAL = 0.08


def source_for(site: LocalSite, cache: Path | None) -> MusicBrainzSource:
    return MusicBrainzSource(test_session(cache, interval=INTERVAL), base_url=site.url("/ws/2"))


def test_isrc_to_recording_genres_with_vote_weights(tmp_path: Path) -> None:
    with LocalSite() as site:
        serve_musicbrainz(site)
        mb = source_for(site, None)
        claims = mb.claims_for(make_track("t01", ["Massive Attack"], "Teardrop", "Mezzanine", isrc="GBAAA9800001"))
        hits = list(site.hits)
    assert [(c.raw_genre, round(c.weight, 3)) for c in claims] == [("trip hop", 1.0), ("electronic", 0.5),
                                                                   ("downtempo", 0.333)]  # 0 votes dropped
    assert {c.evidence for c in claims} == {f"https://musicbrainz.org/recording/{REC_TEARDROP}"}
    assert claims[0].detail == "recording genre, 6 votes; matched by ISRC GBAAA9800001"
    assert [h.path for h in hits] == ["/ws/2/isrc/GBAAA9800001", f"/ws/2/recording/{REC_TEARDROP}"]
    assert hits[0].param("fmt") == "json" and hits[0].param("inc") == "artist-credits"
    assert hits[1].param("inc") == "genres+tags+artist-credits+releases+release-groups"  # sent as %2B, like musicbrainzngs
    assert CONTACT in hits[0].headers["user-agent"]


def test_falls_back_to_release_group_then_artist(tmp_path: Path) -> None:
    with LocalSite() as site:
        serve_musicbrainz(site)
        mb = source_for(site, None)
        angel = mb.claims_for(make_track("t02", ["Massive Attack"], "Angel", "Mezzanine", isrc="GBAAA9800002"))
        exchange = mb.claims_for(make_track("t03", ["Massive Attack"], "Exchange", None, isrc="GBAAA9800003"))
    # two recordings share the ISRC: the one titled "Angel" is used; its album's release group has genres
    assert [(c.raw_genre, round(c.weight, 3)) for c in angel] == [("trip hop", 1.0), ("electronica", 0.333)]
    assert angel[0].evidence == f"https://musicbrainz.org/release-group/{RG_MEZZANINE}"
    assert f"recording {REC_ANGEL}" in angel[0].detail and angel[0].detail.startswith("release-group genre, 9 votes")
    assert [c.raw_genre for c in exchange] == ["trip hop", "electronic"]
    assert exchange[0].evidence == f"https://musicbrainz.org/artist/{ART_MASSIVE}"
    assert f"recording {REC_UNKNOWN}" in exchange[0].detail


def test_tags_are_used_only_when_no_level_has_genres() -> None:
    with LocalSite() as site:
        serve_musicbrainz(site)
        site.route(f"/ws/2/artist/{ART_MASSIVE}", Reply.json({"id": ART_MASSIVE, "genres": [], "tags": []}))
        mb = source_for(site, None)
        claims = mb.claims_for(make_track("t04", ["Massive Attack"], "Dissolved Girl", None, isrc="GBAAA9800004"))
    assert [(c.raw_genre, c.weight) for c in claims] == [("bristol", 1.0), ("seen live", 0.5)]
    assert claims[0].detail.startswith("recording tag, 2 votes")
    assert claims[0].evidence.endswith(REC_TAGGED)


def test_without_isrc_a_search_by_artist_title_and_duration_is_made() -> None:
    with LocalSite() as site:
        serve_musicbrainz(site)
        mb = source_for(site, None)
        claims = mb.claims_for(make_track("t05", ["Massive Attack", "Elizabeth Fraser"], "Teardrop (Remastered)",
                                          "Mezzanine", duration_ms=331000))
        unknown_isrc = mb.claims_for(make_track("t06", ["Massive Attack"], "Teardrop", None, isrc="USXXX0000000",
                                                duration_ms=330000))
        nothing = mb.claims_for(make_track("t07", ["Nobody"], "Unheard Of", None))
        search = [h for h in site.hits if h.path == "/ws/2/recording"][0]
    query = search.param("query") or ""
    assert 'recording:"teardrop"' in query and 'artist:"Massive Attack"' in query and "dur:[324000 TO 338000]" in query
    # the score-100 hit is 100 s long: rejected for its duration; the right one is used
    assert claims[0].evidence.endswith(REC_TEARDROP) and "matched by search" in claims[0].detail
    assert unknown_isrc and unknown_isrc[0].evidence.endswith(REC_TEARDROP)  # 404 on the ISRC -> search
    assert nothing == []


def test_rate_limiting_503_is_retried_with_spacing_and_answers_are_cached(tmp_path: Path) -> None:
    cache = tmp_path / "mb.sqlite"
    with LocalSite() as site:
        serve_musicbrainz(site)
        busy = {"error": "Your requests are exceeding the allowable rate limit."}
        site.route("/ws/2/isrc/GBAAA9800001", Reply.json(busy, 503), Reply.json(busy, 503, headers={"Retry-After": "1"}),
                   Reply.json({"isrc": "GBAAA9800001", "recordings": [{"id": REC_TEARDROP, "title": "Teardrop",
                                                                        "artist-credit": []}]}))
        track = make_track("t08", ["Massive Attack"], "Teardrop", None, isrc="GBAAA9800001")
        first = source_for(site, cache).claims_for(track)
        asked = len(site.hits)
        again = source_for(site, cache).claims_for(track)
    assert first == again and first[0].raw_genre == "trip hop"
    assert asked == 4 and len(site.hits) == 4  # 3 tries + recording; the rerun came from the cache
    assert min(site.gaps()) >= INTERVAL and site.gaps()[1] >= 1.0


def test_persistent_errors_fail_the_track_not_the_run() -> None:
    with LocalSite() as site:
        site.route("/ws/2/isrc/GBAAA9800001", Reply.json({"error": "busy"}, 503))
        site.route("/ws/2/isrc/GBAAA9800002", Reply(200, "<html>not json</html>"))
        mb = MusicBrainzSource(test_session(None, interval=0.01, max_retries=1), base_url=site.url("/ws/2"))
        with pytest.raises(TrackFailed, match="HTTP 503.*busy"):
            mb.claims_for(make_track("t09", ["A"], "B", None, isrc="GBAAA9800001"))
        with pytest.raises(TrackFailed, match="unreadable"):
            mb.claims_for(make_track("t10", ["A"], "B", None, isrc="GBAAA9800002"))


def test_default_policy_follows_the_musicbrainz_rules(tmp_path: Path) -> None:
    policy = default_policy(tmp_path / "mb.sqlite", contact=CONTACT, interval_s=0.1)
    assert policy.interval_for("musicbrainz.org") == 1.0  # the floor for the real server
    assert policy.interval_for("mirror.local:5000") == 0.1  # a mirror may go faster
    assert policy.require_contact and not policy.obey_robots and 404 in policy.cache_codes
