"""Requests per 1,000 playlist tracks, against the fake Spotify Web API run in-process.

``python -m tests.bench.spotify [--out data/bench/spotify.json]`` runs the real
pipeline (spotipy, the polite session layer, our retry wrapper, the tables) on playlists
of awkward sizes (0, 1, 49, 50, 51, ..., 1,500 items) and counts the requests the fake
received.  The floor is one token request, one metadata request per playlist and one
items request per 50 items.  A second scenario adds 429s (Retry-After 0) and 5xx bursts to
show what retries cost.  Needs the repository checkout: the fake lives in ``tests/spotify``.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from manifests.cliutil import add_common_arguments, run_main, setup_logging

SIZES = (0, 1, 49, 50, 51, 100, 250, 999, 1001, 1500)


def _fake_module() -> Any:
    from tests.servers import spotify as fake_spotify

    return fake_spotify


def run_scenario(name: str, sizes: Sequence[int], faults: bool) -> dict[str, Any]:
    """Collect ``len(sizes)`` playlists through the real pipeline; count what the fake saw."""
    from collectors.spotify.auth import Credentials, client_auth_manager
    from collectors.spotify.client import RetryPolicy, SpotifyClient, make_spotify_session
    from collectors.spotify.collect import CollectOptions, Collector
    from collectors.spotify.refs import make_request
    from manifests import Layout

    fk = _fake_module()
    with fk.FakeSpotify() as fake, tempfile.TemporaryDirectory() as tmp:
        start = 0
        requests = []
        for index, size in enumerate(sizes):
            pid = fk.spotify_id(f"bench:{name}:{index}")
            fake.add_playlist(pid, f"Bench {size}", fk.tracks(size, start=start))
            start += size
            requests.append(make_request(f"genre {index % 5}", pid, f"bench playlist {index}"))
            if faults and size > 50:
                fake.add_fault("429", match=f"{pid}/items?offset=50", retry_after="0")
                fake.add_fault("503", match=f"{pid}/items", times=2)
                fake.add_fault("reset", match=f"{pid}/items?offset=0")
        creds = Credentials(client_id=fake.client_id, client_secret=fake.client_secret, api_url=fake.api_url,
                            accounts_url=fake.accounts_url)

        def factory() -> SpotifyClient:
            session = make_spotify_session(min_interval_s=0.0)
            return SpotifyClient(client_auth_manager(creds, session), session, api_url=creds.api_url,
                                 policy=RetryPolicy(backoff_base_s=0.0, backoff_max_s=0.0), sleep=lambda s: None)

        began = time.perf_counter()
        summary = Collector(Layout.at(Path(tmp) / "data"), factory, CollectOptions(progress=False)).run(requests)
        seconds = time.perf_counter() - began
        counts = dict(fake.counts)
    items = sum(sizes)
    made = sum(counts.get(k, 0) for k in ("token", "playlist", "items", "other"))
    floor = 1 + len(sizes) + sum(math.ceil(n / 50) for n in sizes)
    return {
        "scenario": name, "playlists": len(sizes), "items": items, "sizes": list(sizes),
        "requests": made, "requests_by_kind": counts, "floor": floor,
        "requests_per_1000_tracks": round(1000 * made / items, 2),
        "floor_per_1000_tracks": round(1000 * floor / items, 2),
        "over_floor": made - floor, "all_ok": summary.all_ok, "seconds": round(seconds, 3),
        "tracks_per_second": round(items / seconds, 1) if seconds else None,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'scenario':<10} {'playlists':>9} {'items':>6} {'requests':>8} {'floor':>6} {'req/1k':>7} "
            f"{'floor/1k':>8} {'over':>5} {'seconds':>8}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r['scenario']:<10} {r['playlists']:>9} {r['items']:>6} {r['requests']:>8} {r['floor']:>6} "
                     f"{r['requests_per_1000_tracks']:>7} {r['floor_per_1000_tracks']:>8} {r['over_floor']:>5} "
                     f"{r['seconds']:>8}")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.spotify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="JSON result file (default: DATA/bench/spotify.json)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose, quiet=True if not args.verbose else args.quiet)
    if not args.verbose:  # the injected faults would print one line each
        logging.getLogger("collectors.net.session").setLevel(logging.ERROR)
    from manifests.benchjson import publish

    results = [run_scenario("clean", SIZES, faults=False), run_scenario("faults", SIZES, faults=True)]
    publish({"benchmark": "spotify-collect", "results": results},
            table(results) + "\nfloor = 1 token + 1 metadata request per playlist + 1 items request per 50 items; "
            "an empty playlist still costs one items request", data=args.data, name="spotify", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
