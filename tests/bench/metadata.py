"""Metadata stages at 100,000 tracks: reading, validate, resolve, split, build, audit.

``python -m tests.bench.metadata --data DIR [--tracks 100000]`` generates a data folder of
``--tracks`` tracks once (``DIR/bench/metadata-<N>/``: tracks, playlists, ~3 claims per track,
downloads and one tiny but valid 16 kHz WAV per downloaded track, then labels, splits and the
training manifest written by the real commands), then times:

* reading each table in-process (``read_table`` and ``read_frame``), target 2 s each;
* the real commands in subprocesses, as a user runs them: ``manifests validate`` (target 5 s),
  ``labeling resolve``, ``labeling split`` and ``labeling split --fresh``, ``labeling build`` and
  ``labeling audit`` (target 10 s each).

Within target means the step's own time at most the target: the smaller of its wall and CPU
seconds (user + system, its helper processes included). A one-process step is judged by its CPU
time, so a busy machine does not make a fast step look slow; a step that uses both cores
(``manifests validate``, ``labeling audit``) by its wall time, which on an idle machine is what the
user waits. The load average is recorded before each step. Every command starts from the same
pristine manifests (copied back before each run), so reruns of the benchmark time the same work. ``--compare`` also
times every read and command with the pyarrow CSV path off (``MANIFESTS_ARROW_CSV=0``), one right after the other,
so both figures come from the same machine load. A step over its target is run again under cProfile and the
profile is saved beside the results (``DIR/bench/metadata-profiles/<step>.prof`` and a ``.txt``
with the 30 most expensive functions). Prints a table and writes ``DIR/bench/metadata.json``.
Lives in ``tests/bench`` because it runs ``labeling`` commands (``manifests`` imports nothing of ours).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import pstats
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, run_main, setup_logging
from manifests.io import ARROW_ENV, read_table, write_table
from manifests.layout import Layout
from manifests.schema import TABLES

#: Bump when the generated folder changes shape, so an old one is rebuilt.
GENERATOR_VERSION = 1
READ_TARGET_S = 2.0
TARGETS_S = {"validate": 5.0, "resolve": 10.0, "split": 10.0, "split --fresh": 10.0, "build": 10.0,
             "audit": 10.0}
RAW_GENRES = ("Rock", "Hard Rock", "indie rock", "Pop", "Hip-Hop", "jazz", "blues", "heavy metal", "techno",
              "deep house", "classical", "country", "folk", "reggae", "soul", "funk", "punk", "electronic",
              "trap", "ambient", "disco", "grunge", "bebop", "drum and bass")
#: Samples per generated WAV: 10 ms at 16 kHz, enough to be a real file, small enough for 100k of them.
WAV_FRAMES = 160
RATE = 16000


def wav_bytes(index: int) -> bytes:
    """A valid 16 kHz mono PCM16 WAV whose samples encode ``index`` (so every file hashes differently)."""
    data = struct.pack("<Q", index) * (WAV_FRAMES * 2 // 8)
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1, RATE,
                         RATE * 2, 2, 16, b"data", len(data))
    return header + data


def _isrc(index: int) -> str:
    return f"QZ{'ABC'[index % 3]}{index % 100:02d}{index % 10_000_000:07d}"


def generate(root: Path, n: int, seed: int = 7) -> None:
    """Write tracks, playlists, claims, downloads and WAVs of ``n`` tracks into ``root``."""
    import random

    rng = random.Random(seed)
    layout = Layout.at(root)
    layout.audio.mkdir(parents=True, exist_ok=True)
    n_artists = max(3, n // 8)
    n_playlists = max(2, n // 200)
    playlist_genre = {f"pl{p:05d}": RAW_GENRES[p % len(RAW_GENRES)] for p in range(n_playlists)}
    playlists = [{"genre": g, "playlist_id": pid, "name": f"{g} mix {pid}", "n_items": 0, "n_tracks": 0,
                  "status": "ok", "fetched_at": "2026-01-01T00:00:00Z"} for pid, g in playlist_genre.items()]
    tracks, claims, downloads = [], [], []
    for i in tqdm(range(n), desc="generate rows", unit="track", mininterval=1.0):
        tid = f"t{i:07d}"
        artists = [f"Artist {rng.randrange(n_artists)}"]
        if rng.random() < 0.03:  # featurings join artist groups, as in real collections
            artists.append(f"Artist {rng.randrange(n_artists)}")
        isrc = _isrc(i - 1 if i % 500 == 1 else i)  # a few recordings found twice under two IDs
        pl = rng.sample(sorted(playlist_genre), 2 if rng.random() < 0.2 else 1)
        tracks.append({"track_id": tid, "title": f"Song {i}", "artists": list(dict.fromkeys(artists)),
                       "album": f"Album {i // 10}", "release_date": f"{1960 + i % 60}", "isrc": isrc,
                       "playlists": pl, "origin": "spotify"})
        for p in pl:
            claims.append({"track_id": tid, "source": "playlist", "raw_genre": playlist_genre[p], "weight": 1.0,
                           "evidence": p})
        main = playlist_genre[pl[0]]
        claims.append({"track_id": tid, "source": "musicbrainz", "raw_genre": main.lower(),
                       "weight": round(rng.uniform(0.3, 1.0), 3), "evidence": f"mb-{i}", "detail": "votes 3"})
        other = RAW_GENRES[rng.randrange(len(RAW_GENRES))] if rng.random() < 0.7 else "weird stuff"
        claims.append({"track_id": tid, "source": "lastfm", "raw_genre": other,
                       "weight": round(rng.uniform(0.1, 1.0), 3), "evidence": f"lastfm-{i}"})
        if rng.random() < 0.03:
            downloads.append({"track_id": tid, "status": "no_match", "reason": "no candidate passed the threshold",
                              "retryable": False, "attempts": 1, "updated_at": "2026-01-01T00:00:00Z"})
            continue
        blob = wav_bytes(i)
        path = layout.audio_path(tid)
        path.write_bytes(blob)
        downloads.append({"track_id": tid, "status": "ok", "retryable": False,
                          "youtube_id": f"v{i:010d}"[:11], "match_score": round(1.0 - 0.35 * rng.random() ** 3, 3),
                          "match_detail": {"title": 1.0, "artist": 0.9, "duration": 0.8},
                          "runner_up_id": f"r{i:010d}"[:11], "runner_up_score": 0.4,
                          "audio_path": layout.relative(path), "sample_rate": RATE,
                          "audio_duration_s": round(WAV_FRAMES / RATE, 3),
                          "sha256": hashlib.sha256(blob).hexdigest(), "attempts": 1,
                          "updated_at": "2026-01-01T00:00:00Z"})
    for name, rows in (("tracks", tracks), ("playlists", playlists), ("claims", claims), ("downloads", downloads)):
        write_table(layout.table_path(name), TABLES[name], rows)


# ---------------------------------------------------------------- running

def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, GENRE_ENV_FILE="", PYTHONHASHSEED="0", **(extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path.cwd()), env.get("PYTHONPATH")]))
    return env


def run_command(argv: Sequence[str], profile: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Run ``python -m ...argv`` as a user would.

    Returns wall seconds, CPU seconds (user + system), peak resident memory in MB and the last output line.
    """
    prefix = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else [])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(prefix + ["-m", *argv], stdout=out, stderr=err, env=_env(env))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stdout[-2000:]}{stderr[-2000:]}")
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, (lines[-1] if lines else "")


