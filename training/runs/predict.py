"""Genre predictions for audio files and folders with a trained run, on screen or into a file, at scale.

Every file is decoded with the toolkit's own ffmpeg (:mod:`manifests.audio.ffmpeg`) at the
model's sample rate, so an MP3, an Ogg or a WAV is heard exactly as the training audio
was; the song's probabilities are the mean over evenly spaced crops covering it all.
A file that is missing or cannot be decoded is reported on one line and skipped; the
others are still predicted, and the exit status says that something failed.  A file
that decodes to much less than its container's header promises (a cut-off download)
is still predicted, from what there is, with a one-line warning and a ``warning``
field: ffmpeg decodes such files without complaint, so nobody would notice otherwise.

A linear probe run (``--model probe``) predicts the same way from the other end: the
file is embedded with the run's pretrained model (its patches, pooled into one vector)
and the probe gives the song's probabilities; ``n_crops`` then counts the patches.

At scale (a folder of 10,000 songs):

* folders are walked with :func:`manifests.audio.files.walk` (every audio extension,
  byte-wise name order, hidden files skipped, symbolic-link loops walked once), the same
  walk ``import-audio`` uses;
* decoding runs in ``workers`` processes while the model runs here, with at most
  ``2 × workers`` files in flight, and each file reaches the model as its crops (or
  patches) only.  A file longer than :data:`LONG_SECONDS` is streamed and heard through at
  most :data:`MAX_UNITS` evenly spaced consecutive crops (patches), so memory stays
  bounded whatever the files' lengths;
* ``--out FILE`` writes one row per file (CSV or JSON lines), each a whole line flushed
  at once, so a killed run leaves a valid file up to its last complete row; rerunning the
  same command skips the files already there (a torn last line is cut off first), and
  ``--shard K/N`` keeps only this machine's share, keyed by the file's path.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from manifests.audio.files import AUDIO_EXTENSIONS, Found, display_path, walk
from manifests.errors import UserError
from manifests.shard import Shard
from manifests.workers import end_with_owner

from .probe import ProbeBundle, is_probe_run, load_probe
from .rundir import RunDir

if TYPE_CHECKING:
    from ..models.pretrained.registry import Spectrogram
    from .bundle import Bundle

log = logging.getLogger(__name__)

#: A file decoding to more than this many seconds is streamed (never held whole) and heard through
#: at most :data:`MAX_UNITS` evenly spaced crops or patches; shorter files are heard whole, as in ``evaluate``.
LONG_SECONDS = 600.0
#: The most crops (patches) of one long file that reach the model.
MAX_UNITS = 256
#: Output formats of ``--out``, by file extension.
FORMATS = ("csv", "jsonl")


@dataclass
class FilePrediction:
    file: str
    duration_s: float
    n_crops: int
    probabilities: dict[str, float]
    predicted: list[str]
    top: list[tuple[str, float]] = field(default_factory=list)
    #: why the prediction may not describe the whole song (a truncated file), else None
    warning: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {"file": self.file, "duration_s": round(self.duration_s, 3), "n_crops": self.n_crops,
               "predicted": self.predicted,
               "top": [{"genre": g, "probability": round(p, 4)} for g, p in self.top],
               "probabilities": {g: round(p, 6) for g, p in self.probabilities.items()}}
        if self.warning:
            out["warning"] = self.warning
        return out


#: A decoded file shorter than this share of its container's duration, and by more than
#: ``SHORT_MIN_MISSING_S``, is reported as probably truncated (codec padding is far below both).
SHORT_FRACTION = 0.9
SHORT_MIN_MISSING_S = 2.0


def truncation_warning(path: Path, decoded_s: float) -> str | None:
    """A warning when the container's header promises much more audio than was decoded, else None.

    The header is read with ``ffmpeg -i`` (no decoding); a file whose header cannot be read
    or states no duration gets no warning, as there is nothing to compare with.
    """
    from manifests.audio import FFmpegError, probe

    try:
        claimed = probe(path).duration_s
    except FFmpegError as exc:
        log.debug("%s: no container duration to compare with (%s)", path, exc)
        return None
    if claimed is None or decoded_s >= SHORT_FRACTION * claimed or claimed - decoded_s <= SHORT_MIN_MISSING_S:
        return None
    return f"decoded {decoded_s:.1f} s but the container says {claimed:.1f} s (truncated file?)"


# ---------------------------------------------------------------- decoding (in worker processes)

@dataclass(frozen=True)
class DecodePlan:
    """What a decoding worker cuts a file into: the model's crops (a CNN) or patch windows (a probe).

    Plain data, sent to the worker processes, which never load a model or a framework.
    """

    sample_rate: int
    #: a CNN run: samples per crop
    crop_samples: int | None = None
    #: a probe run: the pretrained model's input, the hop between patches and the run's bound on patches
    spectrogram: Spectrogram | None = None
    hop_frames: int | None = None
    max_patches: int | None = None
    long_seconds: float = LONG_SECONDS
    max_units: int = MAX_UNITS

    @classmethod
    def of(cls, bundle: Bundle | ProbeBundle, long_seconds: float = LONG_SECONDS,
           max_units: int = MAX_UNITS) -> DecodePlan:
        if isinstance(bundle, ProbeBundle):
            embedder = bundle.embedder
            return cls(bundle.sample_rate, spectrogram=embedder.spec.spectrogram, hop_frames=embedder.hop_frames,
                       max_patches=embedder.settings.max_patches, long_seconds=long_seconds, max_units=max_units)
        return cls(bundle.sample_rate, crop_samples=bundle.crop_samples, long_seconds=long_seconds,
                   max_units=max_units)


@dataclass
class Decoded:
    """A decoded file as the model will see it: int16 crops or patches (exactly the float samples × 32768)."""

    units: np.ndarray
    n_samples: int
    warning: str | None = None


class _EvenlySpaced:
    """At most ``cap`` items of a stream of unknown length, evenly spaced: every ``stride``-th, doubling as needed."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.stride = 1
        self.seen = 0
        self.kept: list[tuple[int, np.ndarray]] = []

    def add(self, item: np.ndarray) -> None:
        index, self.seen = self.seen, self.seen + 1
        if index % self.stride:
            return
        self.kept.append((index, _to_int16(item)))
        if len(self.kept) > self.cap:
            self.stride *= 2
            self.kept = [(i, x) for i, x in self.kept if i % self.stride == 0]

    def items(self) -> list[np.ndarray]:
        return [x for _, x in self.kept]


