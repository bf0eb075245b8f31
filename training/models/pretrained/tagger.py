"""A pretrained model loaded and used: taggrams of audio files, activations of any layer by name.

:func:`load_pretrained` builds a registry entry's architecture and fills it from its
weight file (once per process).  :class:`PretrainedModel` runs it on patch windows and
refuses audio of another sample rate than the model's: a 22.05 kHz model must never be
fed our 16 kHz samples (its tags would be silently wrong), so every call says which rate
its samples have.  :func:`tag_file` decodes a file at the models' own rate, streams it
through them patch by patch (:mod:`.patches`) and keeps only the taggram, so a long file
costs little memory.  The patching is the original musicnn's (non-overlapping 3-s
patches, the incomplete end dropped); a file shorter than one patch is padded with
silence and flagged.

Embeddings and pooling over patches build on the same pieces: ``layers=("penultimate",)``
gives that layer's activation per patch, and a file's vector is their mean.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manifests.errors import UserError

from .registry import PretrainedSpec, Spectrogram, get_pretrained

log = logging.getLogger(__name__)

#: Patches per model call: about 25 MB of activations each for musicnn on CPU.
BATCH_PATCHES = 8
#: The layer giving the tag probabilities.
TAGGRAM = "taggram"


def _builders() -> dict[str, Callable[[PretrainedSpec], Any]]:
    from .musicnn import build_musicnn

    return {"musicnn": build_musicnn}


class PretrainedModel:
    """A registry entry with its Keras model and weights; outputs by layer name."""

    def __init__(self, spec: PretrainedSpec, model: Any) -> None:
        self.spec = spec
        self.model = model
        self._heads: dict[tuple[str, ...], Any] = {}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sample_rate(self) -> int:
        return self.spec.sample_rate

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def check_sample_rate(self, sample_rate: int) -> None:
        """Refuse samples of another rate than the model's, in one line (never resampled behind one's back)."""
        if int(sample_rate) != self.sample_rate:
            raise UserError(f"{self.name} takes {self.sample_rate} Hz audio, not {sample_rate} Hz: decode the "
                            f"file at {self.sample_rate} Hz (training tag does)")

    def head(self, layers: Sequence[str]) -> Any:
        """A Keras model from the waveform windows to the named layers' outputs (weights shared)."""
        key = tuple(layers)
        if key not in self._heads:
            known = {layer.name for layer in self.model.layers}
            unknown = [name for name in key if name not in known]
            if unknown:
                names = ", ".join([TAGGRAM, *(n for n, _ in self.spec.embedding_layers)])
                raise UserError(f"{self.name} has no layer {unknown[0]!r}; embedding layers: {names}")
            import keras

            self._heads[key] = keras.Model(self.model.input, [self.model.get_layer(n).output for n in key],
                                           name=f"{self.model.name}_head")
        return self._heads[key]

    def predict(self, windows: np.ndarray, sample_rate: int,
                layers: Sequence[str] = (TAGGRAM,)) -> dict[str, np.ndarray]:
        """Outputs of ``layers`` for a batch of patch windows ``[B, patch_samples]`` at ``sample_rate``."""
        self.check_sample_rate(sample_rate)
        windows = np.asarray(windows, dtype=np.float32)
        expected = self.spec.spectrogram.patch_samples
        if windows.ndim != 2 or windows.shape[1] != expected:
            raise ValueError(f"{self.name}: windows must be [batch, {expected}], got {windows.shape}")
        n = windows.shape[0]
        bucket = padded_batch(n)
        if bucket > n:  # a few fixed batch shapes: JAX compiles once per shape, not once per file's last batch
            windows = np.concatenate([windows, np.zeros((bucket - n, expected), np.float32)])
        outputs = self.head(layers).predict_on_batch(windows)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return {name: np.asarray(value, dtype=np.float32)[:n] for name, value in zip(layers, outputs, strict=True)}


