"""Import throughput: ``import-audio`` against plain ffmpeg over the same files with the same workers.

``python -m collectors.local.bench --data DIR`` writes a few dozen MP3 and FLAC files of
about 30 s (ffmpeg, music-like signal), then times, side by side and alternating the order
each round (best of ``--repeat``):

* **plain ffmpeg**: ``ffmpeg -i X -ar 16000 -ac 1 out.wav`` per file, ``--workers`` at a time;
* **import-audio**: the whole stage into a fresh data folder with ``--workers`` conversion
  workers: hash, tags, probe, convert, checks (level, truncation, sha256 of the WAV) and
  the tracks, claims and downloads rows.

Prints a table and writes ``DATA/bench/import.json``. The goal is an import at least
0.8x the plain-ffmpeg rate in files per second: what the import adds on top of decoding
must not cost more than a fifth of it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from manifests.audio import ffmpeg_exe
from manifests.benchjson import publish
from manifests.cliutil import add_common_arguments, number, run_main, setup_logging
from manifests.config import usable_cores

#: import files per second over plain-ffmpeg files per second, at least
GOAL_RATIO = 0.8
FORMATS = ("mp3", "flac")


def make_files(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` test files of ``seconds`` each, MP3 and FLAC in turn, under ``ARTIST/ALBUM/`` folders.

    Each has a slightly different length, so different bytes: every file is a track of its own.
    """
    from collectors.audio.bench import make_clip

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        ext = FORMATS[index % len(FORMATS)]
        album = folder / f"Artist {index % 6}" / f"Album {index % 3}"
        album.mkdir(parents=True, exist_ok=True)
        made.append(make_clip(album / f"track{index:03d}.{ext}", seconds=seconds + index * 0.01))
    return made


def _plain_one(src: Path, dst: Path) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
                    "-ar", "16000", "-ac", "1", str(dst)], check=True, capture_output=True)


def time_plain(files: Sequence[Path], out: Path, workers: int) -> float:
    """Seconds for plain ffmpeg over ``files``, ``workers`` processes at a time."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda item: _plain_one(item[1], out / f"{item[0]}.wav"), enumerate(files)))
    return time.perf_counter() - started


def time_import(folder: Path, data: Path, workers: int) -> tuple[float, int]:
    """Seconds for ``import-audio`` of ``folder`` into a fresh ``data``, and the files it converted."""
    from manifests import Layout

    from .importer import ImportSettings, run_import

    settings = ImportSettings(layout="artist/album", workers=workers, min_seconds=1.0, progress=False)
    started = time.perf_counter()
    summary = run_import(Layout.at(data), [folder], settings)
    elapsed = time.perf_counter() - started
    if summary.failed:
        raise RuntimeError(f"the import refused benchmark files: {dict(summary.failed)}")
    return elapsed, summary.converted


def run(files: int, seconds: float, workers: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="genre-import-bench-") as tmp:
        root = Path(tmp)
        sources = make_files(root / "library", files, seconds)
        _plain_one(sources[0], root / "warm.wav")  # the first run pays for disk caches
        plain: list[float] = []
        ours: list[float] = []
        for round_ in range(repeat):
            steps = ["plain", "import"] if round_ % 2 == 0 else ["import", "plain"]
            for step in steps:
                if step == "plain":
                    plain.append(time_plain(sources, root / f"plain{round_}", workers))
                else:
                    elapsed, converted = time_import(root / "library", root / f"data{round_}", workers)
                    if converted != len(sources):
                        raise RuntimeError(f"the import converted {converted} of {len(sources)} files")
                    ours.append(elapsed)
        plain_rate = len(sources) / min(plain)
        import_rate = len(sources) / min(ours)
    ratio = import_rate / plain_rate
    return {
        "benchmark": "import-audio (hash + tags + convert + checks + rows) vs plain ffmpeg -ar 16000 -ac 1",
        "files": len(sources), "formats": list(FORMATS), "seconds_per_file": seconds, "workers": workers,
        "repeat": repeat,
        "plain_ffmpeg": {"files_per_s": round(plain_rate, 2), "audio_s_per_s": round(plain_rate * seconds, 1),
                         "best_s": round(min(plain), 3), "rounds_s": [round(t, 3) for t in plain]},
        "import_audio": {"files_per_s": round(import_rate, 2), "audio_s_per_s": round(import_rate * seconds, 1),
                         "best_s": round(min(ours), 3), "rounds_s": [round(t, 3) for t in ours]},
        "ratio_import_vs_plain": round(ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "meets_goal": ratio >= GOAL_RATIO,
        "machine": {"cpus": os.cpu_count(), "usable_cores": usable_cores(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "ffmpeg": ffmpeg_exe()},
    }


def table(result: dict[str, Any]) -> str:
    plain, ours = result["plain_ffmpeg"], result["import_audio"]
    lines = [
        f"Import throughput ({result['files']} files ({'/'.join(result['formats'])}) x "
        f"{result['seconds_per_file']:g} s, {result['workers']} workers, best of {result['repeat']})",
        "",
        f"{'':<34}{'files / s':>10}{'audio s / s':>13}{'best s':>9}",
        f"{'plain ffmpeg -ar 16000 -ac 1':<34}{plain['files_per_s']:>10.2f}{plain['audio_s_per_s']:>13.1f}"
        f"{plain['best_s']:>9.2f}",
        f"{'import-audio (hash, tags, checks)':<34}{ours['files_per_s']:>10.2f}{ours['audio_s_per_s']:>13.1f}"
        f"{ours['best_s']:>9.2f}",
        f"{'ratio import / plain':<34}{result['ratio_import_vs_plain']:>10.3f}   (goal >= {result['goal_ratio']}"
        f"{': met' if result['meets_goal'] else ': NOT met'})",
    ]
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:

    parser = argparse.ArgumentParser(prog="python -m collectors.local.bench",
                                     description=(__doc__ or "").split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--files", type=number(int, 1), default=24, help="generated files (default 24)")
    parser.add_argument("--seconds", type=number(float, above=0), default=30.0,
                        help="length of each file in seconds (default 30)")
    parser.add_argument("--workers", type=number(int, 1), default=usable_cores(),
                        help="workers for both sides (default: the usable cores)")
    parser.add_argument("--repeat", type=number(int, 1), default=3, help="rounds of each side (default 3)")
    parser.add_argument("--out", default=None, help="JSON output (default: DATA/bench/import.json)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    result = run(args.files, args.seconds, args.workers, args.repeat)
    publish(result, table(result), data=args.data, name="import", out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
