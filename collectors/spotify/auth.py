"""The two ways Spotify lets an app in, and where the user's token is kept.

* **User sign-in** (Authorization Code with PKCE, loopback redirect): the path for
  development-mode apps, which may read only playlists the signed-in user owns or
  collaborates on.  ``login`` runs the browser round trip once; the token (with its
  refresh token) is kept in a private file (mode 0600) outside the repository, so later
  runs never open a browser.
* **Client credentials** (client ID + secret, no user): for extended-quota apps.

Credentials come from the environment or a ``.env`` file; they and the tokens are
registered with the redaction filter so they never reach a log, manifest or error.
"""

from __future__ import annotations

import html
import json
import logging
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from spotipy.cache_handler import CacheHandler
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyPKCE

from collectors.net.redact import register_secret
from manifests.envfile import read_env_file
from manifests.errors import UserError

log = logging.getLogger(__name__)

SCOPES = "playlist-read-private playlist-read-collaborative"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"
ACCOUNTS_URL = "https://accounts.spotify.com"
API_URL = "https://api.spotify.com/v1"
ENV_CLIENT_ID = "SPOTIFY_CLIENT_ID"
ENV_CLIENT_SECRET = "SPOTIFY_CLIENT_SECRET"
ENV_REDIRECT_URI = "SPOTIFY_REDIRECT_URI"
ENV_TOKEN_CACHE = "GENRE_SPOTIFY_TOKEN_CACHE"
#: where the Web API and the accounts service live (tests and benchmarks point these at a local fake)
ENV_API_URL = "SPOTIFY_API_URL"
ENV_ACCOUNTS_URL = "SPOTIFY_ACCOUNTS_URL"
LOGIN_HINT = "run `python -m collectors spotify-login` to sign in"


# ---------------------------------------------------------------- credentials

@dataclass(frozen=True)
class Credentials:
    """What the app is and where Spotify sends the user back; the secret never prints."""

    client_id: str | None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    api_url: str = API_URL
    accounts_url: str = ACCOUNTS_URL

    def require_client_id(self) -> str:
        if not self.client_id:
            raise UserError(f"{ENV_CLIENT_ID} is not set: create an app at https://developer.spotify.com/dashboard "
                            f"and put {ENV_CLIENT_ID}=... in .env (see collectors/spotify/README.md)")
        return self.client_id

    def require_secret(self) -> str:
        if not self.client_secret:
            raise UserError(f"{ENV_CLIENT_SECRET} is not set: client credentials (--auth client) need the app's "
                            f"secret in .env; development-mode apps use `spotify-login` instead")
        return self.client_secret


