"""Command line of the ``training`` package (``python -m training COMMAND ...``)."""

from __future__ import annotations

from collections.abc import Sequence

from manifests.cliutil import build_parser, run_main, setup_logging

from .runtime import quiet_tensorflow

#: Modules that add a sub-command; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "training.commands.evaluate",
    "training.commands.train",
)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser("python -m training", "Train, evaluate and run the genre classifier on a training manifest.",
                          COMMAND_MODULES)
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    quiet_tensorflow(args.verbose)  # before any command imports TensorFlow
    return int(args.func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
