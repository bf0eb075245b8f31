"""Conversion benchmark: our converter vs plain ffmpeg, per process and with 1..N workers.

    python -m collectors.audio.bench [--files 5] [--seconds 60] [--max-workers N] [--out data/bench/audio.json]

Generates the same test files (mp3, opus/webm, m4a/aac, ogg/vorbis, flac; stereo,
44.1 and 48 kHz) in a temporary folder, then measures throughput in seconds of
audio per wall-clock second:

* **per process**: ``ffmpeg -i in -ac 1 -ar 16000 out.wav`` vs our ``convert_task``
  (ffmpeg-python command, checks, sha256) on the same files in the same run, in
  alternating order, best of ``--repeat`` rounds;
* **workers**: our converter in the download stage's process pool with 1..N workers
  (N = usable cores by default), each pinned to a core of its own and, for comparison,
  free to move (see :mod:`collectors.audio.pool` for why pinning wins), best of
  ``--repeat`` rounds; speed-up relative to one worker of the same placement.

Prints a table and writes JSON.  The goal is >= 0.9x plain ffmpeg per process and
near-linear speed-up up to the core count.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from manifests.audio import ffmpeg_exe
from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, number, run_main, setup_logging
from manifests.config import usable_cores

from .convert import ConvertOptions, ConvertTask, convert_task

#: extension -> (encoder, encoder arguments, sample rate, channels)
CODECS: dict[str, tuple[str, list[str], int, int]] = {
    "mp3": ("libmp3lame", ["-b:a", "128k"], 44100, 2),
    "webm": ("libopus", ["-b:a", "96k"], 48000, 2),
    "m4a": ("aac", ["-b:a", "128k"], 44100, 2),
    "ogg": ("libvorbis", ["-q:a", "4"], 48000, 2),
    "flac": ("flac", [], 44100, 2),
}


def make_clip(path: Path | str, *, seconds: float, codec: str | None = None, sample_rate: int | None = None,
              channels: int | None = None, kind: str = "music") -> Path:
    """Write a test clip with the ffmpeg binary: ``music`` (chord, tremolo, noise) or ``silence``.

    The codec follows the file extension unless given (see ``CODECS``).
    """
    path = Path(path)
    ext = path.suffix.lstrip(".")
    encoder, enc_args, default_rate, default_channels = CODECS.get(codec or ext, ("pcm_s16le", [], 44100, 2))
    rate = sample_rate or default_rate
    chans = channels or default_channels
    if kind == "silence":
        expr = "0"
    else:
        expr = ("0.25*sin(2*PI*220*t)+0.15*sin(2*PI*277.2*t)*(0.6+0.4*sin(2*PI*0.7*t))"
                "+0.1*sin(2*PI*329.6*t)+0.03*(random(0)-0.5)")
    exprs = "|".join([expr] * chans)
    source = f"aevalsrc={exprs}:s={rate}:d={seconds}"
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
           "-c:a", encoder, *enc_args, "-ar", str(rate), "-ac", str(chans), str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def _plain_ffmpeg(src: Path, dst: Path) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
                    "-ac", "1", "-ar", "16000", str(dst)], check=True, capture_output=True)


def _ours(src: Path, dst: Path) -> None:
    outcome = convert_task(ConvertTask("bench", str(src), str(dst), ConvertOptions(), min_seconds=1.0))
    if not outcome.ok:
        raise RuntimeError(f"{src.name}: {outcome.error}")


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg)."""
    try:
        import resource
    except ImportError:  # Windows: children's time is not available
        return time.process_time()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(func: Callable[[Path, Path], object], files: Sequence[Path], out_dir: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds for converting ``files`` one after the other."""
    cpu, started = _cpu_s(), time.perf_counter()
    for index, src in enumerate(files):
        func(src, out_dir / f"{index}-{src.stem}.wav")
    return time.perf_counter() - started, _cpu_s() - cpu


def _pool_throughput(workers: int, tasks: list[ConvertTask], audio_s: float, pin: bool) -> float:
    from .pool import conversion_pool

    with conversion_pool(workers, pin) as pool:
        list(pool.map(_warm, range(workers * 2)))  # start and import in every worker before timing
        started = time.perf_counter()
        results = list(pool.map(convert_task, tasks))
        elapsed = time.perf_counter() - started
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"conversion failed in the benchmark: {failed[0]}")
    return audio_s / elapsed


def _scaling(max_workers: int, tasks: list[ConvertTask], audio_s: float, repeat: int) -> list[dict[str, Any]]:
    """Throughput of 1..N workers, pinned one per core and free, alternating, best of ``repeat`` rounds."""
    from .pool import should_pin

    placements = [("one core each", True), ("free", False)] if should_pin(1, True) else [("free", False)]
    best: dict[tuple[str, int], float] = {}
    for _ in range(repeat):
        for workers in range(1, max_workers + 1):
            for name, pin in placements:
                rate = _pool_throughput(workers, tasks, audio_s, pin)  # the pool refuses to pin beyond the cores
                best[name, workers] = max(best.get((name, workers), 0.0), rate)
    rows = []
    for name, _ in placements:
        base = best[name, 1]
        for workers in range(1, max_workers + 1):
            rate = best[name, workers]
            rows.append({"workers": workers, "placement": name, "audio_s_per_s": round(rate, 1),
                         "speedup": round(rate / base, 2), "efficiency": round(rate / base / workers, 2),
                         "default": should_pin(workers) == (name == "one core each")})
    return rows


def _warm(_: int) -> int:
    import numpy  # noqa: F401  (the imports a real task pays once per worker)
    import soundfile  # noqa: F401

    return os.getpid()


def run(files: int, seconds: float, max_workers: int, repeat: int, tasks_per_worker: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="genre-audio-bench-") as tmp:
        root = Path(tmp)
        sources = []
        exts = list(CODECS)
        for index in range(files):
            ext = exts[index % len(exts)]
            sources.append(make_clip(root / f"clip{index}.{ext}", seconds=seconds))
        audio_s = seconds * len(sources)
        out_plain, out_ours = root / "plain", root / "ours"
        out_plain.mkdir()
        out_ours.mkdir()
        _plain_ffmpeg(sources[0], out_plain / "warm.wav")  # first runs pay for imports and disk caches
        _ours(sources[0], out_ours / "warm.wav")
        plain_times: list[tuple[float, float]] = []
        our_times: list[tuple[float, float]] = []
        for round_ in range(repeat):
            order = [("plain", _plain_ffmpeg, out_plain), ("ours", _ours, out_ours)]
            if round_ % 2:
                order.reverse()
            for name, func, out in order:
                (plain_times if name == "plain" else our_times).append(_timed(func, sources, out))
        plain_rate = audio_s / min(w for w, _ in plain_times)
        our_rate = audio_s / min(w for w, _ in our_times)
        # CPU time is immune to other programs on a shared machine: a second, steadier view
        plain_cpu_rate = audio_s / min(c for _, c in plain_times)
        our_cpu_rate = audio_s / min(c for _, c in our_times)

        tasks = []
        n_tasks = max(max_workers * tasks_per_worker, len(sources))
        for index in range(n_tasks):
            src = sources[index % len(sources)]
            tasks.append(ConvertTask(f"b{index}", str(src), str(root / "ours" / f"pool{index}.wav"),
                                     ConvertOptions(), min_seconds=1.0))
        pool_audio_s = seconds * len(tasks)
        scaling = _scaling(max_workers, tasks, pool_audio_s, repeat)
        defaults = {row["workers"]: row["audio_s_per_s"] for row in scaling if row["default"]}
    return {
        "benchmark": "audio conversion to 16 kHz mono PCM s16le WAV",
        "files": [s.name for s in sources],
        "seconds_per_file": seconds,
        "repeat": repeat,
        "per_process": {
            "plain_ffmpeg_audio_s_per_s": round(plain_rate, 1),
            "ours_audio_s_per_s": round(our_rate, 1),
            "ratio_ours_vs_plain": round(our_rate / plain_rate, 3),
            "goal_ratio": 0.9,
            "plain_ffmpeg_audio_s_per_cpu_s": round(plain_cpu_rate, 1),
            "ours_audio_s_per_cpu_s": round(our_cpu_rate, 1),
            "cpu_ratio_ours_vs_plain": round(our_cpu_rate / plain_cpu_rate, 3),
        },
        "workers": scaling,
        "default_speedup_vs_one_worker": {str(n): round(rate / defaults[1], 2) for n, rate in defaults.items()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "ffmpeg": ffmpeg_exe()},
    }


def table(result: dict[str, Any]) -> str:
    per = result["per_process"]
    lines = [
        f"Audio conversion benchmark ({len(result['files'])} files x {result['seconds_per_file']:g} s, "
        f"best of {result['repeat']})",
        "",
        f"{'per process':<28}{'audio s / wall s':>18}{'audio s / CPU s':>18}",
        f"{'plain ffmpeg -ac 1 -ar 16000':<28}{per['plain_ffmpeg_audio_s_per_s']:>18.1f}"
        f"{per['plain_ffmpeg_audio_s_per_cpu_s']:>18.1f}",
        f"{'ours (convert + checks)':<28}{per['ours_audio_s_per_s']:>18.1f}{per['ours_audio_s_per_cpu_s']:>18.1f}",
        f"{'ratio ours / plain':<28}{per['ratio_ours_vs_plain']:>18.3f}{per['cpu_ratio_ours_vs_plain']:>18.3f}"
        f"   (goal >= {per['goal_ratio']})",
        "",
        f"{'workers':>8}  {'placement':<15}{'audio s / wall s':>18}{'speed-up':>10}{'efficiency':>12}",
    ]
    for entry in result["workers"]:
        lines.append(f"{entry['workers']:>8}  {entry['placement']:<15}{entry['audio_s_per_s']:>18.1f}"
                     f"{entry['speedup']:>10.2f}{entry['efficiency']:>12.2f}{'  (download default)' * entry['default']}")
    gains = ", ".join(f"{n} workers {x:.2f}x" for n, x in result["default_speedup_vs_one_worker"].items() if n != "1")
    if gains:
        lines.append(f"\nthe download stage's default placement vs one worker: {gains}")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:

    parser = argparse.ArgumentParser(prog="python -m collectors.audio.bench", description=(__doc__ or "").split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--files", type=number(int, 1), default=5,
                        help="number of generated files (default 5, one per codec)")
    parser.add_argument("--seconds", type=number(float, above=0), default=60.0,
                        help="length of each file in seconds (default 60)")
    parser.add_argument("--max-workers", type=number(int, 1), default=usable_cores(),
                        help="largest worker count to measure (default: the usable cores)")
    parser.add_argument("--repeat", type=number(int, 1), default=5, help="rounds of each comparison (default 5)")
    parser.add_argument("--tasks-per-worker", type=number(int, 1), default=8,
                        help="conversions per worker in the scaling test (default 8)")
    parser.add_argument("--out", default=None, help="JSON output (default: DATA/bench/audio.json)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    result = run(args.files, args.seconds, args.max_workers, args.repeat, args.tasks_per_worker)
    publish(result, table(result), data=args.data, name="audio", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
