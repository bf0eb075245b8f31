"""A local fake of the Spotify Web API and accounts service that spotipy really talks to.

A ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) speaking HTTP/1.1 with keep-alive:

* ``POST /api/token``: client credentials (Basic auth), authorization code with PKCE
  (``code_verifier`` checked against the S256 challenge), refresh token;
* ``GET /authorize``: the sign-in page's answer, a 302 to the loopback redirect URI;
* ``GET /v1/playlists/{id}`` and ``GET /v1/playlists/{id}/items`` (max 50 per page,
  absolute ``next`` links, ``fields=`` filtering, development-mode rule: a user token reads
  items only of playlists the user owns; an app token reads any, like an extended-quota app);
* faults on demand: 429 with Retry-After, 500/502/503, connection reset, truncated body,
  403 owner-only and Premium-required, 404 editorial, 401 revoked tokens.

Every JSON body served is recorded (with the unfiltered body it was cut from) so the tests
validate them all against the OpenAPI description.  Used by the tests and, in-process, by
``python -m tests.bench.spotify``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PREMIUM_MESSAGE = ("Active premium subscription required for the owner of the app. When the subscription status "
                   "changes, it can take a few hours before requests are allowed again.")


def spotify_id(seed: str) -> str:
    """A deterministic 22-character base62 ID."""
    number = int(hashlib.sha1(seed.encode()).hexdigest(), 16)
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


# ---------------------------------------------------------------- response objects shaped like Spotify's

API = "https://api.spotify.com/v1"


def _urls(kind: str, sid: str) -> dict[str, Any]:
    return {"external_urls": {"spotify": f"https://open.spotify.com/{kind}/{sid}"},
            "href": f"{API}/{kind}s/{sid}", "id": sid, "type": kind, "uri": f"spotify:{kind}:{sid}"}


def artist_object(name: str) -> dict[str, Any]:
    return {"name": name, **_urls("artist", spotify_id("artist:" + name))}


def track_object(n: int, *, name: str | None = None, artists: list[str] | None = None,
                 album: str | None = None, release_date: str = "2019-05-17", duration_ms: int | None = None,
                 isrc: str | None = "", playable: bool = True, sid: str | None = None) -> dict[str, Any]:
    """A full TrackObject (every property the spec lists, as the API returns it with a market)."""
    sid = sid or spotify_id(f"track:{n}")
    artists = artists or [f"Artist {n % 97}"]
    album_name = album or f"Album {n % 50}"
    precision = {4: "year", 7: "month"}.get(len(release_date), "day")
    album_obj = {"album_type": "album", "total_tracks": 12, "available_markets": ["DE", "US"],
                 "images": [{"url": "https://i.scdn.co/image/ab67616d0000b273", "height": 640, "width": 640}],
                 "name": album_name, "release_date": release_date, "release_date_precision": precision,
                 "artists": [artist_object(artists[0])], **_urls("album", spotify_id("album:" + album_name))}
    if isrc == "":
        isrc = f"QZTST{n % 100:02d}{n:05d}"
    obj = {"album": album_obj, "artists": [artist_object(a) for a in artists], "available_markets": ["DE", "US"],
           "disc_number": 1, "duration_ms": duration_ms if duration_ms is not None else 180000 + (n * 7919) % 120000,
           "explicit": False, "external_ids": {"isrc": isrc} if isrc else {}, "is_playable": playable,
           "name": name or f"Song {n}", "popularity": 42, "preview_url": None, "track_number": 1 + n % 12,
           "is_local": False, **_urls("track", sid)}
    if not playable:
        obj["restrictions"] = {"reason": "market"}
    return obj


def local_track_object(title: str, artist: str, duration_ms: int = 215000) -> dict[str, Any]:
    """A local file as the API returns it: no ID, a spotify:local: URI (null IDs omitted: the spec
    types them as strings)."""
    uri = f"spotify:local:{artist.replace(' ', '+')}::{title.replace(' ', '+')}:{duration_ms // 1000}"
    return {"artists": [{"name": artist, "type": "artist"}], "available_markets": [], "disc_number": 0,
            "duration_ms": duration_ms, "explicit": False, "external_ids": {}, "external_urls": {},
            "is_local": True, "name": title, "popularity": 0, "preview_url": None, "track_number": 0,
            "type": "track", "uri": uri}


def episode_object(n: int) -> dict[str, Any]:
    """A full EpisodeObject (podcast episodes can sit in playlists)."""
    show_id = spotify_id(f"show:{n}")
    show = {"available_markets": ["US"], "copyrights": [], "description": "A show", "html_description": "<p>A show</p>",
            "explicit": False, "images": [], "is_externally_hosted": False, "languages": ["en"],
            "media_type": "audio", "name": f"Show {n}", "publisher": "Someone", "total_episodes": 10,
            **_urls("show", show_id)}
    return {"audio_preview_url": None, "description": "An episode", "html_description": "<p>An episode</p>",
            "duration_ms": 1686230, "explicit": False, "images": [], "is_externally_hosted": False,
            "is_playable": True, "languages": ["en"], "name": f"Episode {n}", "release_date": "2024-01-02",
            "release_date_precision": "day", "show": show, **_urls("episode", spotify_id(f"episode:{n}"))}


def entry(obj: dict[str, Any] | None, *, key: str = "item", is_local: bool | None = None) -> dict[str, Any]:
    """A PlaylistTrackObject holding ``obj`` under ``item`` (current API) or ``track`` (older)."""
    return {"added_at": "2024-03-01T12:00:00Z",
            "added_by": {"external_urls": {"spotify": "https://open.spotify.com/user/listener"},
                         "href": f"{API}/users/listener", "id": "listener", "type": "user",
                         "uri": "spotify:user:listener"},
            "is_local": bool(obj and obj.get("is_local")) if is_local is None else is_local, key: obj}


def tracks(n: int, start: int = 0, **kw: Any) -> list[dict[str, Any]]:
    """``n`` ordinary track entries numbered from ``start``."""
    key = kw.pop("key", "item")
    return [entry(track_object(i, **kw), key=key) for i in range(start, start + n)]


# ---------------------------------------------------------------- fields= filter

def parse_fields(text: str) -> dict[str, Any]:
    """Spotify's ``fields`` syntax: ``a,b.c,d(e,f(g))`` -> nested dict (None = whole value)."""
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while pos < len(text):
            name, sub = parse_item()
            if name not in out:
                out[name] = sub
            elif out[name] is not None and sub is not None:
                out[name] = _merge(out[name], sub)
            else:  # the whole value was asked for as well
                out[name] = None
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        return out

    def parse_item() -> tuple[str, dict[str, Any] | None]:
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos] not in ",().":
            pos += 1
        name = text[start:pos].strip()
        if pos < len(text) and text[pos] == "(":
            pos += 1
            sub = parse_list()
            if pos >= len(text) or text[pos] != ")":
                raise ValueError(f"unbalanced parentheses in fields={text!r}")
            pos += 1
            return name, sub
        if pos < len(text) and text[pos] == ".":
            pos += 1
            inner, inner_sub = parse_item()
            return name, {inner: inner_sub}
        return name, None

    result = parse_list()
    if pos != len(text):
        raise ValueError(f"unexpected {text[pos]!r} in fields={text!r}")
    return result


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two sub-selections of one field, combined (``owner.id,owner.display_name``)."""
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
        elif out[k] is not None and v is not None:
            out[k] = _merge(out[k], v)
        else:
            out[k] = None
    return out


def apply_fields(value: Any, spec: dict[str, Any] | None) -> Any:
    if spec is None:
        return value
    if isinstance(value, list):
        return [apply_fields(v, spec) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(value[k], sub) for k, sub in spec.items() if k in value}
    return value


# ---------------------------------------------------------------- server state

@dataclass
class FakePlaylist:
    pid: str
    name: str
    entries: list[dict[str, Any]]
    owner_id: str = "listener"
    owner_name: str = "Listener"
    #: the signed-in user owns (or collaborates on) it: development-mode apps may read its items
    owned: bool = True
    #: Spotify-owned/editorial: 404 for development-mode apps
    editorial: bool = False
    snapshot_id: str = ""

    def __post_init__(self) -> None:
        self.snapshot_id = self.snapshot_id or spotify_id(f"snapshot:{self.pid}:{len(self.entries)}") + "AAAA"


@dataclass
class Fault:
    kind: str  # "429", "500", "502", "503", "reset", "truncate", "401"
    match: str = ""
    times: int = 1
    retry_after: str | None = None


@dataclass
class Served:
    """One JSON body the fake sent, with what it was cut from, for schema validation."""

    path: str
    status: int
    schema: str
    body: Any
    full: Any
    filtered: bool


@dataclass
class FakeSpotify:
    client_id: str = "fake-client-id-0001"
    client_secret: str = "fake-client-secret-value-0001"
    user_id: str = "listener"
    playlists: dict[str, FakePlaylist] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    premium_required: bool = False
    deny_sign_in: bool = False
    token_lifetime_s: int = 3600

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.log: list[tuple[str, str]] = []
        self.served: list[Served] = []
        self.tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeSpotify:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> FakeSpotify:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    @property
    def accounts_url(self) -> str:
        return self.url

    # ------------------------------------------------------------ setup helpers
    def add_playlist(self, pid: str, name: str, entries: list[dict[str, Any]], **kw: Any) -> FakePlaylist:
        playlist = FakePlaylist(pid=pid, name=name, entries=entries, **kw)
        self.playlists[pid] = playlist
        return playlist

    def add_fault(self, kind: str, match: str = "", times: int = 1, retry_after: str | None = None) -> None:
        self.faults.append(Fault(kind=kind, match=match, times=times, retry_after=retry_after))

    def issue_user_token(self, scope: str = "playlist-read-private playlist-read-collaborative",
                         expires_in: int | None = None) -> dict[str, Any]:
        """A token_info as a completed sign-in would have cached it (to skip the browser in tests)."""
        token, refresh = self._new_token("user", scope)
        lifetime = self.token_lifetime_s if expires_in is None else expires_in
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope,
                "refresh_token": refresh, "expires_at": int(time.time()) + lifetime}

    def revoke_all(self) -> None:
        with self.lock:
            self.tokens.clear()

    def requests_to(self, kind: str) -> int:
        return self.counts[kind]

    # ------------------------------------------------------------ internals
    def _new_token(self, kind: str, scope: str) -> tuple[str, str]:
        token = "BQ" + secrets.token_urlsafe(24)
        refresh = "AQ" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = {"kind": kind, "scope": scope, "expires": time.time() + self.token_lifetime_s}
            self.refresh_tokens[refresh] = scope
        return token, refresh

    def _take_fault(self, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in target:
                    fault.times -= 1
                    return fault
        return None


def _error_schema(status: int) -> str:
    return f"error:{status}"


def _handler(fake: FakeSpotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeSpotify/1.0"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: Any) -> None:
            return

        # -------------------------------------------------------- plumbing
        def _send_json(self, status: int, body: Any, schema: str, *, full: Any = None, filtered: bool = False,
                       headers: dict[str, str] | None = None) -> None:
            with fake.lock:
                fake.served.append(Served(self.path, status, schema, body, body if full is None else full, filtered))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _api_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send_json(status, {"error": {"status": status, "message": message}}, _error_schema(status),
                            headers=headers)

        def _oauth_error(self, status: int, error: str, description: str) -> None:
            self._send_json(status, {"error": error, "error_description": description}, "token-error")

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        def _truncate(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"href": "trunc')
            self.wfile.flush()
            self.close_connection = True

        def _fault(self, fault: Fault) -> None:
            if fault.kind == "reset":
                self._reset()
            elif fault.kind == "truncate":
                self._truncate()
            elif fault.kind == "429":
                self._api_error(429, "API rate limit exceeded",
                                {"Retry-After": fault.retry_after} if fault.retry_after is not None else None)
            elif fault.kind == "401":
                self._api_error(401, "The access token expired")
            else:
                status = int(fault.kind)
                self._api_error(status, {500: "Server error.", 502: "Bad gateway.",
                                         503: "Service unavailable"}.get(status, "Error"))

        # -------------------------------------------------------- accounts service
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            path = urlsplit(self.path).path
            with fake.lock:
                fake.log.append(("POST", self.path))
            if path != "/api/token":
                self._api_error(404, "Service not found")
                return
            fake.counts["token"] += 1
            with fake.lock:
                fake.token_requests.append(form)
            fault = fake._take_fault("/api/token")
            if fault is not None:
                self._fault(fault)
                return
            grant = form.get("grant_type")
            if grant == "client_credentials":
                expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._oauth_error(400, "invalid_client", "Invalid client")
                    return
                token, _ = fake._new_token("client", "")
                self._send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}, "token")
            elif grant == "authorization_code":
                with fake.lock:
                    code = fake.codes.pop(form.get("code", ""), None)
                if code is None or code["client_id"] != form.get("client_id"):
                    self._oauth_error(400, "invalid_grant", "Invalid authorization code")
                    return
                if code["redirect_uri"] != form.get("redirect_uri"):
                    self._oauth_error(400, "invalid_grant", "Invalid redirect URI")
                    return
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if not verifier or digest != code["challenge"]:
                    self._oauth_error(400, "invalid_grant", "code_verifier was incorrect")
                    return
                token, refresh = fake._new_token("user", code["scope"])
                self._send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                      "refresh_token": refresh, "scope": code["scope"]}, "token")
            elif grant == "refresh_token":
                with fake.lock:
                    scope = fake.refresh_tokens.get(form.get("refresh_token", ""))
                if scope is None or form.get("client_id") != fake.client_id:
                    self._oauth_error(400, "invalid_grant", "Refresh token revoked")
                    return
                token, _ = fake._new_token("user", scope)
                self._send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                      "scope": scope}, "token")
            else:
                self._oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r} not supported")

        def _authorize(self, query: dict[str, str]) -> None:
            fake.counts["authorize"] += 1
            redirect = query.get("redirect_uri", "")
            if query.get("client_id") != fake.client_id or not redirect:
                body = b"INVALID_CLIENT: Invalid client"
                self.send_response(400)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if fake.deny_sign_in:
                answer = {"error": "access_denied", "state": query.get("state", "")}
            else:
                code = "AQ" + secrets.token_urlsafe(32)
                with fake.lock:
                    fake.codes[code] = {"client_id": query["client_id"], "redirect_uri": redirect,
                                        "challenge": query.get("code_challenge", ""), "scope": query.get("scope", "")}
                answer = {"code": code, "state": query.get("state", "")}
            self.send_response(302)
            self.send_header("Location", f"{redirect}?{urlencode(answer)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        # -------------------------------------------------------- Web API
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            with fake.lock:
                fake.log.append(("GET", self.path))
            if parts.path == "/authorize":
                self._authorize(query)
                return
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) < 3 or segments[:2] != ["v1", "playlists"]:
                fake.counts["other"] += 1
                self._api_error(404, "Service not found")
                return
            kind = "items" if segments[3:] == ["items"] else "playlist" if len(segments) == 3 else "other"
            fake.counts[kind] += 1
            fault = fake._take_fault(self.path)
            if fault is not None:
                self._fault(fault)
                return
            auth = self.headers.get("Authorization", "")
            token = fake.tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
            if token is None:
                self._api_error(401, "Invalid access token" if auth else "No token provided")
                return
            if fake.premium_required:
                self._api_error(403, PREMIUM_MESSAGE)
                return
            if kind == "other":
                self._api_error(404, "Service not found")
                return
            playlist = fake.playlists.get(segments[2])
            if playlist is None or playlist.editorial:
                self._api_error(404, "Resource not found")
                return
            readable = token["kind"] == "client" or playlist.owned
            if kind == "playlist":
                self._playlist(playlist, query, readable)
            elif not readable:
                self._api_error(403, "Forbidden")
            else:
                self._items(playlist, query)

        def _page(self, playlist: FakePlaylist, query: dict[str, str], offset: int, limit: int) -> dict[str, Any]:
            base = f"{fake.api_url}/playlists/{playlist.pid}/items"
            keep = {k: v for k, v in query.items() if k not in ("offset", "limit")}

            def link(off: int) -> str:
                return f"{base}?{urlencode({'offset': off, 'limit': limit, **keep})}"

            total = len(playlist.entries)
            return {"href": link(offset), "items": playlist.entries[offset:offset + limit], "limit": limit,
                    "next": link(offset + limit) if offset + limit < total else None, "offset": offset,
                    "previous": link(max(offset - limit, 0)) if offset > 0 else None, "total": total}

        def _filtered(self, full: dict[str, Any], query: dict[str, str], schema: str) -> None:
            if "fields" in query:
                try:
                    spec = parse_fields(query["fields"])
                except ValueError as exc:
                    self._api_error(400, str(exc))
                    return
                self._send_json(200, apply_fields(full, spec), schema, full=full, filtered=True)
            else:
                self._send_json(200, full, schema)

        def _playlist(self, playlist: FakePlaylist, query: dict[str, str], readable: bool) -> None:
            full = {"collaborative": False, "description": "genre playlist", "followers": {"href": None, "total": 3},
                    "images": [], "name": playlist.name, "public": True, "snapshot_id": playlist.snapshot_id,
                    "owner": {"display_name": playlist.owner_name, "external_urls": {
                        "spotify": f"https://open.spotify.com/user/{playlist.owner_id}"},
                        "href": f"{API}/users/{playlist.owner_id}", "id": playlist.owner_id, "type": "user",
                        "uri": f"spotify:user:{playlist.owner_id}"},
                    **_urls("playlist", playlist.pid)}
            if readable:
                full["items"] = self._page(playlist, query, 0, 50)
            self._filtered(full, query, "PlaylistObject")

        def _items(self, playlist: FakePlaylist, query: dict[str, str]) -> None:
            try:
                offset, limit = int(query.get("offset", 0)), int(query.get("limit", 20))
            except ValueError:
                self._api_error(400, "Invalid limit or offset")
                return
            if not 1 <= limit <= 50 or offset < 0:
                self._api_error(400, "Invalid limit")
                return
            self._filtered(self._page(playlist, query, offset, limit), query, "PagingPlaylistTrackObject")

    return Handler
