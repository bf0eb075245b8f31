"""Genre predictions for audio files with a trained run.

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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from manifests.errors import UserError

from .probe import ProbeBundle, is_probe_run, load_probe
from .rundir import RunDir

if TYPE_CHECKING:
    from .bundle import Bundle

log = logging.getLogger(__name__)


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


def predict_file(bundle: Bundle | ProbeBundle, path: Path, top_k: int) -> FilePrediction:
    """Decode one file and average the model over crops covering it (a probe: embed it); UserError on bad input."""
    from manifests.audio import FFmpegError, decode_audio

    sample_rate = bundle.sample_rate
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an audio file")
    try:
        wave = decode_audio(path, sample_rate)
    except FFmpegError as exc:
        message = str(exc)
        raise UserError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if isinstance(bundle, ProbeBundle):
        song, n_units = bundle.predict_wave(wave)
        probs = np.asarray(song, dtype=np.float64)
    else:
        crops = np.asarray(bundle.song_crops(wave), dtype=np.float32)
        probs = np.asarray(bundle.predict_crops(crops), dtype=np.float64).mean(axis=0)
        n_units = int(crops.shape[0])
    labels = list(bundle.labels)
    order = np.argsort(-probs, kind="stable")
    top = [(labels[j], float(probs[j])) for j in order[:max(1, top_k)]]
    if bundle.task == "multi":
        predicted = [labels[j] for j in order if probs[j] >= float(bundle.threshold)]
    else:
        predicted = [labels[int(order[0])]]
    duration_s = wave.size / sample_rate
    return FilePrediction(file=str(path), duration_s=duration_s, n_crops=n_units,
                          probabilities={g: float(p) for g, p in zip(labels, probs, strict=True)},
                          predicted=predicted, top=top, warning=truncation_warning(path, duration_s))


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


def run_predict(files: Sequence[str], run: RunDir, top_k: int = 3, as_json: bool = False,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Predict every file; print a table (or JSON); 0 when all worked, 2 when any file failed."""
    import sys

    from .bundle import load_bundle

    out = out or sys.stdout
    err = err or sys.stderr
    bundle: Bundle | ProbeBundle = load_probe(run) if is_probe_run(run) else load_bundle(run)
    unit = "patches" if isinstance(bundle, ProbeBundle) else "crops"
    threshold = float(bundle.threshold)
    results: list[FilePrediction] = []
    errors: list[dict[str, str]] = []
    if not as_json:
        kind = "single-label" if bundle.task == "single" else f"multi-label, threshold {threshold:g}"
        if isinstance(bundle, ProbeBundle):
            kind = f"linear probe on {bundle.settings.model} {bundle.settings.layer}, {kind}"
        print(f"run: {run} ({kind}, {len(bundle.labels)} genres)\n", file=out, flush=True)
    for name in files:
        path = Path(name)
        try:
            result = predict_file(bundle, path, top_k)
        except UserError as exc:
            errors.append({"file": str(path), "error": str(exc)})
            print(f"error: {exc}", file=err, flush=True)
            continue
        results.append(result)
        if result.warning:
            print(f"warning: {path}: {result.warning}", file=err, flush=True)
        if not as_json:
            print(format_table(result, bundle.task, threshold, unit=unit), file=out, flush=True)
            print(file=out)
    if as_json:
        payload = {"run": str(run), "task": bundle.task, "labels": list(bundle.labels),
                   "threshold": threshold if bundle.task == "multi" else None,
                   "results": [r.as_json() for r in results], "errors": errors}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out, flush=True)
    return 2 if errors else 0
