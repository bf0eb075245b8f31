"""MusicBrainz (open data, CC0; on by default): ISRC or search -> recording -> genres with vote counts.

Requests go to the WS/2 JSON API through the polite layer at 1 request/s (the
MusicBrainz rule) with the user's contact in the User-Agent, and are cached
forever, so a rerun asks nothing twice.  ``MUSICBRAINZ_URL`` (or ``.env``, or
``--musicbrainz-url``) points the stage at a mirror of your own (the official Docker
setup answers at ``http://localhost:5000``): the 1 request/s rule is musicbrainz.org's,
so a mirror is asked as fast as it answers unless ``--musicbrainz-request-interval``
says otherwise.  Per track:

0. when the tracks row carries a ``musicbrainz_id`` (an imported file's tags had one),
   that recording is fetched directly (step 2) and nothing is searched; an ID the
   server does not know (404) falls back to step 1;
1. ``/ws/2/isrc/{isrc}?inc=artist-credits``: the recordings with this ISRC; the one
   whose title and artist match the track best is used.  Without an ISRC (or when it
   is unknown) a search ``recording:"title" AND artist:"artist" AND dur:[..]`` is made and
   the best hit with score >= 90, a matching title and artist and a close duration is used.
2. ``/ws/2/recording/{mbid}?inc=genres+tags+artist-credits+releases+release-groups``.
3. Genres of the recording; when it has none, of its release group (the one named like
   the track's album, else the first album); then of the first credited artist.  Only
   when no level has genres are free-form tags used, in the same order.

Weights are vote shares: each count over the largest count at the level used.
``evidence`` is the MusicBrainz page of the entity whose votes were used; ``detail``
says the level, the votes and the recording MBID and how it was found.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from rapidfuzz import fuzz

from manifests.ids import name_key, normalize_title, same_name

from ..net import Policy, PoliteSession
from .base import Claim, TrackFailed, dedupe, first_artist, track_artists, vote_weights

log = logging.getLogger(__name__)

NAME = "musicbrainz"
API_URL = "https://musicbrainz.org/ws/2"
WEB_URL = "https://musicbrainz.org"
#: a mirror's URL (``http://localhost:5000`` or its ``/ws/2``); the older name still works
ENV_URL = "MUSICBRAINZ_URL"
ENV_URL_OLD = "GENRE_MUSICBRAINZ_URL"
#: the public server: its 1 request/s rule applies to it (and its subdomains) only
PUBLIC_HOST = "musicbrainz.org"
PUBLIC_INTERVAL_S = 1.0
#: seconds between two requests to a mirror unless told otherwise: none (it is yours)
MIRROR_INTERVAL_S = 0.0
_MBID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
#: a search hit needs at least this MusicBrainz score (0-100) ...
MIN_SEARCH_SCORE = 90
#: ... and titles/artists at least this similar (0-100)
MIN_NAME_RATIO = 85
#: and a duration within this many milliseconds (when both are known)
DURATION_TOLERANCE_MS = 7000
RECORDING_INC = "genres+tags+artist-credits+releases+release-groups"


def api_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The WS/2 base URL: ``url``, else ``$MUSICBRAINZ_URL`` (``$GENRE_MUSICBRAINZ_URL``), else the public API.

    A mirror named by its root (``http://localhost:5000``, as its Docker setup prints it)
    gets ``/ws/2`` appended; a URL that is not http(s) is a ``ValueError`` naming it.
    """
    env = os.environ if environ is None else environ
    chosen = (url or env.get(ENV_URL) or env.get(ENV_URL_OLD) or "").strip() or API_URL
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"MusicBrainz URL {chosen!r}: expected http(s)://HOST[:PORT][/ws/2], "
                         "e.g. http://localhost:5000")
    path = parts.path.rstrip("/")
    if not path.endswith("/ws/2"):
        path += "/ws/2"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def is_public(url: str) -> bool:
    """Whether ``url`` is the public musicbrainz.org (whose rate rule applies), not a mirror."""
    host = (urlsplit(url).hostname or "").lower()
    return host == PUBLIC_HOST or host.endswith("." + PUBLIC_HOST)


