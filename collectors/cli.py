"""Command line of the ``collectors`` package (``python -m collectors COMMAND ...``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from manifests.cliutil import build_parser, dispatch, run_main

#: Modules that add a sub-command; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "collectors.spotify.cmd",
    "collectors.sources.cmd",
    "collectors.audio.cmd",
    "collectors.synthetic.cmd",
    "collectors.local.cmd",
)


#: Commands that write into the data folder: one at a time per folder (spotify-login and doctor do not).
WRITES_DATA: tuple[str, ...] = ("collect", "import-export", "labels", "download", "corpus", "import-audio")


def parser() -> argparse.ArgumentParser:
    """Every ``collectors`` sub-command's parser (no handler runs; heavy imports stay in the handlers)."""
    return build_parser("python -m collectors",
                        "Fetch from the world: playlists, label sources, YouTube audio, the synthetic corpus.",
                        COMMAND_MODULES, writes_data=WRITES_DATA)


def _main(argv: Sequence[str] | None) -> int:
    return dispatch(parser(), argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
