"""Both ways in: the PKCE sign-in end to end (no browser: requests follows the redirect) and
client credentials; the private token cache; credentials from .env."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from collectors.spotify.auth import (
    SCOPES,
    Credentials,
    PrivateTokenCache,
    client_auth_manager,
    default_token_cache,
    has_user_token,
    load_credentials,
    login,
    user_auth_manager,
)
from collectors.spotify.client import make_spotify_session
from manifests.errors import UserError


def _browser(seen: list[str]):
    """Plays the user's browser: opens the sign-in URL and follows Spotify's redirect to our loopback server."""
    def open_url(url: str) -> None:
        seen.append(url)
        answer = requests.get(url, timeout=5)
        seen.append(answer.text)

    return open_url


def test_pkce_sign_in_end_to_end_caches_a_private_token(fake, creds, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    cache = PrivateTokenCache(tmp_path / "cache" / "token.json")
    seen: list[str] = []
    info = login(creds, cache, make_spotify_session(min_interval_s=0.0), open_url=_browser(seen),
                 timeout_s=10, say=lambda _: None)
    query = parse_qs(urlsplit(seen[0]).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["scope"] == [SCOPES] and query["client_id"] == [fake.client_id] and query["state"][0]
    redirect = query["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")  # dynamic loopback port
    assert "Signed in to Spotify" in seen[1]
    exchange = fake.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    assert "client_secret" not in exchange  # PKCE: the secret never leaves the machine
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    token = cache.get_cached_token()
    assert token["client_id"] == fake.client_id and has_user_token(cache) and info["scope"] == SCOPES
    # the sign-in is usable without a browser afterwards
    manager = user_auth_manager(creds, cache, make_spotify_session(min_interval_s=0.0))
    assert manager.get_access_token() == token["access_token"]
    for secret in (token["access_token"], token["refresh_token"], exchange["code_verifier"], exchange["code"]):
        assert secret not in caplog.text


def test_wrong_code_verifier_is_refused_by_the_token_endpoint(fake, creds, tmp_path, monkeypatch) -> None:
    from spotipy.oauth2 import SpotifyPKCE

    real = SpotifyPKCE.get_access_token

    def tampered(self, code=None, check_cache=True):
        self.code_verifier = "x" * 64  # not the verifier the challenge was made from
        return real(self, code=code, check_cache=check_cache)

    monkeypatch.setattr(SpotifyPKCE, "get_access_token", tampered)
    cache = PrivateTokenCache(tmp_path / "token.json")
    with pytest.raises(UserError, match="code_verifier was incorrect"):
        login(creds, cache, make_spotify_session(min_interval_s=0.0), open_url=_browser([]), timeout_s=10,
              say=lambda _: None)
    assert not cache.path.exists()


def test_denied_sign_in_says_what_to_check(fake, creds, tmp_path) -> None:
    fake.deny_sign_in = True
    with pytest.raises(UserError, match="access_denied.*User Management"):
        login(creds, PrivateTokenCache(tmp_path / "t.json"), make_spotify_session(min_interval_s=0.0),
              open_url=_browser([]), timeout_s=10, say=lambda _: None)


def test_no_answer_from_the_browser_times_out_cleanly(fake, creds, tmp_path) -> None:
    with pytest.raises(UserError, match="no answer from the browser within 0 s"):
        login(creds, PrivateTokenCache(tmp_path / "t.json"), make_spotify_session(min_interval_s=0.0),
              open_url=lambda url: None, timeout_s=0.2, say=lambda _: None)


def test_localhost_redirect_is_refused_with_the_fix(fake, creds, tmp_path) -> None:
    bad = Credentials(client_id=creds.client_id, redirect_uri="http://localhost:8888/callback")
    with pytest.raises(UserError, match="no longer accepts 'localhost'; use 127.0.0.1"):
        login(bad, PrivateTokenCache(tmp_path / "t.json"), make_spotify_session(), say=lambda _: None)


def test_collecting_without_a_sign_in_points_to_spotify_login(creds, tmp_path) -> None:
    with pytest.raises(UserError, match="spotify-login"):
        user_auth_manager(creds, PrivateTokenCache(tmp_path / "none.json"), make_spotify_session())


def test_client_credentials_with_a_wrong_secret_names_the_variables(fake, creds) -> None:
    wrong = Credentials(client_id=creds.client_id, client_secret="not-the-secret-123", api_url=creds.api_url,
                        accounts_url=creds.accounts_url)
    manager = client_auth_manager(wrong, make_spotify_session(min_interval_s=0.0))
    with pytest.raises(UserError, match="invalid_client.*SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET") as caught:
        manager.get_access_token(as_dict=False)
    assert "not-the-secret-123" not in str(caught.value)


def test_token_cache_tightens_loose_permissions_and_ignores_other_apps(tmp_path, caplog) -> None:
    cache = PrivateTokenCache(tmp_path / "t.json", client_id="app-one")
    cache.save_token_to_cache({"access_token": "a" * 20, "refresh_token": "r" * 20, "scope": SCOPES})
    cache.path.chmod(0o644)
    assert cache.get_cached_token() is not None
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600 and "tightened to 0600" in caplog.text
    assert PrivateTokenCache(cache.path, client_id="app-two").get_cached_token() is None
    assert not has_user_token(PrivateTokenCache(tmp_path / "missing.json"))


def test_default_token_cache_lives_in_the_user_cache_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("GENRE_SPOTIFY_TOKEN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_token_cache() == tmp_path / "xdg" / "genre-toolkit" / "spotify-token.json"
    monkeypatch.setenv("GENRE_SPOTIFY_TOKEN_CACHE", str(tmp_path / "elsewhere.json"))
    assert default_token_cache() == tmp_path / "elsewhere.json"


def test_credentials_from_env_file_with_environment_winning(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('# app\nexport SPOTIFY_CLIENT_ID="from-file"\nSPOTIFY_CLIENT_SECRET=s3cret-value # note\n'
                        "SPOTIFY_REDIRECT_URI='http://127.0.0.1:9999/cb'\n")
    creds = load_credentials(env={"SPOTIFY_CLIENT_ID": "from-env"}, env_file=env_file)
    assert creds.client_id == "from-env" and creds.client_secret == "s3cret-value"
    assert creds.redirect_uri == "http://127.0.0.1:9999/cb"
    assert "s3cret-value" not in repr(creds)
    defaults = load_credentials(env={}, env_file=tmp_path / "absent.env")
    assert defaults.redirect_uri == "http://127.0.0.1:8888/callback" and defaults.client_id is None
    with pytest.raises(UserError, match="SPOTIFY_CLIENT_ID is not set"):
        defaults.require_client_id()
    env_file.write_text("this is not a setting\n")
    with pytest.raises(UserError, match=r"\.env line 1: expected KEY=value"):
        load_credentials(env={}, env_file=env_file)
