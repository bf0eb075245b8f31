"""Live mode against an RYM-like site on 127.0.0.1: slow, robots-aware, cached, and it stops at a wall."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.net import Blocked
from collectors.sources.pipeline import LabelRun
from collectors.sources.rym import RymLive, RymSource, live_policy
from collectors.sources.rym.live import LiveStopped
from tests.servers.local_site import LocalSite, Reply
from tests.sources.helpers import CONTACT, claims_of, make_layout, make_track, test_session
from tests.sources.rym_html import CHALLENGE, IP_BLOCKED, artist_page, release_page, search_page

INTERVAL = 0.1
ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /release/album/slowdive/hidden/\n"


def build_site(site: LocalSite) -> None:
    site.route("/robots.txt", Reply.text(ROBOTS))
    site.route("/search", lambda hit: Reply(200, search_page({
        "Slowdive": [("Slowdive", "/artist/slowdive"), ("Slowdive Tribute", "/artist/tribute")],
        "Burial": [("Burial", "/artist/burial")],
        "Low": [("Low", "/artist/low")],
    }.get(hit.param("searchterm") or "", []))))
    site.route("/artist/slowdive", Reply(200, artist_page("Slowdive", ["Shoegaze", "Dream Pop"], [
        ("Souvlaki", "/release/album/slowdive/souvlaki/"), ("Hidden", "/release/album/slowdive/hidden/")])))
    site.route("/release/album/slowdive/souvlaki/", Reply(200, release_page(
        "Slowdive", "Souvlaki", ["Shoegaze", "Dream Pop"], ["Ambient Pop"], slug="slowdive/souvlaki")))
    site.route("/release/album/slowdive/hidden/", Reply(200, release_page("Slowdive", "Hidden", ["Secret"])))
    site.route("/artist/burial", Reply(200, artist_page("Burial", ["Future Garage"], [
        ("Untrue", "/release/album/burial/untrue/")])))
    site.route("/release/album/burial/untrue/", Reply(503, "busy"), Reply(429, "slow", headers={"Retry-After": "1"}),
               Reply(200, release_page("Burial", "Untrue", ["Future Garage", "UK Garage"], slug="burial/untrue")))


def live(site: LocalSite, tmp_path: Path, **changes) -> RymLive:
    session = test_session(tmp_path / "rym.sqlite", interval=INTERVAL, robots=True, **changes)
    return RymLive(session, base_url=site.url(""))


def test_live_search_discography_release_with_spacing_robots_and_identity(tmp_path: Path) -> None:
    with LocalSite() as site:
        build_site(site)
        source = RymSource(live=live(site, tmp_path))
        souvlaki = source.claims_for(make_track("tr1", ["Slowdive"], "Alison", "Souvlaki"))
        hidden = source.claims_for(make_track("tr2", ["Slowdive"], "Secret Song", "Hidden"))
        untrue = source.claims_for(make_track("tr3", ["Burial"], "Archangel", "Untrue"))
        source.close()
    assert [(c.raw_genre, c.weight) for c in souvlaki] == [("Shoegaze", 1.0), ("Dream Pop", 1.0), ("Ambient Pop", 0.5)]
    assert souvlaki[0].evidence == "https://rateyourmusic.com/release/album/slowdive/souvlaki/"
    assert "live search, album title 100% similar" in souvlaki[0].detail
    # robots.txt forbids the "Hidden" release page: never requested, the artist page answers instead
    assert "/release/album/slowdive/hidden/" not in site.paths()
    assert [(c.raw_genre, c.weight) for c in hidden] == [("Shoegaze", 0.5), ("Dream Pop", 0.5)]
    assert [c.raw_genre for c in untrue] == ["Future Garage", "UK Garage"]  # after a 503 and a 429
    assert site.paths().count("/robots.txt") == 1
    assert min(site.gaps()) >= INTERVAL
    assert site.gaps()[-1] >= 1.0  # the Retry-After of the 429 was honoured
    assert all(CONTACT in h.headers["user-agent"] for h in site.hits)
    # the second Slowdive track reused the cached search and artist pages: asked once each
    assert site.paths().count("/artist/slowdive") == 1


def test_challenge_page_stops_the_run_and_keeps_every_result(tmp_path: Path) -> None:
    tracks = [make_track("tr1", ["Slowdive"], "Alison", "Souvlaki"), make_track("tr2", ["Low"], "Sunflower", "Things"),
              make_track("tr3", ["Burial"], "Archangel", "Untrue")]
    layout = make_layout(tmp_path, tracks, claims=[{"track_id": "tr2", "source": "playlist", "raw_genre": "slowcore",
                                                    "weight": 1.0, "evidence": "playlist:abc"}])
    with LocalSite() as site:
        build_site(site)
        site.route("/artist/low", Reply(403, CHALLENGE, headers={"cf-mitigated": "challenge"}))
        source = RymSource(live=live(site, tmp_path))
        run = LabelRun(layout, show_progress=False)
        [report] = run.run([source], tracks)
        assert report.stopped and "challenge" in report.stopped and "--rym-pages" in report.stopped
        assert report.with_claims == 1 and report.looked_up == 1
        assert not any(p.startswith("/artist/burial") for p in site.paths())  # nothing after the wall
        kept = claims_of(layout)
        assert {(c["track_id"], c["source"]) for c in kept} == {("tr1", "rym"), ("tr2", "playlist")}
        # the site recovers; a rerun continues where it stopped and asks nothing twice
        site.route("/artist/low", Reply(200, artist_page("Low", ["Slowcore"])))
        before = len(site.hits)
        [again] = LabelRun(layout, show_progress=False).run([source], tracks)
        source.close()
        later = site.paths()[before:]
    assert again.stopped is None and again.skipped == 1 and again.looked_up == 2
    assert "/artist/slowdive" not in later and "/robots.txt" not in later
    assert {(c["track_id"], c["source"]) for c in claims_of(layout)} == {
        ("tr1", "rym"), ("tr2", "playlist"), ("tr2", "rym"), ("tr3", "rym")}


def test_ip_blocked_page_with_http_200_is_a_stop(tmp_path: Path) -> None:
    with LocalSite() as site:
        build_site(site)
        site.route("/artist/slowdive", Reply(200, IP_BLOCKED))
        source = RymSource(live=live(site, tmp_path))
        with pytest.raises(Blocked, match="blocked this IP"):
            source.claims_for(make_track("tr1", ["Slowdive"], "Alison", "Souvlaki"))
        source.close()


def test_search_forbidden_by_robots_stops_live_mode_with_advice(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.route("/robots.txt", Reply.text("User-agent: *\nDisallow: /search\n"))
        source = RymSource(live=live(site, tmp_path))
        with pytest.raises(LiveStopped, match="use saved pages"):
            source.claims_for(make_track("tr1", ["Slowdive"], "Alison", "Souvlaki"))
        source.close()
    assert site.paths() == ["/robots.txt"]


def test_live_interval_has_a_floor(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="below the 5 s floor"):
        live_policy(tmp_path / "x.sqlite", interval_s=2)
    assert live_policy(None, interval_s=10).interval_for("rateyourmusic.com") == 10
    assert live_policy(None, interval_s=5).require_contact and live_policy(None).obey_robots
