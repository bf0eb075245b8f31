"""Command line of the ``labeling`` package (``python -m labeling COMMAND ...``)."""

from __future__ import annotations

from collections.abc import Sequence

from manifests.cliutil import build_parser, dispatch, run_main

#: Modules that add a sub-command; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "labeling.cmd_split", "labeling.cmd_audit",
    "labeling.cmd_taxonomy", "labeling.cmd_resolve", "labeling.cmd_build",
)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser("python -m labeling", "Turn source claims into labels: taxonomy, resolution, splits, audits.", COMMAND_MODULES)
    return dispatch(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
