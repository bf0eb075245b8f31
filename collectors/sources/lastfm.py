"""Last.fm (optional; needs your own API key in ``LASTFM_API_KEY``): ``track.getTopTags``.

Tags are free-form and weighted 0-100 by Last.fm (relative to the track's top tag);
they become weights count/100.  Most are not genres ("seen live", "female vocalists"):
the labeling stage's taxonomy filters them, this source writes them raw.

Last.fm reports errors inside JSON, often with HTTP 200: ``{"error": 6, "message": ...}``.
6 (track not found) means no claims for the track; 10 and 26 (invalid or suspended key)
stop the source with a clear message; 29 (rate limit) stops it cleanly too; 8, 11 and
16 (temporary trouble) fail the track, so the next run retries it.  Only successful
answers and "not found" are cached.  The key never appears in logs or messages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import requests

from ..net import Policy, PoliteSession, StopRun, register_secret
from .base import Claim, SourceConfigError, TrackFailed, dedupe, first_artist

log = logging.getLogger(__name__)

NAME = "lastfm"
API_URL = "https://ws.audioscrobbler.com/2.0/"
ENV_KEY = "LASTFM_API_KEY"
ENV_URL = "GENRE_LASTFM_URL"
#: keep at most this many tags per track (Last.fm returns up to 100, the tail is noise)
MAX_TAGS = 25
#: tags below this count (0-100) are dropped
MIN_COUNT = 1
NOT_FOUND = 6
BAD_KEY = {10: "invalid API key", 26: "suspended API key"}
RATE_LIMITED = 29
TEMPORARY = {8, 11, 16}


def default_policy(cache_path: Path | None, *, contact: str | None = None) -> Policy:
    """Last.fm asks for at most 5 requests/s averaged over 5 minutes and an identifying User-Agent."""
    return Policy.api(min_interval_s=0.25, jitter_s=0.05, contact=contact, cache_path=cache_path,
                      cache_codes=(200, 404))


def api_error(response: requests.Response) -> tuple[int, str] | None:
    """(code, message) when the body is a Last.fm error object, else None."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and "error" in data:
        try:
            return int(data["error"]), str(data.get("message") or "")
        except (TypeError, ValueError):
            return -1, str(data.get("message") or data["error"])
    return None


def cacheable(response: requests.Response) -> bool:
    """Cache real answers and "not found", never other errors (a bad key must not be remembered)."""
    error = api_error(response)
    return error is None or error[0] == NOT_FOUND


class LastfmSource:
    """The ``lastfm`` label source."""

    name = NAME

    def __init__(self, session: PoliteSession, api_key: str | None = None, base_url: str | None = None) -> None:
        key = (api_key if api_key is not None else os.environ.get(ENV_KEY, "")).strip()
        if not key:
            raise SourceConfigError(f"Last.fm needs an API key: set {ENV_KEY} (free at "
                                    "https://www.last.fm/api/account/create) or leave lastfm out of --sources")
        register_secret(key)
        self.session, self.api_key = session, key
        self.base_url = base_url or os.environ.get(ENV_URL) or API_URL

    def claims_for(self, track: Mapping[str, Any]) -> list[Claim]:
        track_id = str(track["track_id"])
        artist, title = first_artist(track), str(track.get("title") or "")
        if not artist or not title:
            return []
        params = {"method": "track.getTopTags", "artist": artist, "track": title, "autocorrect": "1",
                  "format": "json", "api_key": self.api_key}
        try:
            response = self.session.get(self.base_url, params=params)
        except requests.RequestException as exc:
            raise TrackFailed(f"Last.fm unreachable ({type(exc).__name__})") from None
        error = api_error(response)
        if error is not None:
            code, message = error
            if code == NOT_FOUND:
                return []
            if code in BAD_KEY:
                raise SourceConfigError(f"Last.fm rejected the API key in ${ENV_KEY} (error {code}: "
                                        f"{BAD_KEY[code]}); check the key or leave lastfm out of --sources")
            if code == RATE_LIMITED:
                raise StopRun(f"Last.fm says the rate limit is exceeded (error {code}); stopped, rerun later",
                              response.url)
            raise TrackFailed(f"Last.fm error {code}: {message[:200]}")
        if response.status_code != 200:
            raise TrackFailed(f"Last.fm answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise TrackFailed("Last.fm sent an unreadable answer") from None
        top = (data or {}).get("toptags") or {}
        tags = top.get("tag") or []
        if isinstance(tags, dict):  # Last.fm's JSON turns a one-item list into an object
            tags = [tags]
        attr = top.get("@attr") or {}
        page = (f"https://www.last.fm/music/{quote_plus(str(attr.get('artist') or artist))}/_/"
                f"{quote_plus(str(attr.get('track') or title))}")
        claims = []
        for tag in tags:
            if not isinstance(tag, dict) or not str(tag.get("name") or "").strip():
                continue
            try:
                count = float(tag.get("count") or 0)
            except (TypeError, ValueError):
                continue
            if count < MIN_COUNT:
                continue
            claims.append(Claim(track_id, NAME, str(tag["name"]).strip(), min(count, 100.0) / 100.0, page,
                                f"tag count {count:g}/100"))
        claims.sort(key=lambda c: -c.weight)
        return dedupe(claims[:MAX_TAGS])

    def fingerprint(self) -> str:
        return ""

    def close(self) -> None:
        self.session.close()
