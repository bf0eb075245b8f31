"""Audio as a stream of model patches: decoded in blocks, cut into windows, never held whole.

A pretrained tagger sees fixed patches (musicnn: 187 spectrogram frames, about 3 s).
The original computes the spectrogram of the whole, centred signal and cuts it into
non-overlapping patches, dropping a last one that would be incomplete.  Here the same
frames come from overlapping waveform windows instead: with the signal padded by
``n_fft // 2`` zeros at both ends (librosa's centring), patch ``k`` is the window of
``(F - 1) * hop + n_fft`` samples starting at ``k * F * hop``, framed without centring.
So a file is read block by block and each window is handed on as soon as it is
complete; memory stays bounded by the block and the window, whatever the file's length.

* :func:`manifests.audio.stream_audio` decodes with the toolkit's ffmpeg (the recipe of
  :func:`manifests.audio.decode_audio`, so the samples are the same) but yields its output as it comes.
* :class:`PatchStream` turns blocks of samples into patch windows and counts what it saw;
  a file shorter than one patch gives one window padded with silence and is flagged.
* ``hop_frames`` moves the next patch less than a whole patch on: embeddings in the
  literature average half-overlapping patches (:func:`hop_frames_for` ``(spectrogram, 0.5)``),
  where the tagger keeps the original's back-to-back ones.
* :func:`patch_windows` gives the same windows of a whole signal at once, optionally only
  ``max_patches`` evenly spaced ones (what the embedding cache uses to bound long tracks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .registry import Spectrogram

log = logging.getLogger(__name__)


def hop_frames_for(spectrogram: Spectrogram, overlap: float) -> int:
    """Frames from one patch to the next when each overlaps the previous by ``overlap`` (share of a patch)."""
    return max(1, int(spectrogram.patch_frames * (1.0 - overlap)))


@dataclass
class PatchStream:
    """Patch windows of a stream of samples for the model input ``spectrogram``; counts as it goes.

    After :meth:`windows` is exhausted: ``n_samples`` read, ``n_patches`` given, and
    ``padded`` when the audio was shorter than one patch (its one window is filled with
    silence).  As in the original, the end that does not fill a whole patch is not tagged.
    """

    spectrogram: Spectrogram
    #: frames from one patch to the next (None: a whole patch, the original's non-overlapping patches)
    hop_frames: int | None = None
    n_samples: int = 0
    n_patches: int = 0
    padded: bool = False

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.spectrogram.sample_rate

    @property
    def hop_samples(self) -> int:
        if self.hop_frames is None:
            return self.spectrogram.patch_hop_samples
        return self.hop_frames * self.spectrogram.hop_length

    def windows(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        size, hop = self.spectrogram.patch_samples, self.hop_samples
        edge = np.zeros(self.spectrogram.n_fft // 2, dtype=np.float32)  # librosa's centring pad
        buffer = edge
        for block in blocks:
            self.n_samples += int(block.size)
            buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
            while buffer.size >= size:
                yield self._give(buffer[:size])
                buffer = buffer[hop:]
        buffer = np.concatenate([buffer, edge])
        while buffer.size >= size:
            yield self._give(buffer[:size])
            buffer = buffer[hop:]
        if self.n_patches == 0 and self.n_samples > 0:
            self.padded = True
            yield self._give(np.pad(buffer, (0, size - buffer.size)))

    def _give(self, window: np.ndarray) -> np.ndarray:
        self.n_patches += 1
        return np.array(window, dtype=np.float32)  # a copy: the buffer is reused


def patch_starts(n_samples: int, spectrogram: Spectrogram, hop_frames: int | None = None,
                 max_patches: int | None = None) -> np.ndarray:
    """Start offsets (in the centred signal) of the patches of ``n_samples`` samples, as :class:`PatchStream` cuts them.

    With ``max_patches`` only that many evenly spaced patches are kept, the first and the
    last among them.  A signal shorter than one patch has one patch at 0 (to be padded).
    """
    size = spectrogram.patch_samples
    hop = spectrogram.patch_hop_samples if hop_frames is None else hop_frames * spectrogram.hop_length
    centred = n_samples + 2 * (spectrogram.n_fft // 2)
    count = (centred - size) // hop + 1 if centred >= size else 0
    if count <= 0:
        return np.zeros(1, dtype=np.int64)
    index = np.arange(count, dtype=np.int64)
    if max_patches is not None and count > max_patches:
        index = np.unique(np.round(np.linspace(0, count - 1, max_patches)).astype(np.int64))
    return index * hop


def centred_signal(wave: np.ndarray, spectrogram: Spectrogram) -> tuple[np.ndarray, bool]:
    """The signal with librosa's centring pad, and whether it was shorter than one patch (then filled with silence)."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    size = spectrogram.patch_samples
    centred = np.pad(wave, spectrogram.n_fft // 2)
    padded = centred.size < size
    if padded:  # one window, filled with silence (as the stream does)
        centred = np.pad(centred, (0, size - centred.size))
    return centred, padded


def patch_windows(wave: np.ndarray, spectrogram: Spectrogram, hop_frames: int | None = None,
                  max_patches: int | None = None) -> tuple[np.ndarray, bool]:
    """The patch windows ``[n, patch_samples]`` of a whole signal, and whether it had to be padded.

    The same windows as :class:`PatchStream` with this ``hop_frames`` (a subset when
    ``max_patches`` is given), for a signal already in memory.
    """
    centred, padded = centred_signal(wave, spectrogram)
    size = spectrogram.patch_samples
    starts = patch_starts(np.asarray(wave).size, spectrogram, hop_frames, max_patches)
    return np.stack([centred[s:s + size] for s in starts]).astype(np.float32, copy=False), padded


def batched(windows: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Windows stacked ``batch_size`` at a time (the last batch smaller)."""
    pending: list[np.ndarray] = []
    for window in windows:
        pending.append(window)
        if len(pending) == batch_size:
            yield np.stack(pending)
            pending = []
    if pending:
        yield np.stack(pending)