def default_interval(url: str) -> float:
    """Seconds between requests when nobody chose: 1 for musicbrainz.org, none for a mirror."""
    return PUBLIC_INTERVAL_S if is_public(url) else MIRROR_INTERVAL_S


def default_policy(cache_path: Path | None, *, contact: str | None = None, interval_s: float = 1.0) -> Policy:
    """MusicBrainz's rules: 1 request/s (floored in the layer for musicbrainz.org), identify yourself.

    ``interval_s`` is what a mirror gets; musicbrainz.org never goes below its floor
    (``collectors.net.policy.HOST_FLOORS``), whatever is asked.
    """
    return Policy.api(min_interval_s=interval_s, jitter_s=0.1 if interval_s else 0.0, max_retries=4,
                      backoff_base_s=2.0, retry_after_cap_s=300.0, contact=contact, require_contact=True,
                      cache_path=cache_path, cache_codes=(200, 404))


def track_mbid(track: Mapping[str, Any]) -> str | None:
    """The tracks row's ``musicbrainz_id`` when it is a well-formed MBID (lower-cased), else None."""
    value = str(track.get("musicbrainz_id") or "").strip().lower()
    return value if _MBID.match(value) else None


def _lucene(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _credit_names(entity: Mapping[str, Any]) -> list[str]:
    names = []
    for credit in entity.get("artist-credit") or []:
        if isinstance(credit, Mapping):
            artist = credit.get("artist") or {}
            names += [str(credit.get("name") or ""), str(artist.get("name") or "")]
    return [n for n in names if n]


class MusicBrainzSource:
    """The ``musicbrainz`` label source."""

    name = NAME

    def __init__(self, session: PoliteSession, base_url: str | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.session = session
        self.base_url = api_url(base_url, environ)

    # ------------------------------------------------------------ HTTP
    def _get(self, path: str, **params: str) -> dict[str, Any] | None:
        """JSON of one WS/2 call; None for 404 (unknown ISRC or MBID); TrackFailed for other failures."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self.session.get(url, params={**params, "fmt": "json"})
        except requests.RequestException as exc:
            raise TrackFailed(f"MusicBrainz unreachable ({type(exc).__name__})") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            message = ""
            try:
                message = str(response.json().get("error", ""))[:200]
            except ValueError:
                pass
            raise TrackFailed(f"MusicBrainz answered HTTP {response.status_code} for /{path}"
                              + (f": {message}" if message else ""))
        try:
            data = response.json()
        except ValueError:
            raise TrackFailed(f"MusicBrainz sent an unreadable answer for /{path}") from None
        if not isinstance(data, dict):
            raise TrackFailed(f"MusicBrainz sent an unexpected answer for /{path}")
        return data

    # ------------------------------------------------------------ matching
    def _match_score(self, track: Mapping[str, Any], rec: Mapping[str, Any]) -> tuple[float, float, float]:
        """(title similarity, artist similarity, -duration difference in s) of a candidate recording.

        Names are compared in the form every matcher shares (:func:`manifests.ids.name_key`), so
        "The Desert Sessions" is "Desert Sessions" and "Vol. 1 & 2" is "Volume 1 and 2" here too.
        """
        title = fuzz.ratio(name_key(str(rec.get("title") or "")), name_key(str(track.get("title") or "")))
        wanted = [name_key(a) for a in track_artists(track)]
        names = [name_key(n) for n in _credit_names(rec)]
        artist = max((fuzz.ratio(w, n) for w in wanted for n in names), default=0.0)
        length, duration = rec.get("length"), track.get("duration_ms")
        gap = abs(int(length) - int(duration)) / 1000 if length and duration else 0.0
        return title, artist, -gap

    def _by_isrc(self, track: Mapping[str, Any], isrc: str) -> dict[str, Any] | None:
        data = self._get(f"isrc/{isrc}", inc="artist-credits")
        recordings = [r for r in (data or {}).get("recordings") or [] if isinstance(r, dict) and r.get("id")]
        if not recordings:
            return None
        return max(recordings, key=lambda r: self._match_score(track, r))

    def _by_search(self, track: Mapping[str, Any]) -> dict[str, Any] | None:
        title = normalize_title(str(track.get("title") or ""))
        artist = first_artist(track)
        if not title or not artist:
            return None
        query = f'recording:"{_lucene(title)}" AND artist:"{_lucene(artist)}"'
        duration = track.get("duration_ms")
        if duration:
            query += f" AND dur:[{max(int(duration) - DURATION_TOLERANCE_MS, 0)} TO {int(duration) + DURATION_TOLERANCE_MS}]"
        data = self._get("recording", query=query, limit="10")
        best, best_key = None, None
        for rec in (data or {}).get("recordings") or []:
            if not isinstance(rec, dict) or not rec.get("id") or int(rec.get("score") or 0) < MIN_SEARCH_SCORE:
                continue
            t, a, gap = self._match_score(track, rec)
            if t < MIN_NAME_RATIO or a < MIN_NAME_RATIO or (duration and rec.get("length")
                                                              and -gap * 1000 > DURATION_TOLERANCE_MS):
                continue
            key = (int(rec.get("score") or 0), t + a, gap)
            if best_key is None or key > best_key:
                best, best_key = rec, key
        return best

    # ------------------------------------------------------------ genres
    @staticmethod
    def _release_group(track: Mapping[str, Any], rec: Mapping[str, Any]) -> dict[str, Any] | None:
        groups: list[dict[str, Any]] = []
        for release in rec.get("releases") or []:
            group = release.get("release-group") if isinstance(release, dict) else None
            if isinstance(group, dict) and group.get("id"):
                groups.append(group)
        if not groups:
            return None
        album = str(track.get("album") or "")
        for group in groups:
            if album and same_name(str(group.get("title") or ""), album):
                return group
        albums = [g for g in groups if g.get("primary-type") == "Album" and not g.get("secondary-types")]
        return (albums or groups)[0]

    def claims_for(self, track: Mapping[str, Any]) -> list[Claim]:
        track_id = str(track["track_id"])
        known = track_mbid(track)
        full = self._get(f"recording/{known}", inc=RECORDING_INC) if known else None
        if full is not None and known is not None:
            mbid, how = known, f"MusicBrainz ID {known} (tracks table)"
        else:
            if known:
                log.info("%s: MusicBrainz does not know recording %s; searching instead", track_id, known)
            isrc = str(track.get("isrc") or "").strip().upper()
            rec, how = None, ""
            if isrc:
                rec, how = self._by_isrc(track, isrc), f"ISRC {isrc}"
            if rec is None:
                rec = self._by_search(track)
                how = f"search artist+title+duration (score {rec.get('score')})" if rec else ""
            if rec is None:
                log.debug("%s: no MusicBrainz recording found", track_id)
                return []
            mbid = str(rec["id"])
            full = self._get(f"recording/{mbid}", inc=RECORDING_INC)
            if full is None:
                return []
        levels: list[tuple[str, str | None, dict[str, Any] | None]] = [("recording", mbid, full)]
        group = self._release_group(track, full)
        levels.append(("release-group", str(group["id"]) if group else None, None))
        artists = [c.get("artist") for c in full.get("artist-credit") or [] if isinstance(c, dict)]
        artist_id = next((str(a["id"]) for a in artists if isinstance(a, dict) and a.get("id")), None)
        levels.append(("artist", artist_id, None))
        for kind in ("genres", "tags"):
            for index, (level, entity_id, data) in enumerate(levels):
                if entity_id is None:
                    continue
                if data is None:
                    data = self._get(f"{level}/{entity_id}", inc="genres+tags") or {}
                    levels[index] = (level, entity_id, data)
                counts = {str(g.get("name")): float(g.get("count") or 0)
                          for g in data.get(kind) or [] if isinstance(g, dict) and g.get("name")}
                weights = vote_weights(counts)
                if not weights:
                    continue
                evidence = f"{WEB_URL}/{level}/{entity_id}"
                via = "" if level == "recording" else f"; recording {mbid}"
                noun = "genre" if kind == "genres" else "tag"
                return dedupe(
                    Claim(track_id, NAME, name, weight, evidence,
                          f"{level} {noun}, {int(counts[name])} vote{'s' if counts[name] != 1 else ''}{via}; "
                          f"matched by {how}")
                    for name, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))
        return []

    def fingerprint(self) -> str:
        return ""

    def close(self) -> None:
        self.session.close()
