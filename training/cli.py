"""Command line of the ``training`` package (``python -m training COMMAND ...``)."""

from __future__ import annotations

from collections.abc import Sequence

from manifests.cliutil import build_parser, run_main, setup_logging
from manifests.errors import UserError

from .runtime import quiet_tensorflow

#: Modules only the ``train`` extra installs; without them a command stops with one line saying so.
TRAIN_EXTRA_MODULES = frozenset({"tensorflow", "keras", "librosa", "sklearn", "numba", "tensorboard"})

#: Modules that add a sub-command; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "training.commands.audit_audio",
    "training.commands.claims_audio",
    "training.commands.embed",
    "training.commands.evaluate",
    "training.commands.export",
    "training.commands.pretrained",
    "training.commands.serve",
    "training.commands.train",
)


def _missing_train_extra() -> str | None:
    """The first module of the ``train`` extra that cannot be imported, if any (checked without importing)."""
    import importlib.util

    for name in ("keras", "tensorflow", "librosa", "sklearn"):
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # a module that is there but unusable counts as missing
            return name
    return None


def _train_extra_error(name: str) -> UserError:
    return UserError(f"training needs the 'train' extra ({name} is not installed): run "
                     "pip install -e '.[train]' (make demo and make test install it)")


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser("python -m training", "Train, evaluate and run the genre classifier on a training manifest.",
                          COMMAND_MODULES)
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    quiet_tensorflow(args.verbose)  # before any command imports TensorFlow
    missing = _missing_train_extra()
    if missing is not None:  # before any work: no cache or run folder is started in vain
        raise _train_extra_error(missing)
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TRAIN_EXTRA_MODULES:
            raise
        raise _train_extra_error(exc.name or "?") from None


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
