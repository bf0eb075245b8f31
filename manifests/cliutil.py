"""What every command line of the toolkit shares: logging set-up and one-line errors.

Nothing here runs at import time; ``run_main`` configures logging only when a
command actually starts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .io import ManifestError

log = logging.getLogger(__name__)


class UserError(Exception):
    """A problem the user can fix (bad input, missing file, refused request): one line, exit 2."""


def read_user_text(path: Path, fix: str) -> tuple[bytes, str]:
    """A file the user gave us, as bytes and UTF-8 text (a BOM is dropped).

    ``UserError`` names the file when it cannot be read, or says ``fix`` when it is not UTF-8.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return raw, raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; {fix}") from None


def number(kind: type[int] | type[float] = float, minimum: float | None = None,
           maximum: float | None = None, unit: str = "", above: float | None = None) -> Callable[[str], float]:
    """An argparse ``type=`` that parses a number and checks its range with a one-line message.

    ``minimum``/``maximum`` are inclusive; ``above`` is a strict lower bound ("greater than 0").
    """
    noun = "whole number" if kind is int else "number"
    suffix = f" {unit}" if unit else ""
    if above is not None:
        bounds = f"greater than {above:g}{suffix}"
    elif minimum is not None and maximum is not None:
        bounds = f"between {minimum:g} and {maximum:g}{suffix}"
    elif minimum is not None:
        bounds = "0 or more" + suffix if minimum == 0 else f"at least {minimum:g}{suffix}"
    else:
        bounds = f"at most {maximum:g}{suffix}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        if value != value or (minimum is not None and value < minimum) or (
                maximum is not None and value > maximum) or (above is not None and value <= above):
            raise argparse.ArgumentTypeError(f"{text!r} must be {bounds}")
        return value

    parse.__name__ = noun.replace(" ", "_")  # argparse shows it in "invalid <name> value" messages
    return parse


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="data folder (default: $GENRE_DATA_DIR or ./data)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:  # third-party chatter stays quiet unless asked
        for noisy in ("urllib3", "requests_cache", "matplotlib", "numba", "h5py", "absl", "tensorflow"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a CLI entry point, turning expected failures into a one-line error and exit code."""
    try:
        return main(argv)
    except (UserError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work was saved; rerun the same command to continue", file=sys.stderr)
        return 130


def build_parser(prog: str, description: str, modules: Sequence[str]) -> argparse.ArgumentParser:
    """A parser whose sub-commands come from ``modules``, each exposing ``register(subparsers)``.

    Command modules keep heavy imports inside their handlers, so ``--help`` is fast.
    """
    import importlib

    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, set up logging, and call the chosen sub-command's ``func(args) -> int``."""
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", False))
    return int(args.func(args) or 0)
