"""``python -m training export RUN --format savedmodel|onnx --out PATH``: a run as a self-contained model.

A finished run (a CNN's ``model.keras`` or a probe's ``probe.npz`` on musicnn) becomes a
TensorFlow SavedModel or an ONNX file that takes 16 kHz mono waveform and returns label
probabilities, with everything in between (log-mel front end, crops or patches, pooling,
the probe's standardisation and regression) inside the graph (:mod:`.graphs`): loading it
needs plain TensorFlow or onnxruntime, not this toolkit and not Keras.

Entries:

* CNN, SavedModel: signature ``serving_default`` (crops ``[batch, crop_samples]``) and
  ``song`` (whole clips ``[batch, samples]``); ONNX: ``model.onnx`` and ``song.onnx``, the same.
* probe: ``serving_default`` / ``model.onnx``, whole clips (a probe is song-level by construction).

Inputs are named ``waveform`` and outputs ``scores`` everywhere.  Before anything is put in
place the export is loaded back (``tf.saved_model.load`` / ``onnxruntime``) and run on a
generated clip next to the toolkit's own prediction; a difference above
:data:`TOLERANCE` stops the export.  The files are written into a hidden folder beside
``--out`` and renamed into place at the end, so an interrupted or failed export leaves
nothing behind (a killed one leaves its hidden folder, which the next export into the same
place removes), and an existing ``--out`` is replaced only with ``--force``.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from manifests.clock import utc_now_text
from manifests.config import version
from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.io import atomic_write_text

from ..config import MODEL_NAMES, TrainConfig
from ..models.pretrained.registry import PretrainedSpec, get_pretrained
from ..runs.probe import is_probe_run
from ..runs.rundir import JSONObject, RunDir
from .card import CARD_FILE, PRETRAINED_LICENCE_FILE, README_FILE, CardFacts, Entry, build_card, render_readme

if TYPE_CHECKING:
    from ..runs.bundle import Bundle
    from ..runs.probe import ProbeBundle

log = logging.getLogger(__name__)

FORMATS = ("savedmodel", "onnx")
#: ONNX opset of the exported files (17 has every op the graphs use, e.g. ReduceMean with axes input).
OPSET = 17
SAVED_MODEL_DIR = "saved_model"
#: Largest difference of a probability between the export and the toolkit allowed at export time.
TOLERANCE = 1e-4
#: Seconds of the generated check clip, in crops (CNN) or patches (probe): more than two, not whole.
CHECK_LENGTH = 2.6

#: A traced function: ``waveform`` tensor in, ``{"scores": tensor}`` out.
GraphFn = Callable[[Any], dict[str, Any]]


@dataclass
class ExportResult:
    """Where the export went and what it holds."""

    out: Path
    files: list[str]
    card: JSONObject


@dataclass
class _Plan:
    """The graphs of one run, ready to be written in either format."""

    kind: str
    models: list[Any]  # the Keras models whose variables the graphs read
    entries: list[tuple[Entry, GraphFn, list[int | None], Callable[[np.ndarray], np.ndarray]]]
    facts: CardFacts


def check_format(fmt: str) -> str:
    name = fmt.strip().lower()
    if name not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return name


def check_run(run: RunDir) -> str:
    """``"cnn"`` or ``"probe"`` for a finished run; a one-line error for a missing or unfinished one."""
    if not run.path.is_dir():
        raise UserError(f"{run}: no such run folder")
    if not run.config_file.is_file():
        raise UserError(f"{run}: not a run folder (no config.json)")
    if is_probe_run(run):
        if not run.probe_file.is_file():
            raise UserError(f"{run}: the probe run is unfinished (no {run.probe_file.name} yet); rerun its train "
                            "command, then export")
        return "probe"
    if not run.model_file.is_file():
        raise UserError(f"{run}: training is unfinished (no {run.model_file.name} yet); let it finish or rerun "
                        "its train command, then export")
    return "cnn"


def check_out(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise UserError(f"{out} already exists; choose another --out or pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not an export folder; remove it or choose another --out")


def _need_tensorflow() -> None:
    from ..runtime import start_backend

    start_backend()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"export traces the model with TensorFlow, but KERAS_BACKEND is "
                        f"{keras.backend.backend()!r}: run it with KERAS_BACKEND=tensorflow (any backend's "
                        "model.keras loads there)")


def check_clip(sample_rate: int, n_samples: int) -> np.ndarray:
    """A deterministic clip ``[2, n_samples]`` for the export-time check: tones with noise, and a quiet one."""
    rng = np.random.default_rng(20240601)
    t = np.arange(n_samples) / sample_rate
    tones = sum(np.sin(2 * np.pi * f * t) * a for f, a in ((110.0, 0.3), (440.0, 0.2), (2500.0, 0.05)))
    loud = tones * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t)) + 0.05 * rng.standard_normal(n_samples)
    quiet = 0.01 * rng.standard_normal(n_samples)
    return np.clip(np.stack([loud, quiet]), -1, 1).astype(np.float32)


# ---------------------------------------------------------------- the graphs of each kind

def _cnn_plan(run: RunDir, bundle: Bundle) -> _Plan:
    from .graphs import crop_scores, song_scores

    model, crop = bundle.model, bundle.crop_samples

    def crops_fn(waveform: Any) -> dict[str, Any]:
        return {"scores": crop_scores(model, waveform)}

    def song_fn(waveform: Any) -> dict[str, Any]:
        return {"scores": song_scores(model, waveform, crop)}

    def reference_song(waves: np.ndarray) -> np.ndarray:
        return np.stack([bundle.predict_song(w) for w in waves])

    f = bundle.config.features
    preprocessing: JSONObject = {
        "inside_graph": True,
        "front_end": "log-mel spectrogram (training.models.features.LogMel), the model's first layer",
        "stft": {"n_fft": f.n_fft, "hop_length": f.hop_length, "window": "periodic Hann", "center": True,
                 "pad": f"{f.n_fft // 2} zeros on both sides (librosa's pad_mode='constant')"},
        "mel": {"n_mels": f.n_mels, "fmin": f.fmin, "fmax": f.fmax if f.fmax is not None else f.sample_rate / 2,
                "filterbank": "librosa.filters.mel (slaney scale and norm) on the power spectrum"},
        "log": f"10 * log10(max(mel, {f.amin:g}))",
        "standardize": "zero mean, unit variance per example over time and frequency" if f.standardize else None,
        "frames_per_crop": 1 + bundle.crop_samples // f.hop_length,
    }
    facts = _facts(run, "cnn", bundle.labels, bundle.task, bundle.threshold, bundle.sample_rate, crop,
                   preprocessing, pretrained_part(bundle.config))
    facts.entries = [
        Entry("serving_default", "", "crop", [None, crop], f"probabilities of crops of exactly {crop} samples "
              f"({crop / bundle.sample_rate:g} s)"),
        Entry("song", "", "song", [None, None], "song-level probabilities of whole clips (mean over evenly spaced "
              "crops)")]
    return _Plan("cnn", [model], [
        (facts.entries[0], crops_fn, [None, crop], bundle.predict_crops),
        (facts.entries[1], song_fn, [None, None], reference_song)], facts)


def _probe_plan(run: RunDir, bundle: ProbeBundle) -> _Plan:
    from .graphs import ProbeGraph

    embedder = bundle.embedder
    spec, settings = embedder.spec, embedder.settings
    head = embedder.model.head((settings.layer,))
    graph = ProbeGraph(head, spec.spectrogram, embedder.hop_frames, settings.max_patches, settings.pooling,
                       bundle.probe)

    def song_fn(waveform: Any) -> dict[str, Any]:
        return {"scores": graph.scores(waveform)}

    def reference(waves: np.ndarray) -> np.ndarray:
        return np.stack([bundle.predict_wave(w)[0] for w in waves]).astype(np.float32)

    sg = spec.spectrogram
    preprocessing: JSONObject = {
        "inside_graph": True,
        "patches": {"samples": sg.patch_samples, "frames": sg.patch_frames,
                    "hop_samples": embedder.hop_frames * sg.hop_length, "overlap": settings.overlap,
                    "max_patches": settings.max_patches,
                    "cutting": f"the clip padded with {sg.n_fft // 2} zeros on both sides (librosa's centring); "
                               "patch k starts at k * hop_samples; the end that does not fill a patch is not "
                               "used; a clip shorter than one patch is one patch filled with silence"},
        "front_end": f"{spec.name}'s log-mel: {sg.describe()}",
        "embedding": {"model": spec.name, "layer": settings.layer, "pooling": settings.pooling,
                      "description": settings.describe()},
        "classifier": "(embedding - mean) / scale, then logistic regression (softmax for single-label, one "
                      "sigmoid per genre for multi-label), in float64",
    }
    probe_info: JSONObject = {"embedding_size": bundle.probe.dim, "C": [float(c) for c in bundle.probe.c]}
    facts = _facts(run, "probe", bundle.labels, bundle.task, bundle.threshold, bundle.sample_rate, None,
                   preprocessing, spec)
    facts.probe = probe_info
    facts.entries = [Entry("serving_default", "", "song", [None, None],
                           "song-level probabilities of whole clips (patches, embedding, pooling, probe)")]
    return _Plan("probe", [head], [(facts.entries[0], song_fn, [None, None], reference)], facts)


def pretrained_part(config: TrainConfig) -> PretrainedSpec | None:
    """The pretrained model a CNN-kind run carries the weights of (a fine-tuned musicnn), None when built from scratch.

    Its licence and attribution go on the card, and its licence file beside the export.
    """
    if config.model in MODEL_NAMES:
        return None
    name = getattr(getattr(config, "finetune", None), "pretrained", None)
    return get_pretrained(name) if isinstance(name, str) and name else None


def _facts(run: RunDir, kind: str, labels: list[str], task: str, threshold: float, sample_rate: int,
           crop: int | None, preprocessing: JSONObject, spec: PretrainedSpec | None) -> CardFacts:
    return CardFacts(run=run, kind=kind, fmt="", labels=list(labels), task=task, threshold=float(threshold),
                     sample_rate=sample_rate, crop_samples=crop, preprocessing=preprocessing, entries=[],
                     trained_file_sha256=sha256_file(run.trained_file), toolkit_version=version(),
                     exported_at=utc_now_text(), pretrained=spec)


# ---------------------------------------------------------------- writing and checking

def _spec(shape: list[int | None]) -> Any:
    import tensorflow as tf

    return tf.TensorSpec(shape, tf.float32, name="waveform")


def _write_savedmodel(plan: _Plan, folder: Path) -> list[str]:
    import keras

    archive = keras.export.ExportArchive()
    for model in plan.models:
        archive.track(model)
    for entry, fn, shape, _ in plan.entries:
        entry.file = SAVED_MODEL_DIR
        archive.add_endpoint(name=entry.name, fn=_named(fn), input_signature=[_spec(shape)])
    archive.write_out(str(folder / SAVED_MODEL_DIR), verbose=False)
    return [SAVED_MODEL_DIR]


def _named(fn: GraphFn) -> GraphFn:
    """The signature's argument is called ``waveform`` whatever ``fn`` calls it."""
    def waveform_fn(waveform: Any) -> dict[str, Any]:
        return fn(waveform)
    return waveform_fn


