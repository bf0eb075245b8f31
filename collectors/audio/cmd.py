"""Sub-commands ``download`` and ``doctor`` of ``python -m collectors`` (heavy imports stay in handlers)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from manifests.cliutil import add_common_arguments, add_deprecated_alias, number
from manifests.config import MIN_AUDIO_SECONDS, usable_cores
from manifests.errors import UserError
from manifests.shard import add_shard_argument

ENV_COOKIES = "GENRE_YOUTUBE_COOKIES"


def _seconds_range(text: str) -> tuple[float, float]:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds as MIN,MAX (e.g. 5,10) or one number") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] < 0 or parts[1] < parts[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 <= MIN <= MAX seconds, like 5,10")
    return parts[0], parts[1]


def _cookies_arg(args: argparse.Namespace) -> Path | None:
    chosen = args.cookies or os.environ.get(ENV_COOKIES) or None
    return Path(chosen) if chosen else None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cores = usable_cores()
    p = subparsers.add_parser(
        "download", help="find each track on YouTube, download its audio, convert to 16 kHz mono WAV",
        description="Match every track of the tracks table to a YouTube video (YouTube Music first), download "
                    "its best audio stream with yt-dlp and convert it to audio/<track_id>.wav (16 kHz, mono, "
                    "PCM s16le). Writes manifests/downloads.csv as rows finish; rerun to continue.")
    add_common_arguments(p)
    p.add_argument("--workers", type=number(int, 1), default=cores, metavar="N",
                   help=f"conversion processes (default: cores = {cores})")
    p.add_argument("--no-pin-workers", dest="pin_workers", action="store_const", const=False, default=None,
                   help="let conversion workers move between cores (default: one core each when 2 <= "
                        "workers <= cores; unpin if other heavy work shares the machine)")
    p.add_argument("--download-workers", type=number(int, 1), default=1, metavar="N",
                   help="parallel YouTube downloads, all sharing one request pace (default 1)")
    p.add_argument("--download-interval", type=_seconds_range, default=(5.0, 10.0), metavar="MIN,MAX",
                   help="random pause before each download in seconds (default 5,10; one number: always that)")
    p.add_argument("--request-interval", type=float, default=1.0, metavar="S",
                   help="minimum seconds between any two YouTube requests, searches included (default 1)")
    p.add_argument("--cookies", default=None, metavar="FILE",
                   help=f"cookies.txt (Netscape format) of a logged-in browser; also ${ENV_COOKIES}. "
                        "Copied privately per worker, never logged")
    p.add_argument("--clip-seconds", dest="max_seconds", type=number(float, above=0), default=None, metavar="S",
                   help="keep only an excerpt of S seconds of each track, converting only that part (less disk; "
                        "default: all of it); shorter tracks are kept whole, never padded")
    p.add_argument("--clip-offset", dest="window", choices=("middle", "start"), default="middle",
                   help="with --clip-seconds: take the excerpt from the middle of the track (as FMA and "
                        "MTG-Jamendo do; default) or from its start; downloads.csv records where it starts")
    add_shard_argument(p)
    p.add_argument("--limit", type=number(int, 0), default=None, metavar="N",
                   help="process at most N tracks this run")
    p.add_argument("--min-match-score", dest="threshold", type=number(float, 0, 1), default=0.65, metavar="S",
                   help="minimum match score in [0, 1] to accept a video (default 0.65)")
    p.add_argument("--duration-tolerance", type=number(float, above=0), default=10.0, metavar="S",
                   help="reject videos whose length differs by more than S seconds (default 10)")
    p.add_argument("--min-seconds", type=number(float, 0, unit="seconds"), default=MIN_AUDIO_SECONDS, metavar="S",
                   help=f"reject converted audio shorter than S seconds (default {MIN_AUDIO_SECONDS:g})")
    p.add_argument("--retries", type=number(int, 0), default=3, metavar="N",
                   help="retries per video for network errors, in yt-dlp and ours (default 3)")
    p.add_argument("--retry-failed", action="store_true",
                   help="also retry failures marked not retryable and skipped videos (e.g. after adding cookies)")
    p.add_argument("--retry-no-match", action="store_true",
                   help="search again for tracks that had no match (e.g. after lowering --min-match-score)")
    p.add_argument("--verify-audio", action="store_true",
                   help="re-hash finished files and redo those whose sha256 changed")
    p.add_argument("--keep-source", action="store_true",
                   help="keep the downloaded original audio in DATA/cache/youtube/raw/")
    add_deprecated_alias(p, "--sleep", "--download-interval")
    add_deprecated_alias(p, "--verify", "--verify-audio")
    add_deprecated_alias(p, "--max-seconds", "--clip-seconds")
    add_deprecated_alias(p, "--window", "--clip-offset")
    add_deprecated_alias(p, "--threshold", "--min-match-score")
    p.set_defaults(func=_download)

    d = subparsers.add_parser(
        "doctor", help="check ffmpeg, yt-dlp, the JS runtime and the cookies file; say what to fix",
        description="Check that this machine can download and convert audio. Exit status 1 when something "
                    "required is missing.")
    add_common_arguments(d)
    d.add_argument("--cookies", default=None, metavar="FILE", help=f"cookies file to check (or ${ENV_COOKIES})")
    d.set_defaults(func=_doctor)


def _download(args: argparse.Namespace) -> int:
    from collectors.youtube.score import ScoreConfig
    from manifests import Layout

    from .doctor import check_cookie_file
    from .pipeline import DownloadSettings, DownloadStage

    cookies = _cookies_arg(args)
    if cookies is not None:
        report = check_cookie_file(cookies)
        if report.problem:
            raise UserError(f"--cookies {report.problem}")
    if args.request_interval < 0:
        raise UserError(f"--request-interval {args.request_interval:g}: must be >= 0 seconds")
    try:
        score = ScoreConfig(threshold=args.threshold, duration_tolerance_s=args.duration_tolerance)
        settings = DownloadSettings(
            workers=args.workers, pin_workers=args.pin_workers, download_workers=args.download_workers,
            download_interval_s=args.download_interval,
            request_interval_s=args.request_interval, cookies=cookies, max_seconds=args.max_seconds,
            window=args.window, shard=args.shard, min_seconds=args.min_seconds, limit=args.limit,
            retries=args.retries,
            attempts=args.retries + 1, retry_failed=args.retry_failed, retry_no_match=args.retry_no_match,
            verify_audio=args.verify_audio, keep_source=args.keep_source, score=score, progress=not args.quiet)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    stage = DownloadStage(Layout.at(args.data), settings)
    summary = stage.run()
    print("\n".join(summary.lines()))
    if stage.stop is not None:
        raise stage.stop
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from manifests import Layout

    from .doctor import render, run_checks

    checks = run_checks(Layout.at(args.data).root, _cookies_arg(args))
    print(render(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0
