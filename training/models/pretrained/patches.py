"""Audio as a stream of model patches: decoded in blocks, cut into windows, never held whole.

A pretrained tagger sees fixed patches (musicnn: 187 spectrogram frames, about 3 s).
The original computes the spectrogram of the whole, centred signal and cuts it into
non-overlapping patches, dropping a last one that would be incomplete.  Here the same
frames come from overlapping waveform windows instead: with the signal padded by
``n_fft // 2`` zeros at both ends (librosa's centring), patch ``k`` is the window of
``(F - 1) * hop + n_fft`` samples starting at ``k * F * hop``, framed without centring.
So a file is read block by block and each window is handed on as soon as it is
complete; memory stays bounded by the block and the window, whatever the file's length.

* :func:`stream_audio` decodes with the toolkit's ffmpeg (:func:`manifests.audio.ffmpeg_exe`,
  the arguments of :func:`manifests.audio.decode_audio`, so the samples are the same)
  but reads its output as it comes.
* :class:`PatchStream` turns blocks of samples into patch windows and counts what it saw;
  a file shorter than one patch gives one window padded with silence and is flagged.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .registry import Spectrogram

log = logging.getLogger(__name__)

#: Samples per block read from ffmpeg (10 s at 16 kHz: 320 kB of PCM16).
BLOCK_SAMPLES = 160_000


def stream_audio(path: Path | str, sample_rate: int, *, block_samples: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
    """Mono float32 blocks in [-1, 1] at ``sample_rate``, as ffmpeg decodes them; FFmpegError on failure.

    The same samples as ``decode_audio(path, sample_rate)`` (the same ffmpeg and arguments),
    in blocks of ``block_samples``.  A failure that ffmpeg reports only at the end (a file
    corrupt past its start) raises after the blocks already given, as it fails the whole file.
    """
    from manifests.audio import FFmpegError, ffmpeg_exe, stderr_tail

    path = Path(path)
    if not path.is_file():
        raise FFmpegError(f"{path}: no such audio file")
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
           "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    block_bytes = 2 * block_samples
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: ffmpeg never blocks on its messages
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        assert proc.stdout is not None
        total = 0
        carry = b""
        try:
            while True:
                chunk = proc.stdout.read(block_bytes)
                if not chunk:
                    break
                data = carry + chunk
                cut = len(data) - len(data) % 2
                carry = data[cut:]
                if cut:
                    samples = np.frombuffer(data[:cut], dtype="<i2").astype(np.float32) / 32768.0
                    total += samples.size
                    yield samples
            returncode = proc.wait()
        finally:
            if proc.poll() is None:  # the consumer stopped early
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if returncode != 0:
            stderr.seek(0)
            detail = stderr_tail(stderr.read()) or "no details"
            raise FFmpegError(f"{path}: ffmpeg could not decode it: {detail}")
        if total == 0:
            raise FFmpegError(f"{path}: ffmpeg decoded no audio samples")


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
