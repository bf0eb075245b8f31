"""What every command line of the toolkit shares: one shape for every command.

Every command is ``python -m PACKAGE COMMAND`` (and a console script), takes
``--data``, ``-v/-q`` and ``--version``, reads ``.env`` at start, and turns a
user error into one line and exit status 2 (see :mod:`manifests.errors`).
Nothing here runs at import time; ``run_main`` configures logging only when a
command actually starts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from .config import DEFAULT_DATA_DIR, ENV_DATA_DIR, version
from .envfile import load_env_file
from .errors import UserError, run_cli

log = logging.getLogger(__name__)

__all__ = ["UserError", "add_common_arguments", "add_deprecated_alias", "build_parser", "dispatch",
           "number", "read_user_text", "run_main", "setup_logging"]


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
    """``--data``, ``-v/-q`` and ``--version``: the options every command has, with one meaning."""
    parser.add_argument("--data", default=None, metavar="DIR",
                        help=f"data folder (default: ${ENV_DATA_DIR} or ./{DEFAULT_DATA_DIR})")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv: debug, including third-party libraries)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    add_version_argument(parser)


def add_version_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")


def add_deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Accept ``old`` as a hidden alias of the option ``new``, printing one deprecation line when used.

    The alias shares ``new``'s destination and action (a repeatable ``append`` option included:
    old and new occurrences land in one list), so scripts written against the old name keep
    working while ``--help`` shows only the new one.
    """
    target = next((a for a in parser._actions if new in a.option_strings), None)
    if target is None:
        raise ValueError(f"{parser.prog}: no option {new} to alias")
    base: type[argparse.Action] = type(target)

    class DeprecatedAlias(base):  # type: ignore[valid-type,misc]
        def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                     values: Any, option_string: str | None = None) -> None:
            print(f"warning: {old} is deprecated and will be removed; use {new}", file=sys.stderr)
            super().__call__(parser, namespace, values, option_string)

    extra: dict[str, Any] = {}
    if isinstance(target, (argparse._StoreAction, argparse._AppendAction)):  # a repeatable option appends
        extra = {"type": target.type, "choices": target.choices, "metavar": target.metavar,
                 "nargs": target.nargs}
    elif isinstance(target, argparse._StoreConstAction):  # store_true/false included
        extra = {"const": target.const} if type(target) is argparse._StoreConstAction else {}
    parser.add_argument(old, action=DeprecatedAlias, dest=target.dest, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS, **extra)


#: Third-party loggers that stay at WARNING unless -vv asks for everything.
NOISY_LOGGERS = ("urllib3", "requests_cache", "matplotlib", "numba", "h5py", "absl", "tensorflow", "PIL",
                 "filelock", "asyncio")


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:  # third-party chatter stays quiet unless asked
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a CLI entry point: load ``.env``, then turn expected failures into one line and an exit code."""
    def start(args: Sequence[str] | None) -> int:
        load_env_file()
        return main(args)

    return run_cli(start, argv)


def build_parser(prog: str, description: str, modules: Sequence[str],
                 writes_data: Collection[str] = ()) -> argparse.ArgumentParser:
    """A parser whose sub-commands come from ``modules``, each exposing ``register(subparsers)``.

    Command modules keep heavy imports inside their handlers, so ``--help`` is fast. The
    sub-commands named in ``writes_data`` write into the data folder: they hold its lock
    while they run (see :mod:`manifests.lock`) and get ``--wait``.
    """
    import importlib

    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_version_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
    package = prog.split()[-1]
    for name in writes_data:
        command = sub.choices[name]
        command.add_argument("--wait", action="store_true",
                             help="when another command is writing into the data folder, wait for it "
                                  "instead of stopping")
        command.set_defaults(lock_command=f"{package} {name}")
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, set up logging, and call the chosen sub-command's ``func(args) -> int``.

    A command that writes into the data folder runs holding the folder's lock.
    """
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", False))
    command = getattr(args, "lock_command", None)
    if command is None:
        return int(args.func(args) or 0)
    from .layout import Layout
    from .lock import data_folder_lock

    with data_folder_lock(Layout.at(args.data).root, command, wait=args.wait):
        return int(args.func(args) or 0)