def _to_int16(samples: np.ndarray) -> np.ndarray:
    """Decoded float samples back to the int16 ffmpeg gave (exact: they are k / 32768), half the bytes to send."""
    return np.asarray(np.round(np.asarray(samples, dtype=np.float32) * 32768.0), dtype=np.int16)


def _tiles(blocks: Iterable[np.ndarray], size: int, keep: _EvenlySpaced) -> None:
    """Consecutive ``size``-sample crops of a stream into ``keep``, and one ending at the stream's end.

    The last crop is added unless the last crop kept already ends there (as ``evaluate``'s
    evenly spaced crops, the first starts at 0 and the last ends at the end).
    """
    buffer = np.zeros(0, dtype=np.float32)
    tail = np.zeros(0, dtype=np.float32)  # the last ``size`` samples seen
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        tail = np.concatenate([tail, block])[-size:]
        while buffer.size >= size:
            keep.add(buffer[:size])
            buffer = buffer[size:]
    last_kept = keep.kept[-1][0] if keep.kept else -1
    if buffer.size or last_kept != keep.seen - 1:
        keep.kept.append((keep.seen, _to_int16(tail)))


def decode_units(path: Path, plan: DecodePlan) -> Decoded:
    """Decode one file into what the model needs, in bounded memory; FFmpegError when ffmpeg cannot read it.

    Up to ``plan.long_seconds`` the file is held whole and cut exactly as ``evaluate`` cuts a
    track (evenly spaced crops covering it; the run's patches).  A longer file is streamed:
    consecutive crops (patches) of it, at most ``plan.max_units`` of them evenly spaced.
    """
    from manifests.audio import stream_audio

    from ..data.crops import song_crops
    from ..models.pretrained.patches import PatchStream, patch_windows

    limit = int(plan.long_seconds * plan.sample_rate)
    blocks = stream_audio(path, plan.sample_rate)
    held: deque[np.ndarray] = deque()
    total = 0
    streaming = False
    for block in blocks:
        held.append(block)
        total += block.size
        if total > limit:
            streaming = True
            break

    if not streaming:
        wave = np.concatenate(list(held)) if held else np.zeros(0, dtype=np.float32)
        if plan.spectrogram is not None:
            units, _ = patch_windows(wave, plan.spectrogram, plan.hop_frames, plan.max_patches)
        else:
            assert plan.crop_samples is not None
            units = song_crops(wave, plan.crop_samples)
        return Decoded(_to_int16(units), total)

    counted = [total]

    def replay() -> Iterator[np.ndarray]:
        while held:  # what was held goes first, and is let go of as it goes
            yield held.popleft()
        for block in blocks:
            counted[0] += block.size
            yield block

    if plan.spectrogram is not None:
        cap = min(plan.max_units, plan.max_patches or plan.max_units)
        keep = _EvenlySpaced(cap)
        for window in PatchStream(plan.spectrogram, plan.hop_frames).windows(replay()):
            keep.add(window)
    else:
        assert plan.crop_samples is not None
        keep = _EvenlySpaced(plan.max_units - 1)  # room for the crop at the very end
        _tiles(replay(), plan.crop_samples, keep)
    log.debug("%s: longer than %g s, heard through %d evenly spaced units", path, plan.long_seconds,
              len(keep.kept))
    return Decoded(np.stack(keep.items()), counted[0])


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an audio file")


