"""Chaos benchmark: SIGKILL every stage of the offline pipeline at a random moment, rerun it, check the folder.

``python -m tests.bench.chaos [--trials N] [--seed S] [--data DIR] [--stages LIST] [--work DIR]``
(``make chaos``) runs each stage as its real command in its own process group: once
uninterrupted twice (the references), then per trial on a fresh copy of its input it is
killed with SIGKILL at a seeded random moment (process, workers and ffmpeg alike, as a power
cut or the OOM killer would) and run again to completion.  After the rerun:

* **corrupt**: every CSV under ``manifests/`` must read with ``manifests.io.read_table`` for its
  table, every WAV under ``audio/`` must open (``manifests.audio.inspect_wav``), JSON must parse,
  PNG, ``.keras``/zip and HDF5 files must be whole;
* **stray**: no temporary file may be left (``.NAME.tmp-*``, ``*.part``, ``.partial-*``, ...),
  and no file the references do not have;
* **converged**: the rerun exits 0 and the folder equals the reference: byte for byte where
  the stage is deterministic.  What two uninterrupted runs already write differently
  (timestamps, timings, training metrics on a busy CPU) cannot be expected to match after a
  kill either: in a table (manifests, ``history.csv``) or a JSON object those fields are left
  out and every other field must match, record by record; any other such file is only checked
  for being whole.  A file named by chance (the training audio cache's data file) is compared
  under one name; TensorBoard event files are left out; a stage's account of its own run
  (``reports/splits.md`` says the earlier split was kept, ``run.json`` that the run was
  resumed) may differ and is listed, not counted.  The JSON says all of this per stage;
* **tracebacks**: neither the killed run nor the rerun may print a Python traceback (a killed
  process prints none: one would come from the rerun tripping over what the kill left).

Kill moments are drawn from ``--seed``, as fractions of the reference run's writing phase
(from a little before its first write to its end), so they land where files are written; the
machine's load still moves what a given fraction hits.  The goal is 0 corrupt, 0 stray,
every trial converged, 0 tracebacks; the exit status is 1 when it is missed.  Results:
a table on screen, JSON in ``DATA/bench/chaos.json``.

``download`` is the real download stage (yt-dlp, ffmpeg conversion pool, the downloads table)
fetching from the local media server of :mod:`tests.servers.media`, with the search step
replaced by fixed candidates (``python -m tests.audio.crash_runner``): the real
``collectors download`` searches YouTube Music, which a benchmark may not touch.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import fnmatch
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.cliutil import add_common_arguments, run_main, setup_logging

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
TRACEBACK = "Traceback (most recent call last)"

#: the small corpus every offline stage works on (3 genres x 8 tracks of about 8 s)
CORPUS_ARGS = ("--seed", "7", "--tracks-per-genre", "8", "--artists-per-genre", "3", "--seconds", "8",
               "--genres", "rock,jazz,techno", "--workers", "2")
#: a training run of seconds: tiny model, few crops, three epochs
TRAIN_ARGS = ("--preset", "cpu", "--epochs", "3", "--min-tracks", "2", "--crop-seconds", "2", "--n-mels", "32",
              "--width", "4", "--batch-size", "8", "--crops-per-track", "1", "--val-crops-per-track", "1",
              "--run", "chaos", "--workers", "1")
DOWNLOAD_TRACKS = 8

#: names of temporary files the toolkit (and yt-dlp, Keras) write before a rename; none may survive a rerun
STRAY_PATTERNS = (".*.tmp-*", "*.tmp", "*.tmp.*", "*.part", "*.part.*", "*.partial", ".partial-*", "*.ytdl",
                  "*.part-Frag*", "*.temp")


# ---------------------------------------------------------------- stages


@dataclass(frozen=True)
class Stage:
    """One command of the pipeline, what it starts from, and what is left out of every comparison."""

    name: str
    #: the stage whose reference output is this one's input (None: ``prepare`` builds it)
    after: str | None
    #: the command line after ``python -m``, for data folder ``data``
    argv: Callable[[Path], list[str]]
    #: path globs (relative to the data folder) left out of every comparison, each with its reason
    ignore: tuple[tuple[str, str], ...] = ()
    #: (glob, name, reason): a file named by chance is compared under a fixed name (one such file expected)
    renamed: tuple[tuple[str, str, str], ...] = ()
    #: globs of files that describe the run itself ("kept the earlier split", "resumed from epoch 2"): a
    #: rerun after a kill says so, truthfully; differences are listed, not counted against convergence
    run_reports: tuple[str, ...] = ()
    #: builds the input folder when ``after`` is None
    prepare: Callable[[Path], None] | None = None


def _download_argv(data: Path) -> list[str]:
    return ["tests.audio.crash_runner", str(data), str(data.parent / "plan.json")]


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("corpus", None, lambda d: ["collectors", "corpus", "-q", "--data", str(d), *CORPUS_ARGS],
          prepare=lambda d: d.mkdir(parents=True, exist_ok=True)),
    Stage("resolve", "corpus", lambda d: ["labeling", "resolve", "-q", "--data", str(d)]),
    Stage("split", "resolve", lambda d: ["labeling", "split", "-q", "--data", str(d)],
          run_reports=("reports/splits.md",)),
    Stage("build", "split", lambda d: ["labeling", "build", "-q", "--data", str(d)]),
    Stage("audit", "build", lambda d: ["labeling", "audit", "-q", "--data", str(d)]),
    Stage("train", "build", lambda d: ["training", "train", "-q", "--data", str(d), *TRAIN_ARGS],
          ignore=(("runs/*/tensorboard/*",
                   "TensorBoard event files are named by start time and process; a resumed run adds one"),),
          renamed=(("cache/audio-*hz-*.int16", "cache/audio-RANDOMhz.int16",
                    "the audio cache's data file gets a random name at each build"),),
          run_reports=("runs/*/run.json",)),
    Stage("download", None, _download_argv),
)}
#: the default order: every stage's input exists before it runs
ORDER = ("corpus", "resolve", "split", "build", "audit", "train", "download")


# ---------------------------------------------------------------- checking a folder


def _files(root: Path, stage: Stage | None = None) -> dict[str, Path]:
    """Relative path -> file; with a stage: its ignored paths left out, its randomly named files renamed."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if stage is not None:
            if any(fnmatch.fnmatch(rel, pattern) for pattern, _ in stage.ignore):
                continue
            for pattern, name, _ in stage.renamed:
                if fnmatch.fnmatch(rel, pattern) and name not in out:
                    rel = name  # a second one keeps its own name: it shows up as extra
                    break
        out[rel] = path
    return out


