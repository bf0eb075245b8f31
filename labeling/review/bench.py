"""How fast the review app answers a table page at 100,000 tracks.

    python -m labeling.review.bench [--data DIR] [--tracks N] [--repeat R] [--out FILE]

Builds a synthetic data folder of N tracks (default 100,000) under ``DATA/bench/review-data``:
tracks, claims (one or two sources each), labels, downloads with match scores, splits, an
audit's flagged.csv and an audio-disagreement report. The rows are written straight as CSV
(the schema's headers, no audio files: the table page never opens audio). Then it starts the
app (the load time is reported) and times the table page, rendered HTML and all, through
Starlette's TestClient for a mix of requests: no filter, deep pages, one and two filters,
search alone and with a filter, sorting by match score, flagged rows, disagreements. Each kind
runs R times with varying values; the table gives p50/p95 per kind and overall against the goal
of 200 ms a page. JSON goes to ``DATA/bench/review.json``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import platform
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, number, run_main, setup_logging
from manifests.layout import Layout
from manifests.schema import CLAIMS, DOWNLOADS, LABELS, SPLITS_TABLE, TRACKS, Table

GOAL_MS = 200.0
GENRES = ("blues", "classical", "country", "electronic", "folk", "hip hop", "jazz", "metal", "pop", "reggae",
          "rock", "soul")
SOURCES = ("playlist", "musicbrainz", "lastfm", "rym")
CHECKS = ("low_match_score", "duration_outlier", "ambiguous_label", "duplicate_audio")
WORDS = ("blue", "night", "river", "fire", "stone", "love", "rain", "city", "dream", "ghost", "heart", "road",
         "sun", "moon", "wild", "gold", "echo", "storm", "light", "shadow")


def _writer(path: Path, table: Table) -> tuple[Any, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "w", encoding="utf-8", newline="")
    writer = csv.DictWriter(handle, fieldnames=table.header, restval="", lineterminator="\n")
    writer.writeheader()
    return handle, writer


def _put(files: dict[str, tuple[Any, Any]], table: Table, **row: Any) -> None:
    """One row by column name (columns the schema gained since are left empty)."""
    files[table.name][1].writerow({**row, "schema": table.tag})


def build_folder(root: Path, n: int, seed: int = 0) -> Layout:
    """A data folder of ``n`` synthetic tracks with every table the review table reads."""
    rng = random.Random(seed)
    layout = Layout.at(root)
    files = {t.name: _writer(layout.table_path(t), t) for t in (TRACKS, CLAIMS, LABELS, DOWNLOADS, SPLITS_TABLE)}
    audit = root / "reports" / "audit"
    audit.mkdir(parents=True, exist_ok=True)
    with open(audit / "flagged.csv", "w", encoding="utf-8-sig", newline="") as flagged_handle, \
            open(audit / "audio_disagreement.csv", "w", encoding="utf-8", newline="") as dis_handle:
        flagged, dis = csv.writer(flagged_handle), csv.writer(dis_handle)
        flagged.writerow(["track_id", "check", "severity", "detail", "title", "artists", "split", "youtube_url"])
        dis.writerow(["track_id", "given", "suspected_genre", "score"])
        for i in range(n):
            track_id = f"bt-{i:07d}"
            title = " ".join(rng.choice(WORDS).title() for _ in range(rng.randint(1, 3))) + f" {i}"
            artist = f"Artist {rng.randrange(max(1, n // 20))}"
            _put(files, TRACKS, track_id=track_id, title=title, artists=artist,
                 duration_ms=rng.randint(90_000, 400_000), origin="synthetic")
            genres = rng.sample(GENRES, rng.choice((1, 1, 2)))
            weights = {g: (1.0 if k == 0 else round(rng.uniform(0.3, 0.9), 3)) for k, g in enumerate(genres)}
            sources = rng.sample(SOURCES, rng.choice((1, 2)))
            for source in sources:
                for genre in genres:
                    _put(files, CLAIMS, track_id=track_id, source=source, raw_genre=genre.title(), weight=1,
                         evidence=f"{source}-{i}")
            genres_text = "; ".join(f"{g}={w:g}" for g, w in weights.items())
            sources_text = "; ".join(f"{g}={','.join(sources)}" for g in genres)
            _put(files, LABELS, track_id=track_id, genres=genres_text, top_genre=genres[0], sources=sources_text,
                 n_sources=len(sources), status="ok")
            score = round(rng.betavariate(6, 1.5), 3)
            _put(files, DOWNLOADS, track_id=track_id, status="ok", youtube_id="dQw4w9WgXcQ", match_score=score,
                 match_detail="title=1; artist=1", audio_path=f"audio/{track_id}.wav", sample_rate=16000,
                 audio_duration_s=180.0, attempts=1)
            split = rng.choices(("train", "validation", "test"), weights=(70, 15, 15))[0]
            _put(files, SPLITS_TABLE, track_id=track_id, split=split, group=f"g{i}", seed=42)
            if rng.random() < 0.05:
                flagged.writerow([track_id, rng.choice(CHECKS), "warning", "synthetic finding", title, artist, split, ""])
            if rng.random() < 0.03:
                dis.writerow([track_id, genres[0], rng.choice(GENRES), round(rng.random(), 3)])
    for handle, _ in files.values():
        handle.close()
    return layout


def scenarios(n: int, rng: random.Random) -> dict[str, Any]:
    """Kinds of table request: each a function of the repetition giving the URL parameters."""
    pages = max(1, n // 50)
    return {
        "all, page 1": lambda r: {},
        "all, deep page": lambda r: {"page": rng.randint(1, pages)},
        "genre": lambda r: {"genre": GENRES[r % len(GENRES)]},
        "genre + split + page": lambda r: {"genre": GENRES[r % len(GENRES)], "split": "test",
                                           "page": rng.randint(1, 20)},
        "search": lambda r: {"q": rng.choice(WORDS) + " " + rng.choice(WORDS)},
        "search artist + source": lambda r: {"q": f"artist {rng.randrange(max(1, n // 20))}",
                                             "source": SOURCES[r % len(SOURCES)]},
        "low score, sorted": lambda r: {"max_score": 0.6, "sort": "score", "page": rng.randint(1, 5)},
        "flagged": lambda r: {"flag": "any" if r % 2 else CHECKS[r % len(CHECKS)]},
        "disagreement, sorted": lambda r: {"disagree": 1, "sort": "disagreement"},
        "title order, deep page": lambda r: {"sort": "title", "page": rng.randint(1, pages)},
    }


def run(data: Path, n: int, repeat: int, seed: int = 0) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from labeling.taxonomy import load_taxonomy

    from .app import create_app

    folder = data / "bench" / "review-data"
    started = time.perf_counter()
    layout = build_folder(folder, n, seed)
    build_s = time.perf_counter() - started
    genres = load_taxonomy().genres
    started = time.perf_counter()
    app = create_app(layout, known_genres=genres)
    load_s = time.perf_counter() - started
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    every: list[float] = []
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        client.get("/")  # warm up: templates compiled, first page
        for name, params_of in scenarios(n, rng).items():
            times, matched = [], 0
            for r in range(repeat):
                params = params_of(r)
                t0 = time.perf_counter()
                reply = client.get("/", params=params)
                times.append((time.perf_counter() - t0) * 1000)
                if reply.status_code != 200:
                    raise RuntimeError(f"{name}: {reply.status_code} {reply.text[:200]}")
                matched += app.state.data.page(_query(params)).total
            every += times
            rows.append({"request": name, "n": repeat, "p50_ms": round(_pct(times, 50), 1),
                         "p95_ms": round(_pct(times, 95), 1), "max_ms": round(max(times), 1),
                         "mean_rows_matched": round(matched / repeat)})
    overall = {"p50_ms": round(_pct(every, 50), 1), "p95_ms": round(_pct(every, 95), 1),
               "max_ms": round(max(every), 1)}
    return {"tracks": n, "repeat": repeat, "goal_ms": GOAL_MS, "meets_goal": overall["p95_ms"] < GOAL_MS,
            "build_folder_s": round(build_s, 2), "app_load_s": round(load_s, 2), "overall": overall,
            "requests": rows, "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "how": "GET / (the rendered table page, 50 rows) through Starlette's TestClient, in-process"}


def _query(params: dict[str, Any]) -> Any:
    from .app import parse_query

    return parse_query({k: str(v) for k, v in params.items()})


def _pct(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def table_text(result: dict[str, Any]) -> str:
    """The figures as a table for the screen."""
    lines: list[str] = []
    lines.append(f"review table page at {result['tracks']:,} tracks (app loads in {result['app_load_s']} s; "
                 f"goal < {result['goal_ms']:.0f} ms a page)")
    lines.append(f"{'request':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'rows':>8}")
    for row in result["requests"]:
        lines.append(f"{row['request']:<26} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8} "
                     f"{row['mean_rows_matched']:>8}")
    o = result["overall"]
    lines.append(f"{'all requests':<26} {o['p50_ms']:>8} {o['p95_ms']:>8} {o['max_ms']:>8}")
    lines.append("meets the goal" if result["meets_goal"] else "MISSES the goal (p95)")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labeling.review.bench", description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--tracks", type=number(int, 1), default=100_000, help="synthetic tracks (default 100000)")
    parser.add_argument("--repeat", type=number(int, 1), default=20, help="requests of each kind (default 20)")
    parser.add_argument("--out", default=None, metavar="FILE", help="JSON output (default: DATA/bench/review.json)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    if args.verbose < 2:  # one line per request would bury the table
        logging.getLogger("httpx").setLevel(logging.WARNING)
    data = Layout.at(args.data).root
    result = run(data, int(args.tracks), int(args.repeat))
    publish(result, table_text(result), data=data, name="review", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
