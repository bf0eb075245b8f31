"""Fixtures: the fake Spotify (every body it serves is checked against the OpenAPI description
when the test ends), a private token cache and a client wired to the fake (the data folder is
``layout`` from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.net import HostLimiter
from collectors.spotify.auth import Credentials, PrivateTokenCache, client_auth_manager, user_auth_manager
from collectors.spotify.client import RetryPolicy, SpotifyClient, make_spotify_session
from tests.servers.spotify import FakeSpotify

from .contract import load_contract


@pytest.fixture
def contract(shared_dir: Path):
    return load_contract(shared_dir / "contracts" / "spotify-web-api.openapi.yml")


@pytest.fixture
def fake(contract):
    server = FakeSpotify().start()
    try:
        yield server
    finally:
        server.stop()
    problems = contract.check_served(server.served)
    assert not problems, "the fake served bodies that break the OpenAPI description:\n" + "\n".join(problems[:20])


@pytest.fixture
def creds(fake: FakeSpotify) -> Credentials:
    return Credentials(client_id=fake.client_id, client_secret=fake.client_secret,
                       redirect_uri="http://127.0.0.1/callback", api_url=fake.api_url,
                       accounts_url=fake.accounts_url)


@pytest.fixture
def token_cache(tmp_path: Path, fake: FakeSpotify) -> PrivateTokenCache:
    """A cache holding a completed sign-in (the PKCE round trip itself is tested in test_auth)."""
    cache = PrivateTokenCache(tmp_path / "home" / ".cache" / "genre-toolkit" / "spotify-token.json", fake.client_id)
    cache.save_token_to_cache(fake.issue_user_token())
    return cache


class Sleeps(list):
    """Records requested sleeps instead of sleeping (retry logic is tested, not the clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.limiter_waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def limiter(self, seconds: float) -> None:
        self.limiter_waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def session_factory(sleeps: Sleeps):
    """Sessions from the polite layer whose limiter records its waits instead of sleeping."""
    def build():
        return make_spotify_session(min_interval_s=0.0, timeout_s=5.0, limiter=HostLimiter(sleep=sleeps.limiter))

    return build


@pytest.fixture
def make_client(creds: Credentials, token_cache: PrivateTokenCache, sleeps: Sleeps, session_factory):
    """``make_client(auth="user"|"client", **policy)`` -> a SpotifyClient talking to the fake."""
    built: list[SpotifyClient] = []

    def build(auth: str = "user", **policy: float) -> SpotifyClient:
        session = session_factory()
        manager = (user_auth_manager(creds, token_cache, session) if auth == "user"
                   else client_auth_manager(creds, session))
        client = SpotifyClient(manager, session, api_url=creds.api_url,
                               policy=RetryPolicy(backoff_base_s=0.01, **policy), sleep=sleeps)
        built.append(client)
        return client

    return build