def profile_text(prof: Path, top: int = 30) -> str:
    out = io.StringIO()
    pstats.Stats(str(prof), stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    began, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - began, time.process_time() - cpu


def calibrate(tries: int = 3) -> float:
    """CPU seconds of a fixed pure-Python workload like the metadata stages' (best of ``tries``).

    Measured right before each command: on a shared VM the same command runs up to 1.5x slower
    from one hour to the next, and this figure moves with it. ``seconds / calib`` compares runs
    made at different moments (or on different machines) where raw seconds cannot.
    """
    best = float("inf")
    for _ in range(tries):
        began = time.process_time()
        rows: list[dict[str, Any]] = [{"track_id": f"t{i:015x}", "title": f"Song {i % 997}", "score": (i % 1000) / 1000}
                                      for i in range(100_000)]
        index = {row["track_id"]: row for row in rows}
        groups: dict[str, list[str]] = {}
        for row in sorted(rows, key=lambda r: (r["title"], r["track_id"])):
            groups.setdefault(row["title"].lower(), []).append(row["track_id"])
        sum(index[tid]["score"] for ids in groups.values() for tid in ids)
        best = min(best, time.process_time() - began)
    return best


class Folder:
    """The generated folder and its pristine manifests, restored before each timed command."""

    def __init__(self, data: Path, n: int) -> None:
        self.root = data / "bench" / f"metadata-{n}"
        self.layout = Layout.at(self.root)
        self.pristine = self.root / "pristine"
        self.stamp = self.root / "generated.json"
        self.n = n

    def ready(self) -> bool:
        if not self.stamp.exists():
            return False
        info = json.loads(self.stamp.read_text())
        return bool(info.get("version") == GENERATOR_VERSION and info.get("tracks") == self.n)

    def build(self) -> dict[str, float]:
        """Generate the inputs, then labels, splits and training through the real commands."""
        if self.root.exists():
            shutil.rmtree(self.root)
        took = {"generate": _time(lambda: generate(self.root, self.n))[0]}
        data = ["--data", str(self.root)]
        for name, argv in (("resolve", ["labeling", "resolve"]), ("split", ["labeling", "split"]),
                           ("build", ["labeling", "build"])):
            took[name] = run_command([*argv, *data, "-q"])[0]
        shutil.copytree(self.layout.manifests, self.pristine)
        self.stamp.write_text(json.dumps({"version": GENERATOR_VERSION, "tracks": self.n, "seconds": took}))
        return took

    def restore(self) -> None:
        for src in self.pristine.glob("*.csv"):
            shutil.copyfile(src, self.layout.manifests / src.name)


def _rows(layout: Layout) -> dict[str, int]:
    counts = {}
    for name in TABLES:
        path = layout.table_path(name)
        if path.exists():
            with open(path, "rb") as handle:
                counts[name] = sum(1 for _ in handle) - 1
    return counts


#: The environment that turns the pyarrow CSV path off (``--compare``).
CSV_ONLY = {ARROW_ENV: "0"}


def _csv_only_read(path: Path, name: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``read_table`` with the pyarrow path off."""
    before = os.environ.get(ARROW_ENV)
    os.environ.update(CSV_ONLY)
    try:
        return _time(lambda: read_table(path, TABLES[name]))
    finally:
        if before is None:
            os.environ.pop(ARROW_ENV)
        else:
            os.environ[ARROW_ENV] = before


def run(data: Path, n: int, profile: bool, regenerate: bool, compare: bool = False,
        repeat: int = 1) -> dict[str, Any]:
    from manifests.frames import read_frame

    folder = Folder(data, n)
    generated = None
    if regenerate or not folder.ready():
        print(f"generating {n} tracks in {folder.root} (once) ...", file=sys.stderr)
        generated = folder.build()
    folder.restore()
    layout = folder.layout
    prof_dir = data / "bench" / "metadata-profiles"
    steps: list[dict[str, Any]] = []
    for name in TABLES:
        path = layout.table_path(name)
        if not path.exists():
            continue
        table = TABLES[name]
        rows, rows_cpu = _time(lambda: read_table(path, table))  # noqa: B023 - called at once
        frame, frame_cpu = _time(lambda: read_frame(name, layout.root))  # noqa: B023 - called at once
        steps.append({"step": f"read {name}", "kind": "read", "seconds": round(rows, 3), "cpu_s": round(rows_cpu, 3),
                      "frame_seconds": round(frame, 3), "frame_cpu_s": round(frame_cpu, 3),
                      "target_s": READ_TARGET_S, "ok": max(rows_cpu, frame_cpu) <= READ_TARGET_S})
        if compare:
            old, old_cpu = _csv_only_read(path, name)
            steps[-1].update(csv_only_seconds=round(old, 3), csv_only_cpu_s=round(old_cpu, 3))
    data_args = ["--data", str(layout.root)]
    commands = {
        "validate": ["manifests", "validate", *data_args],
        "resolve": ["labeling", "resolve", *data_args, "-q"],
        "split": ["labeling", "split", *data_args, "-q"],
        "split --fresh": ["labeling", "split", "--fresh", *data_args, "-q"],
        "build": ["labeling", "build", *data_args, "-q"],
        "audit": ["labeling", "audit", *data_args, "-q", "--min-seconds", "0"],
    }
    for step, argv in tqdm(commands.items(), desc="commands", unit="command", leave=False):
        load_before = os.getloadavg()[0]
        calib = calibrate()
        runs = []
        for _ in range(repeat):  # best of --repeat: a shared machine only ever makes a run slower
            folder.restore()
            runs.append(run_command(argv))
        seconds, cpu, rss, last = min(runs)
        entry: dict[str, Any] = {"step": step, "kind": "command", "seconds": round(seconds, 3), "cpu_s": round(cpu, 3),
                                 "peak_rss_mb": round(rss, 1),
                                 "target_s": TARGETS_S.get(step), "ok": min(seconds, cpu) <= TARGETS_S.get(step, 1e9),
                                 "load_before": round(load_before, 2), "calibration_s": round(calib, 3),
                                 "output": last[:300]}
        if profile and not entry["ok"]:
            prof_dir.mkdir(parents=True, exist_ok=True)
            prof = prof_dir / f"{step.replace(' --', '-')}.prof"
            folder.restore()
            run_command(argv, profile=prof)
            prof.with_suffix(".txt").write_text(profile_text(prof))
            entry["profile"] = str(prof)
        if compare:
            folder.restore()
            old, old_cpu, _, _ = run_command(argv, env=CSV_ONLY)
            entry.update(csv_only_seconds=round(old, 3), csv_only_cpu_s=round(old_cpu, 3))
        steps.append(entry)
    folder.restore()
    return {"benchmark": "metadata", "tracks": n, "compare": compare, "repeat": repeat, "rows": _rows(layout), "folder": str(layout.root),
            "generated_seconds": generated, "cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
            "steps": steps, "all_within_target": all(s["ok"] for s in steps)}


def table_text(result: dict[str, Any]) -> str:
    lines = [f"metadata stages at {result['tracks']:,} tracks ({result['cpus']} CPUs); rows: "
             + ", ".join(f"{k} {v:,}" for k, v in result["rows"].items()),
             f"{'step':<22} {'wall s':>8} {'CPU s':>8} {'frame wall':>10} {'frame CPU':>9} {'peak MB':>8} "
             f"{'target':>7}  within {'calib s':>7}" + (f" {'csv-only wall':>13} {'csv-only CPU':>12}" if result.get("compare") else "")]
    for s in result["steps"]:
        frame = f"{s['frame_seconds']:10.2f} {s['frame_cpu_s']:9.2f}" if "frame_seconds" in s else " " * 20
        rss = f"{s['peak_rss_mb']:8.0f}" if "peak_rss_mb" in s else " " * 8
        old = f"   {s['csv_only_seconds']:13.2f} {s['csv_only_cpu_s']:12.2f}" if "csv_only_cpu_s" in s else ""
        calib = f"{s['calibration_s']:7.2f}" if "calibration_s" in s else " " * 7
        lines.append(f"{s['step']:<22} {s['seconds']:8.2f} {s['cpu_s']:8.2f} {frame} {rss} {s['target_s']:7.1f}  "
                     f"{'yes' if s['ok'] else 'NO ':<3}    {calib}{old}")
    if result.get("compare"):
        lines.append("csv-only: the same step with the pyarrow CSV path off (MANIFESTS_ARROW_CSV=0), run right after it")
    lines.append("within: the smaller of wall and CPU seconds at most the target (CPU for a one-process step, "
                 f"wall for one that uses both cores); commands: best of {result.get('repeat', 1)}; "
                 "load average before them: "
                 + ", ".join(f"{s['step']} {s['load_before']:.1f}" for s in result["steps"] if "load_before" in s))
    lines.append("calib: CPU seconds of a fixed pure-Python workload right before the step (best of 3); the machine "
                 "is slower when it is larger, so compare runs made at different moments by seconds / calib")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.metadata", description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--tracks", type=int, default=100_000, help="tracks in the generated folder (default 100000)")
    parser.add_argument("--no-profile", action="store_true", help="do not rerun slow steps under cProfile")
    parser.add_argument("--regenerate", action="store_true", help="generate the folder again even if it exists")
    parser.add_argument("--compare", action="store_true",
                        help="also time every step with the pyarrow CSV path off (MANIFESTS_ARROW_CSV=0)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each command N times and keep the fastest (default 1; 3 on a shared machine)")
    parser.add_argument("--out", default=None, help="JSON result (default DATA/bench/metadata.json)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    data = Layout.at(args.data).root
    result = run(data, args.tracks, profile=not args.no_profile, regenerate=args.regenerate,
                 compare=args.compare, repeat=max(1, args.repeat))
    publish(result, table_text(result), data=data, name="metadata", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
