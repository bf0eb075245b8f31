"""Commands ``collect``, ``import-export`` and ``spotify-login`` of ``python -m collectors``.

Heavy imports (spotipy, requests, tqdm) stay inside the handlers so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from manifests.cliutil import add_common_arguments, add_deprecated_alias
from manifests.errors import UserError

if TYPE_CHECKING:  # the handlers import these when they run, so --help stays instant
    from manifests import Layout

    from .auth import Credentials, PrivateTokenCache
    from .client import SpotifyClient

log = logging.getLogger(__name__)

ENV_AUTH = "GENRE_SPOTIFY_AUTH"
ENV_MARKET = "SPOTIFY_MARKET"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_collect(subparsers)
    _register_import(subparsers)
    _register_login(subparsers)


def _auth_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env-file", default=None, metavar="FILE",
                   help="credentials file with SPOTIFY_CLIENT_ID etc. (default: $GENRE_ENV_FILE or ./.env, "
                        "which every command reads at start; the environment wins)")
    p.add_argument("--token-cache", default=None, metavar="FILE",
                   help="where the sign-in is kept (default: $GENRE_SPOTIFY_TOKEN_CACHE or "
                        "~/.cache/genre-toolkit/spotify-token.json, mode 0600)")


def _register_collect(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "collect", help="fetch genre playlists from Spotify into the tracks, playlists and claims tables",
        description="Fetch the playlists of each genre (resumable: finished playlists are skipped). "
                    "PLAYLISTS is a CSV file with columns genre,playlist or an inline list \"rock=ID jazz=ID\"; "
                    "a playlist is a link, a spotify:playlist: URI, an ID, or an export .csv file.")
    p.add_argument("--playlists", required=True, metavar="PLAYLISTS",
                   help="file with genre,playlist columns, or \"rock=ID jazz=ID\"")
    p.add_argument("--auth", choices=("user", "client"), default=os.environ.get(ENV_AUTH, "user"),
                   help="user: your sign-in from `spotify-login` (development-mode apps; default); "
                        "client: client credentials (extended-quota apps)")
    p.add_argument("--market", default=None,
                   help="country code deciding availability (default: $SPOTIFY_MARKET, else your account's "
                        "country for --auth user, US for --auth client)")
    p.add_argument("--fresh", action="store_true",
                   help="re-check every finished playlist's snapshot (1 request each) and fetch again those that "
                        "changed")
    p.add_argument("--prune", action="store_true",
                   help="forget (genre, playlist) pairs not in PLAYLISTS, with tracks only they held")
    p.add_argument("--max-retry-after", type=float, default=120.0, metavar="S",
                   help="longest Retry-After to wait out after a 429; beyond it stop, keeping what was "
                        "collected (default: 120)")
    p.add_argument("--max-wait-total", type=float, default=900.0, metavar="S",
                   help="most seconds to wait for rate limits in one run (default: 900)")
    p.add_argument("--retries", type=int, default=4, metavar="N",
                   help="retries for 5xx answers and network errors (default: 4)")
    p.add_argument("--request-interval", type=float, default=0.1, metavar="S",
                   help="minimum seconds between two requests to Spotify (default: 0.1)")
    _auth_arguments(p)
    add_common_arguments(p)
    add_deprecated_alias(p, "--refresh", "--fresh")
    add_deprecated_alias(p, "--interval", "--request-interval")
    p.set_defaults(func=_collect)


def _register_import(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "import-export", help="import Exportify / plain CSV playlist exports offline",
        description="Import playlist exports (Exportify CSV, or a plain CSV with title,artists,... columns) "
                    "into the same tables as `collect`, without any network access. Give files with --genre, "
                    "or a mapping file with genre,file columns.")
    p.add_argument("files", nargs="*", metavar="FILE", help="export files (.csv)")
    p.add_argument("--genre", default=None, help="genre of all FILEs (raw; mapped by the taxonomy later)")
    p.add_argument("--map", default=None, metavar="CSV", dest="mapping",
                   help="CSV with columns genre,file (paths relative to it) instead of FILE --genre")
    p.add_argument("--prune", action="store_true", help="forget pairs not in this import (see collect --prune)")
    add_common_arguments(p)
    p.set_defaults(func=_import)


def _register_login(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "spotify-login", help="sign in to Spotify once (PKCE, browser) and cache the token privately",
        description="Open Spotify's sign-in page, receive the answer on the loopback redirect URI "
                    "($SPOTIFY_REDIRECT_URI, default http://127.0.0.1:8888/callback) and keep the token in a "
                    "private file. Scopes: playlist-read-private playlist-read-collaborative.")
    p.add_argument("--no-browser", action="store_true", help="only print the sign-in URL (open it yourself)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="how long to wait (default: 300)")
    p.add_argument("--forget", action="store_true", help="delete the cached sign-in and exit")
    _auth_arguments(p)
    add_common_arguments(p)
    p.set_defaults(func=_login)


# ---------------------------------------------------------------- handlers

def _layout(args: argparse.Namespace) -> Layout:
    from manifests import Layout

    return Layout.at(args.data)


def _credentials(args: argparse.Namespace) -> Credentials:
    from manifests.envfile import env_file_path

    from .auth import load_credentials

    return load_credentials(env_file=Path(args.env_file) if args.env_file else env_file_path())


def _cache(args: argparse.Namespace, client_id: str | None) -> PrivateTokenCache:
    from .auth import PrivateTokenCache, default_token_cache

    return PrivateTokenCache(Path(args.token_cache) if args.token_cache else default_token_cache(), client_id)


def _check_numbers(args: argparse.Namespace) -> None:
    for name in ("max_retry_after", "max_wait_total", "request_interval"):
        value = getattr(args, name)
        if not value >= 0:
            raise UserError(f"--{name.replace('_', '-')} must be >= 0 seconds, got {value}")
    if args.retries < 0:
        raise UserError(f"--retries must be >= 0, got {args.retries}")


def _collect(args: argparse.Namespace) -> int:
    from .collect import CollectOptions, Collector, summary_text
    from .refs import parse_playlists_arg

    _check_numbers(args)
    requests = parse_playlists_arg(args.playlists)
    creds = _credentials(args)
    market = args.market or os.environ.get(ENV_MARKET) or ("from_token" if args.auth == "user" else "US")

    def client_factory() -> SpotifyClient:
        from .auth import client_auth_manager, user_auth_manager
        from .client import RetryPolicy, SpotifyClient, make_spotify_session

        session = make_spotify_session(min_interval_s=args.request_interval)
        if args.auth == "user":
            manager = user_auth_manager(creds, _cache(args, creds.client_id), session)
        else:
            manager = client_auth_manager(creds, session)
        policy = RetryPolicy(max_retry_after_s=args.max_retry_after, max_total_wait_s=args.max_wait_total,
                             max_retries=args.retries)
        return SpotifyClient(manager, session, api_url=creds.api_url, policy=policy)

    options = CollectOptions(market=market, fresh=args.fresh, prune=args.prune, progress=not args.quiet)
    summary = Collector(_layout(args), client_factory, options).run(requests)
    print(summary_text(summary))
    return 0 if summary.all_ok else 1


def _import(args: argparse.Namespace) -> int:
    from .collect import CollectOptions, Collector, summary_text
    from .refs import make_request, read_playlists_file

    if args.mapping and (args.files or args.genre):
        raise UserError("give either FILE... --genre GENRE or --map CSV, not both")
    if args.mapping:
        requests = read_playlists_file(Path(args.mapping))
        bad = [r for r in requests if not r.is_file]
        if bad:
            raise UserError(f"{bad[0].where}: {bad[0].ref!r} is not an export .csv file")
    else:
        if not args.files:
            raise UserError("no export files given: import-export FILE.csv... --genre GENRE (or --map CSV)")
        if not args.genre:
            raise UserError("--genre is required with FILE arguments (or use --map CSV with genre,file columns)")
        requests = []
        for index, name in enumerate(args.files, start=1):
            if not name.lower().endswith(".csv"):
                raise UserError(f"{name}: export files must be .csv (Exportify or plain CSV)")
            requests.append(make_request(args.genre, name, f"file {index} ({name})"))
    summary = Collector(_layout(args), None, CollectOptions(prune=args.prune, progress=False)).run(requests)
    print(summary_text(summary))
    return 0 if summary.all_ok else 1


def _login(args: argparse.Namespace) -> int:
    from .auth import login
    from .client import make_spotify_session

    creds = _credentials(args)
    cache = _cache(args, creds.client_id)
    if args.forget:
        print(f"removed {cache.path}" if cache.delete() else f"no sign-in cached at {cache.path}")
        return 0
    info = login(creds, cache, make_spotify_session(min_interval_s=0.0),
                 open_url=(lambda url: None) if args.no_browser else None, timeout_s=args.timeout)
    print(f"signed in; token cached at {info['cache']} (mode 0600), scopes: {info['scope']}")
    return 0