@contextmanager
def _quiet_tf2onnx() -> Iterator[None]:
    """tf2onnx logs every step at INFO and its own handled fallbacks at WARNING (some on the root logger): kept for -v.

    A conversion that really fails shows up anyway: the check after it cannot load the file.
    """
    logger, root = logging.getLogger("tf2onnx"), logging.getLogger()
    previous = logger.level
    quiet = not log.isEnabledFor(logging.DEBUG)

    def not_tf2onnx(record: logging.LogRecord) -> bool:
        return f"{os.sep}tf2onnx{os.sep}" not in record.pathname

    if quiet:
        logger.setLevel(logging.ERROR)
        root.addFilter(not_tf2onnx)
    try:
        yield
    finally:
        logger.setLevel(previous)
        root.removeFilter(not_tf2onnx)


def _write_onnx(plan: _Plan, folder: Path) -> list[str]:
    try:
        import tensorflow as tf
        import tf2onnx  # type: ignore[import-untyped]
    except ModuleNotFoundError as exc:
        raise UserError(f"ONNX export needs the 'export' extra ({exc.name} is not installed): run "
                        "pip install -e '.[export]'") from None
    from .graphs import portable_front_end

    files = []
    with portable_front_end(*plan.models), _quiet_tf2onnx():
        for entry, fn, shape, _ in plan.entries:
            entry.file = "model.onnx" if entry.name == "serving_default" else f"{entry.name}.onnx"
            function = tf.function(_named(fn), input_signature=[_spec(shape)])
            tf2onnx.convert.from_function(function, input_signature=[_spec(shape)], opset=OPSET,
                                          output_path=str(folder / entry.file))
            files.append(entry.file)
    return files


