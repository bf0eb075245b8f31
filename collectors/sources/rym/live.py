"""Live mode (opt-in): ask rateyourmusic.com itself, very slowly, and stop at the first sign of refusal.

RateYourMusic's terms forbid automated downloading; this mode exists because some
users asked for it, and it is built to be the least intrusive client possible:
one request per 10 s by default (never below ``MIN_INTERVAL_S``), robots.txt
obeyed, every page cached forever (a rerun never fetches a page twice), an honest
User-Agent with the user's contact, and a full stop at the first challenge or
ban page.  Per track: search the artist, fuzzy-match the name, read the artist
page's discography, fuzzy-match the album (or a single named like the track),
read that release page; fall back to the artist page's genres.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import requests
from rapidfuzz import fuzz

from manifests.ids import name_key

from ...net import Policy, PoliteSession, RobotsDisallowed, StopRun
from ..base import TrackFailed, first_artist
from .offline import Match
from .parser import BASE_URL, RymPage, parse_page

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0
MIN_INTERVAL_S = 5.0
ARTIST_RATIO = 90
ALBUM_RATIO = 88


def live_policy(cache_path: Path | None, *, interval_s: float = DEFAULT_INTERVAL_S,
                contact: str | None = None) -> Policy:
    """The politeness settings of live mode; refuses intervals below the floor."""
    if not interval_s >= MIN_INTERVAL_S:
        raise ValueError(f"RateYourMusic interval {interval_s:g} s is below the {MIN_INTERVAL_S:g} s floor")
    return Policy(min_interval_s=interval_s, jitter_s=interval_s * 0.2, max_retries=2, backoff_base_s=interval_s,
                  backoff_max_s=300.0, retry_after_cap_s=600.0, contact=contact, require_contact=True,
                  cache_path=cache_path, cache_codes=(200, 404), obey_robots=True, detect_blocks=True)


class LiveStopped(StopRun):
    """Live mode cannot go on (e.g. robots.txt forbids searching)."""


class RymLive:
    """Find a track's release (or artist) page on the live site through a polite session."""

    def __init__(self, session: PoliteSession, base_url: str = BASE_URL) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.pages_fetched = 0

    def _url(self, url: str) -> str:
        """Links on pages point at rateyourmusic.com; keep them on the configured host (a mirror, a test)."""
        parts = urlsplit(url)
        return f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    def _get(self, url: str) -> RymPage | None:
        try:
            response = self.session.get(self._url(url))
        except requests.RequestException as exc:
            raise TrackFailed(f"{url}: {type(exc).__name__}, the site did not answer") from None
        if not getattr(response, "from_cache", False):
            self.pages_fetched += 1
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise TrackFailed(f"{url}: HTTP {response.status_code}")
        return parse_page(response.text, url)

    def _search_artist(self, artist: str) -> str | None:
        url = f"{self.base_url}/search?searchterm={quote_plus(artist)}&searchtype=a"
        try:
            page = self._get(url)
        except RobotsDisallowed as exc:
            raise LiveStopped(f"{exc}; live mode needs the search page, use saved pages (--rym-pages) instead",
                              url) from None
        if page is None:
            return None
        wanted = name_key(artist)  # the shared normaliser: "The Desert Sessions" finds "Desert Sessions"
        scored = [(fuzz.ratio(name_key(name), wanted), link) for name, link in page.results]
        scored = [s for s in scored if s[0] >= ARTIST_RATIO]
        return max(scored, key=lambda s: s[0])[1] if scored else None

    def find(self, track: dict[str, Any]) -> Match | None:
        artist = first_artist(track)
        if not artist:
            return None
        artist_url = self._search_artist(artist)
        if artist_url is None:
            log.debug("rym live: no artist %r found", artist)
            return None
        try:
            artist_page = self._get(artist_url)
        except RobotsDisallowed as exc:
            log.info("%s", exc)
            return None
        if artist_page is None:
            return None
        album_key = name_key(str(track.get("album") or ""))
        title_key = name_key(str(track.get("title") or ""))
        candidates: list[tuple[float, int, str, str]] = []  # score, preference (album first), link, why
        for name, link in artist_page.discography:
            key = name_key(name)
            if album_key:
                candidates.append((fuzz.ratio(key, album_key), 0, link, "album title"))
            if title_key:
                candidates.append((fuzz.ratio(key, title_key), 1, link, "release named like the track"))
        candidates = [c for c in candidates if c[0] >= ALBUM_RATIO]
        tried: set[str] = set()
        for score, _, link, what in sorted(candidates, key=lambda c: (-c[0], c[1])):
            if link in tried:
                continue
            tried.add(link)
            try:
                release = self._get(link)
            except RobotsDisallowed as exc:
                log.info("%s", exc)
                continue
            if release is not None and release.kind == "release" and release.genres:
                return Match(release, "release", f"live search, {what} {score:.0f}% similar",
                             release.url or link)
        if artist_page.genres:
            return Match(artist_page, "artist", "live artist page (no release matched)", artist_page.url or artist_url)
        return None