def _decode_job(path: Path, plan: DecodePlan) -> Decoded | str:
    """A worker's whole job for one file: its units and truncation warning, or the one-line reason it failed."""
    from manifests.audio import FFmpegError

    try:
        _check_file(path)
        decoded = decode_units(path, plan)
    except UserError as exc:
        return str(exc)
    except FFmpegError as exc:
        message = str(exc)
        return message if message.startswith(str(path)) else f"{path}: {message}"
    except OSError as exc:
        return f"{path}: cannot read it ({exc.strerror or exc})"
    decoded.warning = truncation_warning(path, decoded.n_samples / plan.sample_rate)
    return decoded


def decoding_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes (never forked from a process that runs TensorFlow) that end with this one."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max(1, workers), mp_context=context, initializer=end_with_owner,
                               initargs=(os.getpid(),))


# ---------------------------------------------------------------- the model (in this process)

def _song_probabilities(bundle: Bundle | ProbeBundle, units: np.ndarray) -> np.ndarray:
    """Song-level probabilities from a file's int16 crops (CNN: their mean) or patch windows (probe: pooled)."""
    from ..data.embeddings import pool

    waves = units.astype(np.float32) / 32768.0
    if isinstance(bundle, ProbeBundle):
        embedder = bundle.embedder
        vector = pool(embedder._run(waves), embedder.settings.pooling)
        return np.asarray(bundle.predict_embeddings(vector[None, :])[0], dtype=np.float64)
    return np.asarray(np.asarray(bundle.predict_crops(waves), dtype=np.float64).mean(axis=0))


def _prediction(bundle: Bundle | ProbeBundle, name: str, decoded: Decoded, top_k: int) -> FilePrediction:
    probs = _song_probabilities(bundle, decoded.units)
    labels = list(bundle.labels)
    order = np.argsort(-probs, kind="stable")
    top = [(labels[j], float(probs[j])) for j in order[:max(1, top_k)]]
    if bundle.task == "multi":
        predicted = [labels[j] for j in order if probs[j] >= float(bundle.threshold)]
    else:
        predicted = [labels[int(order[0])]]
    return FilePrediction(file=name, duration_s=decoded.n_samples / bundle.sample_rate,
                          n_crops=int(decoded.units.shape[0]),
                          probabilities={g: float(p) for g, p in zip(labels, probs, strict=True)},
                          predicted=predicted, top=top, warning=decoded.warning)


