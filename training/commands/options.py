"""Options several training commands share, so they read the same everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_run_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run folder, or a run name under <data>/runs")


def add_manifest_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", type=Path, default=None, metavar="PATH",
                        help="training table to read (default: <data>/manifests/training.csv)")
