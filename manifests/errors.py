"""What a failure means to the person at the terminal: one place decides.

A ``UserError`` is something the user can fix (bad input, a missing table, a
refused request): the command prints one line naming the input and what to do,
and exits 2. Anything else is a bug and keeps its traceback, so it can be reported.
Every command line of the toolkit goes through :func:`run_cli`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

#: Exit status of a command stopped by a user error (argparse uses 2 for bad usage too).
USER_ERROR_EXIT = 2
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


class UserError(Exception):
    """A problem the user can fix: printed as one ``error: ...`` line, exit status 2."""


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a command's ``main``, turning user errors and Ctrl-C into one line and an exit code."""
    try:
        return main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted: finished work was saved; rerun the same command to continue", file=sys.stderr)
        return INTERRUPTED_EXIT