def predict_file(bundle: Bundle | ProbeBundle, path: Path, top_k: int) -> FilePrediction:
    """Decode one file here and average the model over crops covering it (a probe: embed it); UserError on bad input."""
    outcome = _decode_job(path, DecodePlan.of(bundle))
    if isinstance(outcome, str):
        raise UserError(outcome)
    return _prediction(bundle, str(path), outcome, top_k)


def format_table(result: FilePrediction, task: str, threshold: float, bar_width: int = 24,
                 unit: str = "crops") -> str:
    """A readable block per file: rank, genre, probability and a bar (``unit``: what ``n_crops`` counts)."""
    lines = [f"{result.file}  ({result.duration_s:.1f} s, {result.n_crops} {unit})"]
    if result.warning:
        lines.append(f"  warning: {result.warning}")
    width = max(len(g) for g, _ in result.top)
    for rank, (genre, prob) in enumerate(result.top, start=1):
        mark = ""
        if task == "multi":
            mark = "  *" if prob >= threshold else ""
        bar = "█" * int(round(prob * bar_width))
        lines.append(f"  {rank:>2}. {genre:<{width}}  {prob:6.1%}  {bar}{mark}")
    if task == "multi":
        shown = ", ".join(result.predicted) or "none"
        lines.append(f"  predicted (probability ≥ {threshold:g}, marked *): {shown}")
    return "\n".join(lines)


# ---------------------------------------------------------------- which files

@dataclass(frozen=True)
class Candidate:
    """A file to predict: ``name`` is how it is shown and keyed (the path as named, plus the part found under a folder)."""

    name: str
    path: Path
    #: known before decoding: why it cannot be predicted (a broken link, a folder that cannot be listed)
    error: str | None = None


_FFMPEG_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+\]")


def _printable(text: str) -> str:
    """An error as one stable line any UTF-8 stream prints.

    Bytes of a file name that were not UTF-8 become ``\\xNN``; the memory addresses ffmpeg puts
    in its messages (``[mp3 @ 0x55d0...]``) go, so two runs over the same files write the same rows.
    """
    text = _FFMPEG_ADDRESS.sub("]", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def find_files(paths: Sequence[str]) -> list[Candidate]:
    """The files named and the audio files under the folders named, each once, in a stable order.

    A named file is always tried (whatever its extension); under a folder only audio extensions
    count.  A folder with no audio at all is a warning; nothing to predict at all is a UserError.
    """
    found: list[Candidate] = []
    seen: set[str] = set()
    empty: list[str] = []

    def add(candidate: Candidate) -> None:
        if candidate.name not in seen:
            seen.add(candidate.name)
            found.append(candidate)

    for text in paths:
        given = Path(text)
        if not given.is_dir():
            add(Candidate(display_path(given), given))
            continue
        before = len(found)
        base = Path(os.path.abspath(given))
        for item in walk([given]):
            shown = given / item.path.relative_to(base)
            if isinstance(item, Found):
                add(Candidate(display_path(shown), shown))
            elif item.kind == "unreadable":
                add(Candidate(display_path(shown), shown, error=f"{display_path(shown)}: {item.reason}"))
            else:
                log.debug("%s: skipped (%s)", display_path(shown), item.reason)
        if len(found) == before:
            empty.append(display_path(given))
            log.warning("%s: no audio files in this folder", display_path(given))
    if not found:
        raise UserError(f"{', '.join(empty)}: no audio files found (looked for {', '.join(sorted(AUDIO_EXTENSIONS)[:6])}, "
                        f"... and {len(AUDIO_EXTENSIONS) - 6} more extensions)")
    return found


# ---------------------------------------------------------------- the output file

def output_format(path: Path, chosen: str | None = None) -> str:
    """``csv`` or ``jsonl``: ``chosen``, else from the extension; a one-line error when neither says."""
    if chosen:
        return chosen
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "jsonl"):
        return suffix
    if suffix in ("ndjson", "json"):
        return "jsonl"
    raise UserError(f"{path}: cannot tell the format from the extension; name it .csv or .jsonl, or pass "
                    "--format csv|jsonl")


