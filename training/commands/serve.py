"""Sub-command ``serve`` of ``python -m training``: a trained run behind a web page and a JSON API.

The model is loaded (and run once on silence, so the first visitor does not wait for
graph tracing) before the server starts listening; then the URL is printed.  Heavy
imports stay inside the handler so ``python -m training --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import logging

from manifests import Layout
from manifests.cliutil import add_common_arguments, number

from ..runs.rundir import RunDir

log = logging.getLogger(__name__)


def _serve(args: argparse.Namespace) -> int:
    from manifests.listen import bind, url_of

    from ..serve.app import create_app, warm_up
    from ..serve.media import Limits
    from ..serve.model import ModelWorker, ServedModel
    from ..serve.server import serve

    layout = Layout.at(args.data)
    run = RunDir.resolve(args.run, layout) if args.run else RunDir.newest(layout)
    sock = bind(args.host, args.port)  # before loading: a taken port fails at once
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        model = ServedModel(run)
        worker = ModelWorker(model)
        stack.callback(worker.close)
        warm_up(worker)
        limits = Limits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_seconds=args.max_seconds)
        app = create_app(worker, limits)
        identity = model.identity
        print(f"serving run {identity.run} ({identity.kind}, {identity.task}-label, {len(identity.labels)} genres) "
              f"at {url_of(sock)}  (API docs: {url_of(sock)}docs; Ctrl-C stops)", flush=True)
        try:
            serve(app, sock, access_log=args.verbose > 0)
        except KeyboardInterrupt:  # uvicorn finished the requests in flight, then passed Ctrl-C on: a normal stop
            print("stopped", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve", help="a web page and JSON API to try a trained run (upload or record audio)",
        description="Load a trained run (CNN or probe) once and serve it on a local web page (upload a file or "
                    "record from the microphone: top genres, log-mel spectrogram, scores over time) and a JSON API "
                    "(POST /api/predict, GET /api/model, docs at /docs, /openapi.json). Requests share one model "
                    "thread; queued requests are batched together. Binds 127.0.0.1 unless --host says otherwise.")
    p.add_argument("run", nargs="?", default=None, metavar="RUN",
                   help="run folder, or a run name under <data>/runs (default: the newest trained run)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only; "
                                                       "0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=number(int, 0, 65535), default=8000, help="port (default: 8000; 0: any free one)")
    p.add_argument("--max-upload-mb", type=number(float, above=0), default=50.0, metavar="MB",
                   help="largest upload accepted, in MiB (default: 50); larger ones get 413")
    p.add_argument("--max-seconds", type=number(float, above=0), default=600.0, metavar="S",
                   help="longest audio accepted, in seconds (default: 600); longer gets 413")
    add_common_arguments(p)
    p.set_defaults(func=_serve)