def is_stray(rel: str) -> bool:
    """Whether this path looks like a temporary file a writer meant to rename or delete."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, pattern) for pattern in STRAY_PATTERNS)


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or b"IEND" not in data[-16:]:
        raise ValueError("not a whole PNG (signature or IEND chunk missing)")


def _check_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()
    if bad is not None:
        raise ValueError(f"member {bad} is damaged")


def _check_h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as handle:
        handle.visit(lambda name: None)


def _check_csv(path: Path) -> None:
    from manifests.schema import TABLES

    if path.parent.name == "manifests" and path.stem in TABLES:
        from manifests import read_table

        read_table(path, TABLES[path.stem])
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, strict=True))
    if rows and any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("rows of different lengths")


def _check_wav(path: Path) -> None:
    """Opens (``inspect_wav``) and is whole: readers forgive a WAV cut short, so its chunks are walked too."""
    import struct

    from manifests.audio.wav import inspect_wav

    facts = inspect_wav(path)
    if facts.frames <= 0:
        raise ValueError("no audio frames")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError("no RIFF/WAVE header")
        if struct.unpack("<I", head[4:8])[0] + 8 != size:
            raise ValueError(f"the RIFF header promises {struct.unpack('<I', head[4:8])[0] + 8} bytes, "
                             f"the file has {size}")
        offset = 12
        while offset < size:
            chunk = handle.read(8)
            if len(chunk) < 8:
                raise ValueError(f"a chunk header is cut short at byte {offset}")
            length = struct.unpack("<I", chunk[4:8])[0]
            offset += 8 + length + (length & 1)
            handle.seek(offset)
        if offset != size:
            raise ValueError(f"the last chunk ends at byte {offset}, the file at {size}")


def _check_json(path: Path) -> None:
    json.loads(path.read_text(encoding="utf-8"))


CHECKS: tuple[tuple[str, Callable[[Path], None]], ...] = (
    ("*.csv", _check_csv), ("*.wav", _check_wav), ("*.json", _check_json), ("*.png", _check_png),
    ("*.keras", _check_zip), ("*.zip", _check_zip), ("*.h5", _check_h5),
)


@dataclass
class FolderCheck:
    """What is wrong with a data folder, file by file."""

    corrupt: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)


def check_folder(root: Path, stage: Stage | None = None) -> FolderCheck:
    """Every file whole (by its kind) and no temporary file left: the checks after a rerun."""
    found = FolderCheck()
    for rel, path in _files(root, stage).items():
        if is_stray(rel):
            found.stray.append(rel)
            continue
        for pattern, check in CHECKS:
            if fnmatch.fnmatch(path.name, pattern):
                try:
                    check(path)
                except Exception as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    found.corrupt.append(f"{rel}: {type(exc).__name__}: {first}"[:300])
                break
    return found


# ---------------------------------------------------------------- comparing with the references


@dataclass
class Reference:
    """Two uninterrupted runs of a stage, and what they already disagree on."""

    root: Path
    seconds: float
    #: seconds from the start to the first file written (where kills are worth aiming)
    first_write_s: float
    #: relative paths present in both runs, byte-identical
    strict: set[str] = field(default_factory=set)
    #: file -> fields (table columns, top-level JSON keys) that differ between the two runs; the rest
    #: of the file, record by record, must match
    volatile_fields: dict[str, list[str]] = field(default_factory=dict)
    #: files that differ between the runs in other ways: only checked for being whole
    loose: set[str] = field(default_factory=set)
    #: paths only one of the runs has
    volatile_paths: set[str] = field(default_factory=set)


def _records(path: Path, rel: str) -> dict[Any, dict[str, Any]] | None:
    """A file as keyed records, so that fields known to vary can be left out of a comparison.

    Manifest tables by their key (read with ``read_table``), other CSV files by their first
    column, a JSON object as one record of its top-level keys; None for anything else.
    """
    from manifests.schema import TABLES

    parts = rel.split("/")
    if rel.endswith(".csv"):
        if len(parts) == 2 and parts[0] == "manifests" and parts[1][:-4] in TABLES:
            from manifests import read_table

            table = TABLES[parts[1][:-4]]
            return {tuple(row[k] for k in table.key): row for row in read_table(path, table)}
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        first = next(iter(rows[0]), None) if rows else None
        keys = [row.get(first) for row in rows] if first is not None else []
        return {k: row for k, row in zip(keys, rows, strict=True)} if len(set(keys)) == len(keys) else \
            dict(enumerate(rows))
    if rel.endswith(".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"": data} if isinstance(data, dict) else None
    return None


def _differing_fields(a: dict[Any, dict[str, Any]], b: dict[Any, dict[str, Any]]) -> set[str]:
    return {f for key in a for f in set(a[key]) | set(b[key]) if a[key].get(f) != b[key].get(f)}


def compare_references(a: Path, b: Path, stage: Stage, seconds: float, first_write_s: float) -> Reference:
    ref = Reference(root=a, seconds=seconds, first_write_s=first_write_s)
    files_a, files_b = _files(a, stage), _files(b, stage)
    ref.volatile_paths = set(files_a) ^ set(files_b)
    for rel in sorted(set(files_a) & set(files_b)):
        if filecmp.cmp(files_a[rel], files_b[rel], shallow=False):
            ref.strict.add(rel)
            continue
        rec_a, rec_b = _records(files_a[rel], rel), _records(files_b[rel], rel)
        if rec_a is not None and rec_b is not None and set(rec_a) == set(rec_b):
            ref.volatile_fields[rel] = sorted(_differing_fields(rec_a, rec_b))
        else:
            ref.loose.add(rel)
    return ref


def compare_with_reference(trial: Path, ref: Reference, stage: Stage) -> list[str]:
    """How the rerun's folder differs from the reference where the reference is reproducible."""
    diffs: list[str] = []
    files_t, files_r = _files(trial, stage), _files(ref.root, stage)
    for rel in sorted(set(files_r) - set(files_t) - ref.volatile_paths):
        diffs.append(f"missing {rel}")
    for rel in sorted(set(files_t) - set(files_r) - ref.volatile_paths):
        diffs.append(f"extra {rel}")
    for rel in sorted(set(files_t) & set(files_r)):
        if rel in ref.strict:
            if not filecmp.cmp(files_t[rel], files_r[rel], shallow=False):
                diffs.append(f"differs {rel}")
        elif rel in ref.volatile_fields:
            try:
                rec_t = _records(files_t[rel], rel)
            except Exception:
                continue  # reported as corrupt
            rec_r = _records(files_r[rel], rel)
            assert rec_r is not None
            if rec_t is None or set(rec_t) != set(rec_r):
                diffs.append(f"differs {rel}: other records ({len(rec_t or {})} vs {len(rec_r)})")
                continue
            changed = sorted(_differing_fields(rec_r, rec_t) - set(ref.volatile_fields[rel]))
            if changed:
                diffs.append(f"differs {rel}: {', '.join(changed[:5])}")
    return diffs


