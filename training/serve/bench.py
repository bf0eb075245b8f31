"""Load benchmark of ``training serve``: ``python -m training.serve.bench``.

How much does going through HTTP cost?  The same audio files are predicted

* **in process, one after another**: decode with ffmpeg, crops, the model (what a script
  calling the toolkit would do), and **in process, batched**: the files decoded first,
  then their crops through the model together (the best a script could do);
* **through the server**: a real ``python -m training serve`` on 127.0.0.1, a separate
  process, with ``--clients`` (default 8) clients posting the files at once to
  ``/api/predict`` (upload, decode, queue, shared batches, JSON).

It reports requests per second of each, the server's latency (median, 95th percentile)
and the ratio server / in process (goal: at least 0.8 of the one-after-another figure).

The run: ``--run`` (a folder or a name under ``<data>/runs``), else the newest trained
run under ``<data>/runs``, else one it makes once in ``<data>/bench/serve-run``: the cpu
preset's ``cnn_bn`` over 9 labels with its initial (untrained) weights, which costs
exactly what a trained one costs per request but predicts nothing useful.  The audio is
generated (tones and noise, ``--seconds`` long).  Prints a table and writes JSON
(default ``<data>/bench/serve.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, number, run_main, setup_logging
from manifests.config import usable_cores
from manifests.errors import UserError
from manifests.layout import Layout

from ..config import preset
from ..runs.rundir import RunDir
from ..runtime import quiet_tensorflow

log = logging.getLogger(__name__)

GOAL = 0.8
BENCH_RUN = "serve-run"
LABELS = ["ambient", "blues", "classical", "electronic", "folk", "hip hop", "jazz", "metal", "rock"]


def bench_run(layout: Layout, name: str | None) -> tuple[RunDir, str]:
    """The run to serve, and where it came from."""
    if name:
        return RunDir.resolve(name, layout), "given"
    finished = [run for run in RunDir.all(layout) if run.is_finished]
    if finished:
        return max(finished, key=lambda r: (r.trained_file.stat().st_mtime, r.name)), "newest run in the data folder"
    run = RunDir(layout.root / "bench" / BENCH_RUN)
    if not run.is_finished:
        _make_untrained_run(run)
    return run, "cpu-preset cnn_bn, untrained (speed only)"


def _make_untrained_run(run: RunDir) -> None:
    """A run folder with the cpu preset's cnn_bn at its seeded initial weights (model.keras written last)."""
    import keras

    from ..models.cnn import build_model
    from ..runtime import start_backend

    start_backend()
    config = preset("cpu")
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, len(LABELS))
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(config)
    run.write_labels(LABELS)
    partial = run.path / "model.partial.keras"
    model.save(partial)
    os.replace(partial, run.model_file)