def load_credentials(env: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Credentials:
    """Credentials from the environment, then the .env file (the environment wins)."""
    env = os.environ if env is None else env
    file_values = read_env_file(env_file) if env_file is not None else {}

    def get(name: str, default: str | None = None) -> str | None:
        # spotipy's own names (SPOTIPY_CLIENT_ID, ...) are accepted too, after ours
        alias = name.replace("SPOTIFY_", "SPOTIPY_", 1) if name.startswith("SPOTIFY_") else name
        value = (env.get(name) or file_values.get(name) or env.get(alias) or file_values.get(alias) or default)
        return value.strip() if isinstance(value, str) else value

    creds = Credentials(
        client_id=get(ENV_CLIENT_ID), client_secret=get(ENV_CLIENT_SECRET),
        redirect_uri=get(ENV_REDIRECT_URI, DEFAULT_REDIRECT_URI) or DEFAULT_REDIRECT_URI,
        api_url=(get(ENV_API_URL, API_URL) or API_URL).rstrip("/"),
        accounts_url=(get(ENV_ACCOUNTS_URL, ACCOUNTS_URL) or ACCOUNTS_URL).rstrip("/"),
    )
    register_secret(creds.client_secret)
    return creds


# ---------------------------------------------------------------- token cache

def default_token_cache() -> Path:
    """``$GENRE_SPOTIFY_TOKEN_CACHE``, else the platform's per-user cache folder (never the repository)."""
    chosen = os.environ.get(ENV_TOKEN_CACHE, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "genre-toolkit" / "spotify-token.json"


class PrivateTokenCache(CacheHandler):  # type: ignore[misc]  # spotipy ships no types
    """spotipy's token cache, written atomically with mode 0600 and tagged with the app's client ID.

    spotipy's own file cache follows the umask (usually world-readable) and lives in the
    working folder; a refresh token is as good as a password, so it goes here instead.
    """

    def __init__(self, path: Path | str, client_id: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.client_id = client_id

    def get_cached_token(self) -> dict[str, Any] | None:
        try:
            mode = self.path.stat().st_mode & 0o777
        except FileNotFoundError:
            return None
        if mode & 0o077 and os.name != "nt":
            log.warning("%s was readable by other users (mode %o); tightened to 0600", self.path, mode)
            os.chmod(self.path, 0o600)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("%s is not a readable token cache; ignoring it", self.path)
            return None
        if not isinstance(data, dict) or "access_token" not in data:
            return None
        if self.client_id and data.get("client_id") not in (None, self.client_id):
            log.info("cached Spotify token belongs to another app (client ID changed); ignoring it")
            return None
        register_secret(data.get("access_token"))
        register_secret(data.get("refresh_token"))
        return data

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        data = dict(token_info)
        if self.client_id:
            data["client_id"] = self.client_id
        register_secret(data.get("access_token"))
        register_secret(data.get("refresh_token"))
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".spotify-token-", dir=self.path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False


def has_user_token(cache: PrivateTokenCache) -> bool:
    """Whether a usable sign-in is cached (refreshable, with the scopes the collector needs)."""
    token = cache.get_cached_token()
    if not token or not token.get("refresh_token"):
        return False
    return set(SCOPES.split()) <= set(str(token.get("scope", "")).split())


# ---------------------------------------------------------------- auth managers

class _NonInteractivePKCE(SpotifyPKCE):  # type: ignore[misc]  # spotipy ships no types
    """spotipy's PKCE manager, except that a missing sign-in is an error instead of a prompt."""

    def get_authorization_code(self, response: str | None = None) -> str:  # pragma: no cover - guard
        raise UserError(f"no Spotify sign-in cached: {LOGIN_HINT}")

    def refresh_access_token(self, refresh_token: str) -> dict[str, Any]:
        try:
            token: dict[str, Any] = super().refresh_access_token(refresh_token)
        except SpotifyOauthError as exc:
            raise UserError(f"Spotify refused to renew the sign-in ({_oauth_text(exc)}): {LOGIN_HINT} again") from None
        return token


class _ClientCredentials(SpotifyClientCredentials):  # type: ignore[misc]  # spotipy ships no types
    def _request_access_token(self) -> dict[str, Any]:
        try:
            token: dict[str, Any] = super()._request_access_token()
        except SpotifyOauthError as exc:
            raise UserError(f"Spotify refused the app credentials ({_oauth_text(exc)}): check "
                            f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} in .env") from None
        register_secret((token or {}).get("access_token"))
        return token


def _oauth_text(exc: SpotifyOauthError) -> str:
    error = getattr(exc, "error", None) or "error"
    desc = getattr(exc, "error_description", None)
    return f"{error}: {desc}" if desc else str(error)


def _point_at(manager: Any, accounts_url: str) -> None:
    manager.OAUTH_TOKEN_URL = f"{accounts_url}/api/token"
    if hasattr(manager, "OAUTH_AUTHORIZE_URL"):
        manager.OAUTH_AUTHORIZE_URL = f"{accounts_url}/authorize"


def user_auth_manager(creds: Credentials, cache: PrivateTokenCache, session: requests.Session,
                      timeout_s: float = 30.0) -> SpotifyPKCE:
    """The signed-in user's token source; refuses to start without a cached sign-in."""
    from .client import quiet_spotipy

    quiet_spotipy()
    client_id = creds.require_client_id()
    cache.client_id = client_id
    if not has_user_token(cache):
        raise UserError(f"no Spotify sign-in cached at {cache.path}: {LOGIN_HINT} "
                        "(or use --auth client with an extended-quota app)")
    manager = _NonInteractivePKCE(client_id=client_id, redirect_uri=creds.redirect_uri, scope=SCOPES,
                                  cache_handler=cache, open_browser=False, requests_session=session,
                                  requests_timeout=timeout_s)
    _point_at(manager, creds.accounts_url)
    return manager


def client_auth_manager(creds: Credentials, session: requests.Session,
                        timeout_s: float = 30.0) -> SpotifyClientCredentials:
    """An app token (no user) for extended-quota apps; kept in memory only."""
    from spotipy.cache_handler import MemoryCacheHandler

    from .client import quiet_spotipy

    quiet_spotipy()
    manager = _ClientCredentials(client_id=creds.require_client_id(), client_secret=creds.require_secret(),
                                 requests_session=session, requests_timeout=timeout_s,
                                 cache_handler=MemoryCacheHandler())
    _point_at(manager, creds.accounts_url)
    return manager


# ---------------------------------------------------------------- sign-in (PKCE round trip)

@dataclass
class _Callback:
    path: str
    event: threading.Event = field(default_factory=threading.Event)
    params: dict[str, str] = field(default_factory=dict)


def _callback_handler(box: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.rstrip("/") != box.path.rstrip("/"):
                self.send_error(404, "not the sign-in callback")
                return
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = "code" in params and "error" not in params
            text = ("Signed in to Spotify. You can close this tab and return to the terminal." if ok else
                    f"Spotify sign-in failed: {html.escape(params.get('error', 'no code in the answer'))}. "
                    "Return to the terminal for details.")
            body = f"<!doctype html><title>genre toolkit</title><p>{text}</p>".encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if not box.event.is_set():
                box.params = params
                box.event.set()

        def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
            return

    return Handler


def _loopback(redirect_uri: str) -> tuple[str, int, str, str]:
    """(host to bind, port or 0, path, scheme) of a loopback redirect URI; refuses anything else."""
    parts = urlsplit(redirect_uri)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or host not in ("127.0.0.1", "::1"):
        hint = " (Spotify no longer accepts 'localhost'; use 127.0.0.1)" if host == "localhost" else ""
        raise UserError(f"{ENV_REDIRECT_URI}={redirect_uri!r}: sign-in needs a loopback redirect like "
                        f"{DEFAULT_REDIRECT_URI}{hint}")
    return host, parts.port or 0, parts.path or "/", parts.scheme


def login(creds: Credentials, cache: PrivateTokenCache, session: requests.Session, *,
          open_url: Callable[[str], object] | None = None, timeout_s: float = 300.0,
          say: Callable[[str], None] = print) -> dict[str, Any]:
    """Sign the user in once (browser round trip via a loopback server) and cache the token.

    A redirect URI without a port gets a free port at run time (Spotify accepts any port
    for loopback addresses registered without one).  Returns the token's non-secret facts.
    """
    from .client import quiet_spotipy

    quiet_spotipy()  # spotipy logs the token request body (code, verifier) at debug level
    client_id = creds.require_client_id()
    cache.client_id = client_id
    host, port, path, scheme = _loopback(creds.redirect_uri)
    box = _Callback(path=path)

    class _Server(HTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        server = _Server((host, port), _callback_handler(box))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} for the sign-in redirect ({exc.strerror or exc}); "
                        f"free the port or set {ENV_REDIRECT_URI} to another one") from None
    bound_port = server.server_address[1]
    netloc = f"[{host}]:{bound_port}" if ":" in host else f"{host}:{bound_port}"
    redirect_uri = urlunsplit((scheme, netloc, path, "", ""))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        state = secrets.token_urlsafe(16)
        manager = SpotifyPKCE(client_id=client_id, redirect_uri=redirect_uri, scope=SCOPES, cache_handler=cache,
                              open_browser=False, requests_session=session, state=state, requests_timeout=30)
        _point_at(manager, creds.accounts_url)
        url = manager.get_authorize_url(state)
        say(f"Sign in to Spotify in your browser. If no browser opens, visit:\n  {url}")
        if open_url is None:
            import webbrowser

            open_url = webbrowser.open
        try:
            open_url(url)
        except Exception as exc:  # a missing browser is not fatal: the URL is printed
            log.info("could not open a browser (%s); open the URL above yourself", exc)
        if not box.event.wait(timeout_s):
            raise UserError(f"no answer from the browser within {timeout_s:.0f} s; rerun `python -m collectors "
                            "spotify-login` (with --no-browser on a machine without one)")
    finally:
        server.shutdown()
        server.server_close()
    params = box.params
    if params.get("state") != state:
        raise UserError("the sign-in answer did not carry our state value (a stale or forged redirect); "
                        "run `python -m collectors spotify-login` again")
    if "error" in params:
        raise UserError(f"Spotify sign-in refused: {params['error']} (approve the app in the browser; "
                        "in development mode your account must be listed under User Management)")
    try:
        manager.get_access_token(code=params["code"], check_cache=False)
    except SpotifyOauthError as exc:
        raise UserError(f"Spotify refused the sign-in code ({_oauth_text(exc)}); run spotify-login again") from None
    token = cache.get_cached_token() or {}
    return {"scope": token.get("scope", ""), "expires_at": token.get("expires_at"),
            "cache": str(cache.path), "redirect_uri": redirect_uri, "signed_in_at": int(time.time())}