# ---------------------------------------------------------------- running a command


@dataclass
class Run:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    killed: bool


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENRE_DATA")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["GENRE_ENV_FILE"] = ""  # no .env of the developer's
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _wait_group_gone(pgid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)


def run_command(argv: Sequence[str], cwd: Path, kill_after_s: float | None = None,
                timeout_s: float = 900.0) -> Run:
    """``python -m ARGV`` in its own process group; SIGKILL the whole group after ``kill_after_s``."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", *argv], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    killed = False
    try:
        out, err = proc.communicate(timeout=kill_after_s if kill_after_s is not None else timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        killed = kill_after_s is not None
        out, err = proc.communicate()
    _wait_group_gone(proc.pid)  # workers and ffmpeg too, before anything looks at the folder
    return Run(proc.returncode, out, err, time.monotonic() - started, killed)


def _first_write_s(folder: Path, before: dict[str, tuple[int, int]], started_wall: float) -> float:
    """Seconds from ``started_wall`` to the oldest file the run created or changed."""
    times = []
    for rel, path in _files(folder).items():
        stat = path.stat()
        if before.get(rel) != (stat.st_size, stat.st_mtime_ns):
            times.append(stat.st_mtime_ns / 1e9)
    return max(0.0, min(times) - started_wall) if times else 0.0


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {rel: (p.stat().st_size, p.stat().st_mtime_ns) for rel, p in _files(folder).items()}


# ---------------------------------------------------------------- one stage


@dataclass
class Trial:
    kill_at_s: float
    killed: bool
    rerun_code: int | None
    corrupt: list[str]
    stray: list[str]
    diffs: list[str]
    tracebacks: int
    seconds: float
    #: differences in the stage's own account of the run (``Stage.run_reports``), not counted
    report_diffs: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.rerun_code == 0 and not self.diffs

    @property
    def clean(self) -> bool:
        return self.converged and not self.corrupt and not self.stray and not self.tracebacks


@dataclass
class StageResult:
    stage: Stage
    trials: list[Trial] = field(default_factory=list)
    reference: Reference | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        ref = self.reference
        return {
            "stage": self.stage.name, "trials": len(self.trials), "killed": sum(t.killed for t in self.trials),
            "corrupt_files": sum(len(t.corrupt) for t in self.trials),
            "stray_files": sum(len(t.stray) for t in self.trials),
            "converged": sum(t.converged for t in self.trials), "tracebacks": sum(t.tracebacks for t in self.trials),
            "run_reports_differ": sum(bool(t.report_diffs) for t in self.trials),
            "reference_seconds": round(ref.seconds, 2) if ref else None,
            "compared": None if ref is None else {
                "byte_identical_files": len(ref.strict),
                "compared_without_fields": ref.volatile_fields,
                "only_checked_whole": sorted(ref.loose),
                "paths_differing_between_clean_runs": sorted(ref.volatile_paths),
                "left_out": {pattern: why for pattern, why in self.stage.ignore},
                "renamed": {pattern: why for pattern, _, why in self.stage.renamed},
                "run_reports": list(self.stage.run_reports),
            },
            "error": self.error,
            "details": [{"kill_at_s": round(t.kill_at_s, 2), "killed": t.killed, "rerun_exit": t.rerun_code,
                         "corrupt": t.corrupt, "stray": t.stray, "diffs": t.diffs[:10],
                         "run_report_diffs": t.report_diffs, "tracebacks": t.tracebacks,
                         "seconds": round(t.seconds, 2)} for t in self.trials],
        }


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def reference_runs(stage: Stage, input_dir: Path, work: Path) -> Reference:
    """Two uninterrupted runs of the stage on copies of its input; what they share is the reference."""
    roots = []
    seconds = first_write = 0.0
    for name in ("reference-a", "reference-b"):
        data = _copy(input_dir, work / name / "data")
        _copy_sidecars(input_dir, data)
        before = _snapshot(data)
        started_wall = time.time()
        run = run_command(stage.argv(data), data.parent)
        if run.code != 0 or TRACEBACK in run.stderr:
            raise RuntimeError(f"{stage.name}: the uninterrupted run failed (exit {run.code}): "
                               f"{run.stderr.strip()[-800:]}")
        if not roots:
            seconds, first_write = run.seconds, _first_write_s(data, before, started_wall)
        roots.append(data)
    return compare_references(roots[0], roots[1], stage, seconds, first_write)


def _copy_sidecars(input_dir: Path, data: Path) -> None:
    """Files a stage reads beside its data folder (the download plan)."""
    plan = input_dir.parent / "plan.json"
    if plan.is_file():
        shutil.copy2(plan, data.parent / "plan.json")


def run_trial(stage: Stage, input_dir: Path, ref: Reference, work: Path, kill_at_s: float) -> Trial:
    data = _copy(input_dir, work / "data")
    _copy_sidecars(input_dir, data)
    started = time.monotonic()
    first = run_command(stage.argv(data), data.parent, kill_after_s=kill_at_s)
    rerun = run_command(stage.argv(data), data.parent)
    found = check_folder(data, stage)
    all_diffs = compare_with_reference(data, ref, stage)
    reports = [d for d in all_diffs
               if any(fnmatch.fnmatch(d.split(" ", 2)[1].rstrip(":"), glob) for glob in stage.run_reports)]
    diffs = [d for d in all_diffs if d not in reports]
    tracebacks = first.stderr.count(TRACEBACK) + rerun.stderr.count(TRACEBACK)
    if rerun.code != 0:
        diffs.insert(0, f"rerun exit {rerun.code}: {rerun.stderr.strip()[-300:]}")
    return Trial(kill_at_s=kill_at_s, killed=first.killed, rerun_code=rerun.code, corrupt=found.corrupt,
                 stray=found.stray, diffs=diffs, tracebacks=tracebacks, seconds=time.monotonic() - started,
                 report_diffs=reports)


def kill_moment(ref: Reference, rng: random.Random) -> float:
    """A moment in the reference's writing phase: from a little before its first write to shortly before
    its end (a kill after the end is no kill; run times vary with the machine's load)."""
    start = max(0.0, ref.first_write_s - 0.1 * ref.seconds)
    return start + rng.uniform(0.0, 1.0) * max(0.9 * ref.seconds - start, 0.05)


def run_stage(stage: Stage, input_dir: Path, work: Path, trials: int, rng: random.Random,
              keep_output: Path | None = None) -> StageResult:
    """References, then ``trials`` kill-and-rerun trials of one stage; ``keep_output`` gets the reference."""
    result = StageResult(stage)
    folder = work / stage.name
    try:
        ref = reference_runs(stage, input_dir, folder)
    except RuntimeError as exc:
        result.error = str(exc)
        return result
    result.reference = ref
    for index in range(trials):
        moment = kill_moment(ref, rng)
        trial = run_trial(stage, input_dir, ref, folder / f"trial-{index + 1}", moment)
        log.info("%s trial %d: kill at %.2f s (%s), corrupt %d, stray %d, converged %s, tracebacks %d",
                 stage.name, index + 1, moment, "killed" if trial.killed else "finished first",
                 len(trial.corrupt), len(trial.stray), trial.converged, trial.tracebacks)
        result.trials.append(trial)
        if trial.clean:  # a failed one stays for a look (--work)
            shutil.rmtree(folder / f"trial-{index + 1}", ignore_errors=True)
    if keep_output is not None:
        _copy(ref.root, keep_output)
        _copy_sidecars(ref.root, keep_output)
    return result


# ---------------------------------------------------------------- the download stage's world


@contextmanager
def download_input(folder: Path) -> Iterator[Path]:
    """A data folder with a tracks table, a plan file, and the media server serving its videos."""
    from collectors.audio.bench import make_clip
    from manifests import Layout
    from tests.audio.helpers import video_id_for, write_tracks
    from tests.servers.media import MediaServer

    data = folder / "data"
    layout = Layout.at(data)
    server = MediaServer().start()
    server.slow_chunk, server.slow_pause_s = 4096, 0.02  # each download lasts a moment: kills land mid-file
    try:
        plan, tracks = {}, []
        kinds = ("mp3", "webm", "m4a", "ogg")
        (folder / "clips").mkdir(parents=True, exist_ok=True)
        for index in range(DOWNLOAD_TRACKS):
            ext = kinds[index % len(kinds)]
            clip = make_clip(folder / "clips" / f"clip{index}.{ext}", seconds=3.0 + index % 3)
            vid, track_id = video_id_for(index, "cha"), f"tchaos{index:05d}"
            url = server.add(f"{vid}.{ext}", clip.read_bytes(), "slow")
            plan[track_id] = [vid, url, 3.0 + index % 3]
            tracks.append({"track_id": track_id, "title": f"Song {track_id}", "artists": ["Band"],
                           "seconds": 3.0 + index % 3})
        write_tracks(layout, tracks)
        (folder / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        yield data
    finally:
        server.stop()


# ---------------------------------------------------------------- the whole benchmark


def run_bench(stages: Sequence[str], trials: int, seed: int, work: Path,
              inputs: dict[str, Path] | None = None) -> list[StageResult]:
    """Every named stage in order; a stage's input is the reference output of the stage it follows
    (or ``inputs[name]`` when given, e.g. a test's data folder)."""
    rng = random.Random(seed)
    outputs: dict[str, Path] = {}
    results = []
    for name in stages:
        stage = STAGES[name]
        keep = work / "outputs" / name / "data"
        if inputs and name in inputs:
            result = run_stage(stage, inputs[name], work, trials, rng, keep_output=keep)
        elif name == "download":
            with download_input(work / "inputs" / name) as data:
                result = run_stage(stage, data, work, trials, rng, keep_output=keep)
        elif stage.after is None:
            data = work / "inputs" / name / "data"
            assert stage.prepare is not None
            stage.prepare(data)
            result = run_stage(stage, data, work, trials, rng, keep_output=keep)
        elif stage.after in outputs:
            result = run_stage(stage, outputs[stage.after], work, trials, rng, keep_output=keep)
        else:
            result = StageResult(stage, error=f"needs the output of {stage.after}, which did not run")
        if result.reference is not None:
            outputs[name] = keep
        results.append(result)
    return results


def table(results: Sequence[StageResult]) -> str:
    """One line per stage; below it, what was not compared byte for byte and why."""
    head = (f"{'stage':<9} {'trials':>6} {'killed':>6} {'corrupt':>7} {'stray':>5} {'converged':>9} "
            f"{'tracebacks':>10} {'ref s':>6}")
    lines = [head, "-" * len(head)]
    notes = []
    for r in results:
        d = r.as_dict()
        if r.error:
            lines.append(f"{r.stage.name:<9} error: {r.error[:200]}")
            continue
        lines.append(f"{r.stage.name:<9} {d['trials']:>6} {d['killed']:>6} {d['corrupt_files']:>7} {d['stray_files']:>5} "
                     f"{d['converged']:>4}/{d['trials']:<4} {d['tracebacks']:>10} {d['reference_seconds']:>6}")
        compared = d["compared"]
        loose = [*(f"{p} without {', '.join(f or '?' for f in fields)}"
                   for p, fields in compared["compared_without_fields"].items()),
                 *(f"{p} (only checked whole)" for p in compared["only_checked_whole"]),
                 *(f"{p} (left out: {why})" for p, why in compared["left_out"].items()),
                 *(f"{p} (under one name: {why})" for p, why in compared["renamed"].items())]
        if loose:
            notes.append(f"  {r.stage.name}: {'; '.join(loose)}")
        if d["run_reports_differ"]:
            notes.append(f"  {r.stage.name}: the rerun's own account differs in {d['run_reports_differ']} trial(s) "
                         f"({', '.join(compared['run_reports'])}; not counted)")
    if notes:
        lines += ["not byte-compared (differs between two uninterrupted runs, or named by chance):", *notes]
    return "\n".join(lines)


def goal_met(results: Sequence[StageResult]) -> bool:
    return all(r.error is None and all(t.clean for t in r.trials) for r in results)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3, metavar="N", help="kills per stage (default 3)")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="seed of the kill moments (default 1)")
    parser.add_argument("--stages", default=",".join(ORDER), metavar="LIST",
                        help=f"comma-separated stages, in pipeline order (default: {','.join(ORDER)})")
    parser.add_argument("--work", default=None, metavar="DIR",
                        help="keep every folder here (default: a temporary folder, deleted)")
    parser.add_argument("--out", default=None, help="JSON result file (default: DATA/bench/chaos.json)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose, quiet=args.quiet)
    from manifests import Layout, atomic_write_text
    from manifests.errors import UserError

    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise UserError(f"--stages: unknown stage {unknown[0]!r} (known: {', '.join(ORDER)})")
    if args.trials < 1:
        raise UserError("--trials must be at least 1")
    began = time.monotonic()
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        results = run_bench(stages, args.trials, args.seed, work)
    else:
        with tempfile.TemporaryDirectory(prefix="genre-chaos-") as tmp:
            results = run_bench(stages, args.trials, args.seed, Path(tmp))
    print(table(results))
    met = goal_met(results)
    print(f"goal (0 corrupt, 0 stray, every trial converged, 0 tracebacks): {'met' if met else 'MISSED'} "
          f"({time.monotonic() - began:.0f} s, seed {args.seed})")
    out = Path(args.out) if args.out else Layout.at(args.data).root / "bench" / "chaos.json"
    atomic_write_text(out, json.dumps({"benchmark": "chaos", "seed": args.seed, "trials": args.trials,
                                       "goal_met": met, "results": [r.as_dict() for r in results]},
                                      indent=2, default=list) + "\n")
    print(f"wrote {out}")
    return 0 if met else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