def _runner(fmt: str, folder: Path) -> Callable[[str, str, np.ndarray], np.ndarray]:
    """Scores from the written export itself (what a user without the toolkit gets)."""
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(folder / SAVED_MODEL_DIR))

        def run_saved(name: str, file: str, waves: np.ndarray) -> np.ndarray:
            return np.asarray(loaded.signatures[name](waveform=tf.constant(waves))["scores"])
        return run_saved

    import onnxruntime as ort  # type: ignore[import-untyped]

    sessions: dict[str, Any] = {}

    def run_onnx(name: str, file: str, waves: np.ndarray) -> np.ndarray:
        if file not in sessions:
            sessions[file] = ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
        return np.asarray(sessions[file].run(["scores"], {"waveform": waves})[0])
    return run_onnx


def _verify(plan: _Plan, fmt: str, folder: Path) -> JSONObject:
    """Run the export on a generated clip next to the toolkit; refuse it when they disagree."""
    facts = plan.facts
    unit = facts.crop_samples or facts.pretrained.spectrogram.patch_samples  # type: ignore[union-attr]
    clip = check_clip(facts.sample_rate, int(CHECK_LENGTH * unit))
    run = _runner(fmt, folder)
    worst: dict[str, float] = {}
    for entry, _, shape, reference in plan.entries:
        waves = clip[:, : shape[1]] if shape[1] is not None else clip
        got = run(entry.name, entry.file, waves)
        want = reference(waves)
        if got.shape != want.shape:
            raise UserError(f"{facts.run}: the exported {entry.name} gives shape {got.shape}, the run {want.shape}; "
                            "nothing was written")
        worst[entry.name] = float(np.max(np.abs(got - want)))
    bad = {k: v for k, v in worst.items() if not v <= TOLERANCE}
    if bad:
        name, value = next(iter(bad.items()))
        raise UserError(f"{facts.run}: the exported {name} differs from the run's own prediction by {value:.2g} "
                        f"(allowed {TOLERANCE:g}); nothing was written")
    return {"clip": f"{clip.shape[0]} generated clips of {clip.shape[1]} samples (tones with noise; quiet noise)",
            "compared_with": "the toolkit's own prediction of the same samples (predict / evaluate)",
            "max_abs_difference": {k: float(f"{v:.3g}") for k, v in worst.items()}, "tolerance": TOLERANCE}


