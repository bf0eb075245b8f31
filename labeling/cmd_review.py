"""``python -m labeling review``: a local web app to browse the tracks, listen, and write overrides."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from manifests.cliutil import add_common_arguments, number
from manifests.errors import UserError

from .cli import add_taxonomy_argument

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "review", help="browse the tracks in your browser, listen, and write decisions into overrides.csv",
        description="Serve a local web app over the data folder: a table of tracks with filters (genre, split, "
                    "source, audit flag, low match score, audio-vs-label disagreement) and search, a page per "
                    "track with its audio, spectrogram, claims, labels, YouTube match and (with --run) the "
                    "model's prediction, and buttons and keyboard shortcuts that write drop / set_genres / "
                    "add_genre / remove_genre / pin_video / forbid_video rows into DATA/overrides.csv (with "
                    "undo). Prints its URL; stop it with Ctrl-C.")
    add_common_arguments(p)
    p.add_argument("--run", default=None, metavar="RUN",
                   help="show this run's predictions (a folder, or a name under DATA/runs, evaluated by "
                        "python -m training evaluate)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=number(int, 0, 65535), default=8765,
                   help="port to listen on (default 8765; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the app in your web browser")
    add_taxonomy_argument(p, "taxonomy the genres are checked against")
    p.set_defaults(func=_run)


def _run_folder(data: Path, run: str) -> Path:
    for candidate in (Path(run), data / "runs" / run):
        if candidate.is_dir():
            return candidate
    raise UserError(f"--run {run}: no such run folder (neither {run} nor {data / 'runs' / run})")


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from manifests.layout import Layout
    from manifests.listen import bind, url_of

    from .review.app import LOOPBACK_NAMES, create_app
    from .taxonomy import load_taxonomy

    layout = Layout.at(args.data)
    run = _run_folder(layout.root, args.run) if args.run else None
    loopback = args.host in LOOPBACK_NAMES
    if not loopback:
        log.warning("listening on %s: anyone who can reach this machine can see and change the review", args.host)
    app = create_app(layout, run=run, known_genres=load_taxonomy(args.taxonomy).genres,
                     allowed_hosts=LOOPBACK_NAMES if loopback else None)
    sock = bind(args.host, args.port)
    url = url_of(sock)
    print(f"review: {len(app.state.data)} tracks of {layout.root} at {url}  (Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    level = "info" if args.verbose else "warning"
    server = uvicorn.Server(uvicorn.Config(app, log_level=level, access_log=bool(args.verbose)))
    server.run(sockets=[sock])
    return 0