@dataclass(frozen=True)
class RunIdentity:
    """Which model made a row: the run's name, what it is, and the first hex digits of its weights' SHA-256."""

    run: str
    model: str
    weights: str

    @classmethod
    def of(cls, run: RunDir, bundle: Bundle | ProbeBundle) -> RunIdentity:
        from manifests.hashing import sha256_file

        if isinstance(bundle, ProbeBundle):
            model = f"probe:{bundle.settings.model}/{bundle.settings.layer}"
        else:
            model = bundle.config.model
        return cls(run.name, model, sha256_file(run.trained_file)[:12])


def _whole_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` that end in ``\\n`` (only ``\\n`` ends a row: a torn last line is left out)."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end + 1]
        start = end + 1


class PredictionFile:
    """``--out``: one row per file, appended a whole line at a time and flushed; reopened, it knows its files.

    CSV columns: file, run, model, weights, duration_s, n_crops, predicted (``;``-separated),
    top (``genre:probability;...``), one ``prob_<genre>`` column per label, warning, error.
    JSON lines: the fields of ``predict --json`` plus run, model, weights and error.
    """

    def __init__(self, path: Path, fmt: str, labels: Sequence[str], identity: RunIdentity) -> None:
        self.path = path
        self.format = fmt
        self.labels = list(labels)
        self.identity = identity
        self.columns = ["file", "run", "model", "weights", "duration_s", "n_crops", "predicted", "top",
                        *(f"prob_{g}" for g in self.labels), "warning", "error"]
        self._handle: TextIO | None = None

    # -- reading back what an earlier run wrote
    def done(self) -> dict[str, bool]:
        """Files already written (name -> whether it was an error); cuts a torn last row off first."""
        if not self.path.is_file():
            return {}
        data = self.path.read_bytes()
        text = data.decode("utf-8", "surrogateescape")  # byte lengths survive the round trip
        rows, good = self._read_csv(text) if self.format == "csv" else self._read_jsonl(text)
        good_bytes = len(text[:good].encode("utf-8", "surrogateescape"))
        if good_bytes < len(data):
            log.warning("%s: cutting off an incomplete last row (an interrupted run)", self.path)
            os.truncate(self.path, good_bytes)
        done: dict[str, bool] = {}
        for row in rows:
            if row.get("weights") != self.identity.weights:
                raise UserError(f"{self.path}: written with run {row.get('run')!r} (weights {row.get('weights')}), "
                                f"not {self.identity.run!r} (weights {self.identity.weights}); use another --out "
                                "or remove the file")
            done[str(row["file"])] = bool(row.get("error"))
        return done

    def _read_csv(self, text: str) -> tuple[list[dict[str, str]], int]:
        position = 0

        def lines() -> Iterator[str]:
            nonlocal position
            for line in _whole_lines(text):
                position += len(line)
                yield line

        rows: list[dict[str, str]] = []
        good = 0
        whole = text.rfind("\n") + 1
        reader = csv.reader(lines())
        try:
            for number, cells in enumerate(reader, start=1):
                if number == 1 and cells != self.columns:
                    raise UserError(f"{self.path}: not this run's prediction file (its columns differ: another "
                                    "run's genres, or not written by predict); use another --out or remove it")
                if len(cells) != len(self.columns):
                    if position >= whole:  # the last row, torn inside a quoted cell: cut off below
                        break
                    raise UserError(f"{self.path}: row {number} has {len(cells)} cells, expected "
                                    f"{len(self.columns)}; use another --out or remove it")
                if number > 1:
                    rows.append(dict(zip(self.columns, cells, strict=True)))
                good = position
        except csv.Error as exc:  # at the end: a quoted cell left open by the torn last row
            if position < whole:
                raise UserError(f"{self.path}: not a CSV file ({exc}); use another --out or remove it") from None
        return rows, good

    def _read_jsonl(self, text: str) -> tuple[list[dict[str, Any]], int]:
        rows: list[dict[str, Any]] = []
        good = 0
        for number, line in enumerate(_whole_lines(text), start=1):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict) or "file" not in row:
                raise UserError(f"{self.path}: line {number} is not a prediction row; use another --out or "
                                "remove it")
            rows.append(row)
            good += len(line)
        return rows, good

    # -- writing
    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        self._handle = open(self.path, "a", encoding="utf-8", newline="")
        if fresh and self.format == "csv":
            self._write_line(self._csv_line(self.columns))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _csv_line(self, cells: Sequence[object]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        return buffer.getvalue()

    def _write_line(self, line: str) -> None:
        assert self._handle is not None
        self._handle.write(line)  # one write of a whole row, then flushed: a kill leaves whole rows
        self._handle.flush()

    def write(self, name: str, result: FilePrediction | None, error: str | None = None) -> None:
        ident = self.identity
        if self.format == "jsonl":
            row: dict[str, Any] = {"file": name, "run": ident.run, "model": ident.model, "weights": ident.weights}
            if result is not None:
                row.update(result.as_json())
                row["file"] = name
            row.setdefault("warning", None)
            row["error"] = error
            self._write_line(json.dumps(row, ensure_ascii=False) + "\n")
            return
        if result is None:
            cells: list[object] = [name, ident.run, ident.model, ident.weights, "", "", "", "",
                                   *([""] * len(self.labels)), "", error or ""]
        else:
            top = ";".join(f"{g}:{p:.4f}" for g, p in result.top)
            cells = [name, ident.run, ident.model, ident.weights, f"{result.duration_s:.3f}", result.n_crops,
                     ";".join(result.predicted), top, *(f"{result.probabilities[g]:.6f}" for g in self.labels),
                     result.warning or "", ""]
        self._write_line(self._csv_line(cells))


# ---------------------------------------------------------------- the command

@dataclass
class _Tally:
    predicted: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    results: list[FilePrediction] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def _outcomes(todo: Sequence[Candidate], plan: DecodePlan, workers: int) -> Iterator[tuple[Candidate, Decoded | str]]:
    """Each candidate with its decoded units or error, in order; decoding runs ahead in ``workers`` processes.

    At most ``2 × workers`` files are in flight (decoding or decoded and waiting), so memory
    stays bounded however many files there are.
    """
    if len(todo) <= 1:  # nothing to overlap with: no processes to start
        for candidate in todo:
            yield candidate, candidate.error or _decode_job(candidate.path, plan)
        return
    ahead = 2 * max(1, workers)
    pool = decoding_pool(workers)
    pending: deque[tuple[Candidate, Future[Decoded | str] | None]] = deque()
    queue = iter(todo)

    def refill() -> None:
        while len(pending) < ahead:
            candidate = next(queue, None)
            if candidate is None:
                return
            job = None if candidate.error else pool.submit(_decode_job, candidate.path, plan)
            pending.append((candidate, job))

    finished = False
    try:
        refill()
        while pending:
            candidate, job = pending.popleft()
            if job is None:
                outcome: Decoded | str = candidate.error or ""
            else:
                try:
                    outcome = job.result()
                except BrokenProcessPool:
                    raise UserError(f"{candidate.name}: a decoding process died (out of memory?); rerun the same "
                                    "command to go on") from None
            refill()  # the workers decode the next files while the model runs on this one
            yield candidate, outcome
        finished = True
    finally:  # stopped early (an error, Ctrl-C): pending work is dropped, not waited for
        pool.shutdown(wait=finished, cancel_futures=True)


def run_predict(files: Sequence[str], run: RunDir, top_k: int = 3, as_json: bool = False,
                out: TextIO | None = None, err: TextIO | None = None, *, out_file: Path | None = None,
                out_format: str | None = None, shard: Shard | None = None, workers: int = 1,
                progress: bool = True) -> int:
    """Predict every file (folders: their audio files); a table, JSON, or rows in ``out_file``.

    0 when every file was predicted, 2 when any failed (the others are still predicted).
    """
    from tqdm import tqdm

    from .bundle import load_bundle

    out = out or sys.stdout
    err = err or sys.stderr
    shard = shard or Shard()
    fmt = output_format(out_file, out_format) if out_file is not None else None
    if out_file is not None and as_json:
        raise UserError("--json prints to the screen; with --out, choose the file's format with --format jsonl")
    candidates = find_files(files)
    owned = [c for c in candidates if shard.owns(c.name)]
    bundle: Bundle | ProbeBundle = load_probe(run) if is_probe_run(run) else load_bundle(run)
    unit = "patches" if isinstance(bundle, ProbeBundle) else "crops"
    threshold = float(bundle.threshold)
    sink: PredictionFile | None = None
    todo = owned
    skipped = 0
    if out_file is not None and fmt is not None:
        sink = PredictionFile(out_file, fmt, bundle.labels, RunIdentity.of(run, bundle))
        done = sink.done()
        todo = [c for c in owned if c.name not in done]
        skipped = len(owned) - len(todo)
        if skipped:
            log.info("%d of %d file(s) already in %s: skipped", skipped, len(owned), out_file)
    if not shard.everything:
        log.info("shard %s: %d of %d file(s)", shard, len(owned), len(candidates))
    if out_file is None and not as_json:
        kind = "single-label" if bundle.task == "single" else f"multi-label, threshold {threshold:g}"
        if isinstance(bundle, ProbeBundle):
            kind = f"linear probe on {bundle.settings.model} {bundle.settings.layer}, {kind}"
        print(f"run: {run} ({kind}, {len(bundle.labels)} genres)\n", file=out, flush=True)

    tally = _Tally()
    bar = tqdm(total=len(todo), desc="predict", unit="file", file=err, disable=not progress or None,
               dynamic_ncols=True)

    def say(line: str) -> None:
        if bar.disable:
            print(line, file=err, flush=True)
        else:
            bar.write(line, file=err)

    if sink is not None:
        sink.open()
    try:
        plan = DecodePlan.of(bundle)
        for candidate, outcome in _outcomes(todo, plan, workers):
            if isinstance(outcome, str):
                message = _printable(outcome)
                tally.failed += 1
                tally.errors.append({"file": candidate.name, "error": message})
                say(f"error: {message}")
                if sink is not None:
                    sink.write(candidate.name, None, message)
            else:
                result = _prediction(bundle, candidate.name, outcome, top_k)
                tally.predicted += 1
                tally.audio_seconds += result.duration_s
                if result.warning:
                    say(f"warning: {candidate.name}: {result.warning}")
                if sink is not None:
                    sink.write(candidate.name, result)
                elif as_json:
                    tally.results.append(result)
                else:
                    print(format_table(result, bundle.task, threshold, unit=unit), file=out, flush=True)
                    print(file=out)
            bar.update(1)
            bar.set_postfix_str(f"{tally.audio_seconds:.0f} s of audio", refresh=False)
    finally:
        bar.close()
        if sink is not None:
            sink.close()

    if as_json:
        payload = {"run": str(run), "task": bundle.task, "labels": list(bundle.labels),
                   "threshold": threshold if bundle.task == "multi" else None,
                   "results": [r.as_json() for r in tally.results], "errors": tally.errors}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out, flush=True)
    elif out_file is not None:
        parts = [f"{tally.predicted} file(s) predicted ({tally.audio_seconds:.0f} s of audio)"]
        if tally.failed:
            parts.append(f"{tally.failed} could not be read (see the error column)")
        if skipped:
            parts.append(f"{skipped} already in the file skipped")
        if not shard.everything:
            parts.append(f"shard {shard}: {len(owned)} of {len(candidates)} file(s)")
        print(f"{'; '.join(parts)}: {out_file}", file=out, flush=True)
    return 2 if tally.failed else 0