def _place(staging: Path, out: Path) -> None:
    """Rename the finished export into place; with ``--force`` the old one goes only once the new one is there."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)  # mkdtemp's folder is private; the export is an ordinary folder
    old: Path | None = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _holding(out: Path) -> Iterator[None]:
    """One export into ``out`` at a time; what a killed one left beside it (hidden folders) is removed first."""
    from manifests.lock import exclusive

    out.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(out.parent / f".{out.name}.export.lock", what=str(out), command="training export",
                   advice="wait for the other export to finish or choose another --out"):
        name = glob.escape(out.name)
        for stale in sorted([*out.parent.glob(f".{name}.partial-*"), *out.parent.glob(f".{name}.old-*")]):
            log.info("removing %s, left behind by an interrupted export", stale)
            shutil.rmtree(stale, ignore_errors=True)
        yield


def export_run(run: RunDir, out: Path | str, fmt: str = "savedmodel", *, force: bool = False) -> ExportResult:
    """Export a finished run to ``out`` (a folder) in ``fmt``; one-line ``UserError`` on bad input."""
    fmt = check_format(fmt)
    out = Path(out)
    kind = check_run(run)
    check_out(out, force)
    _need_tensorflow()
    with run.lock("training export"), _holding(out):
        if kind == "probe":
            from ..runs.probe import load_probe

            plan = _probe_plan(run, load_probe(run))
        else:
            from ..runs.bundle import load_bundle

            plan = _cnn_plan(run, load_bundle(run))
        plan.facts.fmt = fmt
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        try:
            log.info("exporting %s (%s, %s-label) as %s", run.name, kind, plan.facts.task, fmt)
            files = (_write_savedmodel if fmt == "savedmodel" else _write_onnx)(plan, staging)
            plan.facts.verification = _verify(plan, fmt, staging)
            if plan.facts.pretrained is not None:
                from ..models.pretrained.registry import WEIGHTS_DIR

                shutil.copyfile(WEIGHTS_DIR / "LICENSE", staging / PRETRAINED_LICENCE_FILE)
                files.append(PRETRAINED_LICENCE_FILE)
            card = build_card(plan.facts)
            atomic_write_text(staging / CARD_FILE, json.dumps(card, indent=2) + "\n")
            atomic_write_text(staging / README_FILE, render_readme(card))
            check_out(out, force)  # still free (or still ours to replace)?
            _place(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    log.info("exported %s to %s (largest difference from the run: %s)", run.name, out,
             plan.facts.verification["max_abs_difference"])
    return ExportResult(out, [*files, CARD_FILE, README_FILE], card)
