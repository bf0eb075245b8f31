"""Command line of the ``labeling`` package (``python -m labeling COMMAND ...``) and the options its
commands share (one name and one help text per idea)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from manifests.cliutil import build_parser, dispatch, run_main

#: Modules that add a sub-command; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "labeling.cmd_split", "labeling.cmd_audit",
    "labeling.cmd_taxonomy", "labeling.cmd_resolve", "labeling.cmd_build", "labeling.cmd_review",
)


#: Commands that write into the data folder: one at a time per folder (``taxonomy`` only reads).
WRITES_DATA: tuple[str, ...] = ("resolve", "split", "build", "audit")


def add_taxonomy_argument(parser: argparse.ArgumentParser, what: str = "taxonomy file (.toml or .json)") -> None:
    parser.add_argument("--taxonomy", metavar="FILE", default=None,
                        help=f"{what} (default: $GENRE_TAXONOMY or the packaged one)")


def add_no_audio_files_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-audio-files", action="store_true",
                        help="do not look for audio files on disk, e.g. audio kept on another machine")


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser("python -m labeling", "Turn source claims into labels: taxonomy, resolution, splits, audits.",
                          COMMAND_MODULES, writes_data=WRITES_DATA)
    return dispatch(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
