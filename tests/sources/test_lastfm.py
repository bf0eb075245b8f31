"""Last.fm track.getTopTags against a local server speaking its JSON, errors with HTTP 200 included."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collectors.net import StopRun
from collectors.sources.base import SourceConfigError, TrackFailed
from collectors.sources.lastfm import LastfmSource, cacheable
from tests.servers.local_site import Hit, LocalSite, Reply
from tests.sources.helpers import make_track, test_session

KEY = "0123456789abcdef0123456789abcdef"
TOPTAGS = {"toptags": {"tag": [{"count": 100, "name": "trip-hop", "url": "https://www.last.fm/tag/trip-hop"},
                               {"count": 57, "name": "electronic", "url": "https://www.last.fm/tag/electronic"},
                               {"count": 0, "name": "zero", "url": "https://www.last.fm/tag/zero"},
                               {"count": 12, "name": "female vocalists", "url": "x"}],
                       "@attr": {"artist": "Massive Attack", "track": "Teardrop"}}}


def answer(hit: Hit) -> Reply:
    if hit.param("api_key") != KEY:
        return Reply.json({"error": 10, "message": "Invalid API key - You must be granted a valid key by last.fm"})
    track = hit.param("track")
    if track == "Teardrop":
        return Reply.json(TOPTAGS)
    if track == "One Tag":
        return Reply.json({"toptags": {"tag": {"count": "100", "name": "Ambient"}, "@attr": {"artist": "A",
                                                                                            "track": "One Tag"}}})
    if track == "Busy":
        return Reply.json({"error": 11, "message": "Service Offline - This service is temporarily offline"})
    if track == "Flood":
        return Reply.json({"error": 29, "message": "Rate Limit Exceded"})
    return Reply.json({"error": 6, "message": "Track not found", "links": []})


def lastfm(site: LocalSite, tmp_path: Path, key: str = KEY) -> LastfmSource:
    session = test_session(tmp_path / "lastfm.sqlite", interval=0.02)
    session.settings.filter_fn = cacheable
    return LastfmSource(session, api_key=key, base_url=site.url("/2.0/"))


def test_top_tags_become_weights_over_100(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with LocalSite() as site, caplog.at_level(logging.DEBUG):
        site.route("/2.0/", answer)
        source = lastfm(site, tmp_path)
        claims = source.claims_for(make_track("t01", ["Massive Attack"], "Teardrop"))
        one = source.claims_for(make_track("t02", ["A"], "One Tag"))
        hit = site.hits[0]
    assert [(c.raw_genre, c.weight) for c in claims] == [("trip-hop", 1.0), ("electronic", 0.57),
                                                         ("female vocalists", 0.12)]
    assert claims[0].evidence == "https://www.last.fm/music/Massive+Attack/_/Teardrop"
    assert [(c.raw_genre, c.weight) for c in one] == [("Ambient", 1.0)]  # a lone tag arrives as an object
    assert hit.param("method") == "track.getTopTags" and hit.param("autocorrect") == "1"
    assert KEY not in caplog.text and all(KEY not in c.evidence + c.detail for c in claims)


def test_not_found_means_no_claims_and_is_cached(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.route("/2.0/", answer)
        source = lastfm(site, tmp_path)
        assert source.claims_for(make_track("t03", ["Nobody"], "Nothing")) == []
        assert source.claims_for(make_track("t03", ["Nobody"], "Nothing")) == []
    assert len(site.hits) == 1


def test_a_rejected_key_stops_with_a_clear_message_and_is_never_cached(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.route("/2.0/", answer)
        source = lastfm(site, tmp_path, key="wrong-key-123456")
        for _ in range(2):
            with pytest.raises(SourceConfigError, match=r"rejected the API key.*error 10: invalid API key") as caught:
                source.claims_for(make_track("t04", ["Massive Attack"], "Teardrop"))
            assert "wrong-key-123456" not in str(caught.value)
    assert len(site.hits) == 2  # the error was not served from the cache the second time


def test_temporary_errors_fail_the_track_and_rate_limit_stops(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.route("/2.0/", answer)
        source = lastfm(site, tmp_path)
        with pytest.raises(TrackFailed, match="error 11: Service Offline"):
            source.claims_for(make_track("t05", ["A"], "Busy"))
        with pytest.raises(StopRun, match="rate limit") as stop:
            source.claims_for(make_track("t06", ["A"], "Flood"))
    assert KEY not in str(stop.value) and KEY not in stop.value.url


def test_no_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LASTFM_API_KEY", raising=False)
    with pytest.raises(SourceConfigError, match="LASTFM_API_KEY"):
        LastfmSource(test_session(None))