def make_audio(folder: Path, n_files: int, seconds: float, seed: int = 0) -> list[Path]:
    """``n_files`` 16 kHz WAVs of tones, beats and noise."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    paths = []
    for k in range(n_files):
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(80, 1000) * t) * (1 + np.sin(2 * np.pi * rng.uniform(1, 4) * t))
        wave += rng.standard_normal(t.size) * 0.05 * (k % 3)
        path = folder / f"song{k:02d}.wav"
        sf.write(path, np.clip(wave, -1, 1).astype(np.float32), 16000, subtype="PCM_16")
        paths.append(path)
    return paths


def in_process(run: RunDir, files: list[Path], requests: int) -> dict[str, Any]:
    """Requests per second of decode + predict in this process, one after another and batched."""
    from manifests.audio import decode_audio

    from .model import ServedModel

    model = ServedModel(run)
    rate = model.sample_rate
    model.predict_waves([np.zeros(rate, np.float32)])  # tracing, as the server's warm-up
    order = [files[i % len(files)] for i in range(requests)]
    started = time.perf_counter()
    for path in order:
        model.predict_waves([decode_audio(path, rate)])
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    waves = [decode_audio(path, rate) for path in order]
    for first in range(0, len(waves), 8):
        model.predict_waves(waves[first:first + 8])
    batched = time.perf_counter() - started
    return {"sequential_rps": requests / sequential, "batched_rps": requests / batched,
            "sequential_s": sequential, "batched_s": batched}


def _start_server(run: RunDir, layout: Layout) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "training", "serve", str(run.path), "--data", str(layout.root), "--port", "0", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"at (http://\S+/)", line)
    if not match:
        proc.kill()
        raise UserError(f"the server did not start: {line.strip() or 'no output'} (exit {proc.wait()})")
    return proc, match.group(1)


def through_server(run: RunDir, layout: Layout, files: list[Path], requests: int, clients: int) -> dict[str, Any]:
    """Requests per second of ``clients`` clients posting to a real server process at once."""
    import httpx

    proc, url = _start_server(run, layout)
    try:
        local = threading.local()
        bodies = {path: path.read_bytes() for path in files}

        def post(path: Path) -> float:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=url, timeout=300)
            started = time.perf_counter()
            response = local.client.post("/api/predict", files={"file": (path.name, bodies[path], "audio/wav")})
            if response.status_code != 200:
                raise UserError(f"{url}api/predict answered {response.status_code}: {response.text[:200]}")
            return time.perf_counter() - started

        order = [files[i % len(files)] for i in range(requests)]
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, files[:clients]))  # every client connected, the server warm
            started = time.perf_counter()
            latencies = list(pool.map(post, order))
            wall = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"url": url, "rps": requests / wall, "seconds": wall,
            "latency_p50_s": float(np.percentile(latencies, 50)), "latency_p95_s": float(np.percentile(latencies, 95))}


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    layout = Layout.at(args.data)
    run, origin = bench_run(layout, args.run)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as folder:
        files = make_audio(Path(folder), args.files, args.seconds)
        local = in_process(run, files, args.requests)
        server = through_server(run, layout, files, args.requests, args.clients)
    config = json.loads(run.config_file.read_text(encoding="utf-8"))
    return {
        "run": str(run.path), "run_origin": origin, "model": config.get("model"),
        "requests": args.requests, "clients": args.clients, "files": args.files, "seconds_per_file": args.seconds,
        "in_process_sequential_rps": round(local["sequential_rps"], 3),
        "in_process_batched_rps": round(local["batched_rps"], 3),
        "server_rps": round(server["rps"], 3),
        "server_latency_p50_s": round(server["latency_p50_s"], 3),
        "server_latency_p95_s": round(server["latency_p95_s"], 3),
        "ratio_vs_sequential": round(server["rps"] / local["sequential_rps"], 3),
        "ratio_vs_batched": round(server["rps"] / local["batched_rps"], 3),
        "goal_ratio_vs_sequential": GOAL,
        "machine": {"cores": usable_cores(), "platform": platform.platform(), "python": platform.python_version()},
    }


def format_table(r: dict[str, Any]) -> str:
    ok = "yes" if r["ratio_vs_sequential"] >= r["goal_ratio_vs_sequential"] else "NO"
    rows = [
        ("run", f"{r['run']} ({r['model']}; {r['run_origin']})"),
        ("work", f"{r['requests']} requests over {r['files']} files of {r['seconds_per_file']:g} s, "
                 f"{r['clients']} clients"),
        ("in process, one after another", f"{r['in_process_sequential_rps']:.2f} requests/s"),
        ("in process, batched by 8", f"{r['in_process_batched_rps']:.2f} requests/s"),
        ("server (HTTP, 127.0.0.1)", f"{r['server_rps']:.2f} requests/s, latency median "
                                     f"{r['server_latency_p50_s']:.2f} s, p95 {r['server_latency_p95_s']:.2f} s"),
        ("server / one after another", f"{r['ratio_vs_sequential']:.2f}x (goal >= {r['goal_ratio_vs_sequential']:g}x: "
                                       f"{ok})"),
        ("server / batched", f"{r['ratio_vs_batched']:.2f}x"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.serve.bench", description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--run", default=None, help="run to serve (default: the newest trained run, else a "
                                                    "generated untrained cpu-preset run)")
    parser.add_argument("--requests", type=number(int, 8), default=48, help="timed requests (default: 48)")
    parser.add_argument("--clients", type=number(int, 1), default=8, help="concurrent clients (default: 8)")
    parser.add_argument("--files", type=number(int, 1), default=8, help="distinct generated files (default: 8)")
    parser.add_argument("--seconds", type=number(float, 1), default=30.0,
                        help="length of each generated file (default: 30)")
    parser.add_argument("--out", type=Path, help="JSON result (default: <data>/bench/serve.json)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    quiet_tensorflow(args.verbose)
    if args.verbose < 2:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    result = run_bench(args)
    publish(result, format_table(result), data=args.data, name="serve", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
