"""``python -m labeling build``: tracks + labels + downloads + splits -> training manifest."""

from __future__ import annotations

import argparse

from manifests.cliutil import add_common_arguments, add_deprecated_alias

from .cli import add_no_audio_files_argument, add_taxonomy_argument
from .resolve import DEFAULT_THRESHOLD


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "build", help="join the stage tables into the training manifest",
        description="Keep tracks with usable labels, downloaded audio and a split, not dropped by "
                    "overrides.csv; write manifests/training.csv, reports/build_summary.json and "
                    "reports/build_excluded.csv (one line per excluded track with its reason).")
    add_common_arguments(p)
    add_taxonomy_argument(p)
    p.add_argument("--multi-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="W",
                   help="an ambiguous track is kept when some genre has weight >= W "
                        f"(multi-label usable; default {DEFAULT_THRESHOLD})")
    add_no_audio_files_argument(p)
    add_deprecated_alias(p, "--skip-audio-check", "--no-audio-files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from manifests.layout import Layout

    from .build import run_build
    from .taxonomy import load_taxonomy

    summary = run_build(Layout.at(args.data), load_taxonomy(args.taxonomy), threshold=args.multi_threshold,
                        check_audio=not args.no_audio_files)
    print(summary.format())
    return 0