def padded_batch(n: int) -> int:
    """The batch size ``n`` patches are run as: the next power of two.

    Under JAX (and XLA) every new input shape is a new compilation of seconds, and the last
    batch of each file has its own size; rounded up, a process sees at most a handful of
    shapes, for at most twice the work on one batch per file.  Patches are independent at
    inference (batch norm uses its moving statistics), so the padding changes no output.
    """
    return 1 << max(0, int(n) - 1).bit_length()


@functools.cache
def _load(spec: PretrainedSpec) -> PretrainedModel:
    from ...runtime import start_backend
    from .weights import load_weights

    spec.check_weights()  # before Keras starts: a missing file is one line, at once
    start_backend()
    builder = _builders().get(spec.architecture)
    if builder is None:
        raise UserError(f"{spec.name}: architecture {spec.architecture!r} has no builder")
    model = builder(spec)
    load_weights(model, spec)
    log.debug("%s loaded (%d parameters)", spec.name, model.count_params())
    return PretrainedModel(spec, model)


def load_pretrained(model: str | PretrainedSpec) -> PretrainedModel:
    """The named registry model, built and filled from its weight file (cached per process)."""
    spec = get_pretrained(model) if isinstance(model, str) else model
    return _load(spec)


@dataclass
class FileTaggram:
    """The taggram of one file per model (rows: patches in time order), and what the patching did.

    Patch ``k`` of a model starts at ``k * patch_seconds[model]`` seconds.
    """

    file: str
    duration_s: float
    padded: bool = False
    taggrams: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    patch_seconds: dict[str, float] = field(default_factory=dict)

    def n_patches(self, model: str) -> int:
        return int(self.taggrams[model].shape[0])

    def mean(self, model: str) -> np.ndarray:
        return np.asarray(np.asarray(self.taggrams[model], dtype=np.float64).mean(axis=0))

    def top(self, model: str, k: int) -> list[tuple[str, float]]:
        mean = self.mean(model)
        order = np.argsort(-mean, kind="stable")[:max(1, k)]
        return [(self.labels[model][i], float(mean[i])) for i in order]

    @property
    def warning(self) -> str | None:
        if not self.padded:
            return None
        patch = max(self.patch_seconds.values(), default=0.0)
        return (f"shorter than one {patch:.2f}-s patch ({self.duration_s:.2f} s): padded with silence, "
                f"so its tags are less certain")


def tag_file(models: Sequence[PretrainedModel], path: Path, *, batch_size: int = BATCH_PATCHES) -> FileTaggram:
    """Stream one file through ``models`` (decoded once per input kind); UserError on bad input."""
    from manifests.audio import FFmpegError, stream_audio

    from .patches import PatchStream, batched

    if not models:
        raise ValueError("tag_file needs at least one model")
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an audio file")
    groups: dict[Spectrogram, list[PretrainedModel]] = {}
    for model in models:
        groups.setdefault(model.spec.spectrogram, []).append(model)
    result = FileTaggram(file=str(path), duration_s=0.0)
    for spectrogram, members in groups.items():
        stream = PatchStream(spectrogram)
        rows: dict[str, list[np.ndarray]] = {m.name: [] for m in members}
        try:
            blocks = stream_audio(path, spectrogram.sample_rate)
            for batch in batched(stream.windows(blocks), batch_size):
                for model in members:
                    rows[model.name].append(model.predict(batch, spectrogram.sample_rate)[TAGGRAM])
        except FFmpegError as exc:
            message = str(exc)
            raise UserError(message if message.startswith(str(path)) else f"{path}: {message}") from None
        result.duration_s = max(result.duration_s, stream.duration_s)
        result.padded = result.padded or stream.padded
        for model in members:
            result.taggrams[model.name] = np.concatenate(rows[model.name], axis=0)
            result.labels[model.name] = model.labels
            result.patch_seconds[model.name] = spectrogram.patch_seconds
    return result
