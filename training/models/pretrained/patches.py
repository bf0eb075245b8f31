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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .registry import Spectrogram

log = logging.getLogger(__name__)

@dataclass
class PatchStream:
    """Patch windows of a stream of samples for the model input ``spectrogram``; counts as it goes.

    After :meth:`windows` is exhausted: ``n_samples`` read, ``n_patches`` given, and
    ``padded`` when the audio was shorter than one patch (its one window is filled with
    silence).  As in the original, the end that does not fill a whole patch is not tagged.
    """

    spectrogram: Spectrogram
    n_samples: int = 0
    n_patches: int = 0
    padded: bool = False

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.spectrogram.sample_rate

    def windows(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        size, hop = self.spectrogram.patch_samples, self.spectrogram.patch_hop_samples
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
