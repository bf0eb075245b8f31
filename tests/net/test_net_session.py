"""The polite session against a real HTTP server on 127.0.0.1: spacing, cache, retries, stops, robots."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import requests

from collectors.net import (
    TOOLKIT_NAME,
    Blocked,
    HostLimiter,
    Policy,
    PoliteSession,
    RetryAfterTooLong,
    RobotsDisallowed,
    Unreachable,
    make_session,
    toolkit_version,
)
from tests.servers.local_site import LocalSite, Reply

INTERVAL = 0.12
PAGE = "<html><head><title>A page</title></head><body>content</body></html>"


def polite(tmp_path: Path | None = None, **changes: object) -> PoliteSession:
    """A session with short test intervals, its own limiter and (optionally) a cache file."""
    settings: dict[str, object] = {"min_interval_s": INTERVAL, "jitter_s": 0.02, "backoff_base_s": 0.01,
                                   "backoff_max_s": 0.05, "contact": "tester@example.org", "obey_robots": False,
                                   "cache_path": tmp_path / "http.sqlite" if tmp_path else None}
    settings.update(changes)
    return make_session(Policy(**settings), limiter=HostLimiter())  # type: ignore[arg-type]


def test_user_agent_is_honest_even_when_a_caller_sets_a_browser_one() -> None:
    with LocalSite() as site, polite() as session:
        site.route("/", Reply(200, PAGE))
        session.get(site.url("/"))
        session.get(site.url("/"), headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120"})
        agents = [h.headers["user-agent"] for h in site.hits]
    assert agents == [f"{TOOLKIT_NAME}/{toolkit_version()} ( tester@example.org )"] * 2
    assert isinstance(session, requests.Session)


def test_requests_to_one_host_are_spaced_also_after_errors_and_across_threads() -> None:
    with LocalSite() as site, polite() as session:
        site.route("/ok", Reply(200, PAGE))
        site.route("/flaky", Reply(503, "busy"), Reply(500, "oops"), Reply(200, PAGE))
        site.route("/reset", Reply(fault="reset"), Reply(200, PAGE))
        session.get(site.url("/ok"))
        assert session.get(site.url("/flaky")).status_code == 200
        assert session.get(site.url("/reset")).text == PAGE
        threads = [threading.Thread(target=lambda: [session.get(site.url("/ok")) for _ in range(2)])
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        gaps = site.gaps()
    assert len(site.hits) == 1 + 3 + 2 + 6
    assert min(gaps) >= INTERVAL, gaps  # errors and retries never shorten the delay


def test_cache_hits_make_no_request_and_do_not_wait(tmp_path: Path) -> None:
    with LocalSite() as site:
        site.route("/page", Reply(200, PAGE))
        site.route("/missing", Reply(404, "<html><title>nope</title></html>"))
        site.route("/error", Reply(500, "broken"))
        with polite(tmp_path, max_retries=0) as session:
            first = session.get(site.url("/page"))
            session.get(site.url("/missing"))
            session.get(site.url("/error"))
        with polite(tmp_path, min_interval_s=2.0, max_retries=0) as again:  # a later run, same cache file
            started = time.monotonic()
            second = again.get(site.url("/page"))
            missing = again.get(site.url("/missing"))
            elapsed = time.monotonic() - started
            again.get(site.url("/error"))  # errors are not cached: asked again
    assert site.paths() == ["/page", "/missing", "/error", "/error"]
    assert second.text == first.text == PAGE and second.from_cache and missing.status_code == 404
    assert elapsed < 1.0  # two cache hits, while a real request would have waited 2 s


def test_retry_after_within_the_cap_is_honoured() -> None:
    with LocalSite() as site, polite(retry_after_cap_s=5) as session:
        site.route("/busy", Reply(429, "slow down", headers={"Retry-After": "1"}), Reply(200, PAGE))
        assert session.get(site.url("/busy")).text == PAGE
        gap = site.gaps()[0]
    assert gap >= 1.0


def test_retry_after_above_the_cap_stops_at_once(tmp_path: Path) -> None:
    with LocalSite() as site, polite(tmp_path, retry_after_cap_s=30) as session:
        site.route("/a", Reply(200, PAGE))
        site.route("/b", Reply(429, "come back tomorrow", headers={"Retry-After": "86400"}))
        done = [session.get(site.url("/a")).text]
        with pytest.raises(RetryAfterTooLong, match="86400 s.*more than the 30 s cap") as caught:
            session.get(site.url("/b"))
        assert caught.value.retry_after_s == 86400
        assert site.paths() == ["/a", "/b"]  # no retry was attempted
        assert session.get(site.url("/a")).from_cache  # what was fetched before is kept
    assert done == [PAGE]


def test_giving_up_after_the_retries_returns_the_last_answer() -> None:
    with LocalSite() as site, polite(max_retries=2) as session:
        site.route("/down", Reply(503, "down"))
        response = session.get(site.url("/down"))
    assert response.status_code == 503 and len(site.hits_to("/down")) == 3


@pytest.mark.parametrize("reply", [
    Reply(403, "<html><head><title>Just a moment...</title></head><body>challenge</body></html>",
          headers={"cf-mitigated": "challenge"}),
    Reply(200, "<html><head><title>IP blocked</title></head><body>You have been blocked</body></html>"),
    Reply(503, "<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"),
    Reply(200, '<html><body><form id="sec_verify" action="/verify"><input name="c"></form></body></html>'),
], ids=["cf-mitigated", "ip-blocked", "just-a-moment", "sec_verify"])
def test_block_pages_stop_the_run_and_are_never_cached(tmp_path: Path, reply: Reply) -> None:
    with LocalSite() as site, polite(tmp_path) as session:
        site.route("/wall", reply)
        with pytest.raises(Blocked, match="never solves"):
            session.get(site.url("/wall"))
        with pytest.raises(Blocked):
            session.get(site.url("/wall"))
    assert site.paths() == ["/wall", "/wall"]  # not retried, not served from the cache


def test_robots_txt_is_fetched_once_and_obeyed(tmp_path: Path) -> None:
    robots = "User-agent: *\nDisallow: /private\n\nUser-agent: genre-dataset-toolkit\nDisallow: /nobots\nCrawl-delay: 1\n"
    with LocalSite() as site, polite(tmp_path, obey_robots=True) as session:
        site.route("/robots.txt", Reply.text(robots))
        site.route("/open", Reply(200, PAGE))
        site.route("/nobots/page", Reply(200, PAGE))
        session.get(site.url("/open"))
        with pytest.raises(RobotsDisallowed, match="robots.txt of this site disallows it for genre-dataset-toolkit"):
            session.get(site.url("/nobots/page"))
        session.get(site.url("/open?again=1"))
        gaps = site.gaps(exclude=("/robots.txt",))
    assert "/nobots/page" not in site.paths()
    assert site.paths().count("/robots.txt") == 1
    assert gaps and min(gaps) >= 1.0  # Crawl-delay above the policy interval wins


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, False), (503, False)])
def test_missing_or_failing_robots_txt(status: int, allowed: bool) -> None:
    with LocalSite() as site, polite(obey_robots=True, max_retries=1) as session:
        site.route("/robots.txt", Reply(status, "nope"))
        site.route("/page", Reply(200, PAGE))
        if allowed:
            assert session.get(site.url("/page")).status_code == 200
        else:
            with pytest.raises(RobotsDisallowed, match=f"HTTP {status}"):
                session.get(site.url("/page"))
    assert ("/page" in site.paths()) == allowed


def test_timeouts_apply_to_every_request() -> None:
    with LocalSite() as site, polite(timeout_s=(1.0, 0.2), max_retries=0) as session:
        site.route("/slow", Reply(200, PAGE, delay_s=1.0))
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(site.url("/slow"))
    assert time.monotonic() - started < 0.9


def test_truncated_bodies_are_retried() -> None:
    with LocalSite() as site, polite() as session:
        site.route("/cut", Reply(200, "partial", fault="truncate"), Reply(200, PAGE))
        assert session.get(site.url("/cut")).text == PAGE
    assert len(site.hits_to("/cut")) == 2


def test_secrets_never_reach_exceptions_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    key = "feedfacecafebeef0123"
    with LocalSite() as site, polite(max_retries=1) as session:
        site.route("/api", Reply(503, "down"), Reply(429, "no", headers={"Retry-After": "99999"}))
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(RetryAfterTooLong) as caught:
                session.get(site.url("/api"), params={"api_key": key, "artist": "x"})
        port = site.host.rsplit(":", 1)[1]
    assert site.hits[0].param("api_key") == key  # the server does get the key
    assert key not in str(caught.value) and key not in caplog.text
    with polite(max_retries=0, unreachable_wait_s=0.01, timeout_s=(0.5, 0.5)) as session, \
            caplog.at_level(logging.DEBUG):
        with pytest.raises(Unreachable) as refused:  # the server is gone: its port refuses connections
            session.get(f"http://127.0.0.1:{port}/gone", params={"api_key": key})
    assert key not in str(refused.value) and key not in refused.value.url and key not in caplog.text


def test_redirects_go_through_the_gate_and_keep_the_spacing() -> None:
    with LocalSite() as site, polite(obey_robots=True) as session:
        site.route("/robots.txt", Reply.text("User-agent: *\nDisallow: /secret\n"))
        site.route("/old", Reply(301, "", headers={"Location": "/new"}))
        site.route("/new", Reply(200, PAGE))
        site.route("/leak", Reply(302, "", headers={"Location": "/secret/page"}))
        assert session.get(site.url("/old")).text == PAGE
        with pytest.raises(RobotsDisallowed):
            session.get(site.url("/leak"))
        gaps = site.gaps()
    assert site.paths() == ["/robots.txt", "/old", "/new", "/leak"]
    assert min(gaps) >= INTERVAL
