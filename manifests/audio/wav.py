"""Facts about a converted WAV (hash, decoded duration, level) and the reasons to refuse it.

The downloads table records these facts so later stages (audit, training) can
trust a file without decoding it again, and notice when it changed (sha256).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hashing import sha256_file

#: Below this RMS level (dBFS) a file is silence, not music.
SILENCE_DBFS = -60.0
_BLOCK_FRAMES = 1 << 18


class AudioRejected(Exception):
    """The audio exists but must not enter the dataset; ``retryable`` when a new download may fix it."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class AudioFacts:
    """What the downloads table stores about one file, plus the level used to spot silence."""

    sample_rate: int
    channels: int
    subtype: str
    frames: int
    duration_s: float
    rms_dbfs: float
    peak_dbfs: float
    sha256: str
    size: int


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def _riff_pcm16(path: Path) -> tuple[int, int, int, int] | None:
    """(sample_rate, channels, data_offset, data_bytes) of a plain 16-bit PCM WAV, else None.

    Our converter writes exactly this, so reading the header ourselves lets the level
    check run on a memory map instead of decoding the file a second time.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        fmt: tuple[int, int, int] | None = None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            ident, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if ident == b"fmt ":
                body = handle.read(size + (size & 1))
                if len(body) < 16:
                    return None
                tag, channels, rate = struct.unpack("<HHI", body[:8])
                bits = struct.unpack("<H", body[14:16])[0]
                if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format decides
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = (tag, channels, rate) if bits == 16 else (0, channels, rate)
            elif ident == b"data":
                if fmt is None or fmt[0] != 1:
                    return None
                offset = handle.tell()
                available = path.stat().st_size - offset
                return fmt[2], fmt[1], offset, min(size, available) if size else available
            else:
                handle.seek(size + (size & 1), 1)


def _level(samples: np.ndarray) -> tuple[float, float]:
    """Sum of squares and peak of int16 samples, in blocks so memory stays flat on long files."""
    total, peak = 0.0, 0
    for start in range(0, samples.size, _BLOCK_FRAMES * 8):
        raw = samples[start:start + _BLOCK_FRAMES * 8]
        block = np.asarray(raw, dtype=np.float32)
        total += float(np.dot(block, block))
        if raw.size:  # min and max of the raw block: no temporary array of absolute values
            peak = max(peak, -int(raw.min()), int(raw.max()))
    return total, peak


def inspect_wav(path: Path | str) -> AudioFacts:
    """Format, decoded duration, RMS and peak level, and sha256 of a WAV, reading it once more at most."""
    path = Path(path)
    size = path.stat().st_size
    header = _riff_pcm16(path)
    if header is not None:
        rate, channels, offset, nbytes = header
        count = nbytes // 2
        samples = np.memmap(path, dtype="<i2", mode="r", offset=offset, shape=(count,)) if count else \
            np.zeros(0, dtype="<i2")
        total_sq, peak = _level(samples)
        del samples
        frames = count // max(channels, 1)
        subtype = "PCM_16"
    else:  # anything else: let libsndfile read it (slower, but says precisely what it is)
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise AudioRejected(f"undecodable: the converted file cannot be read ({exc})") from None
        rate, channels, subtype = int(info.samplerate), int(info.channels), str(info.subtype)
        total_sq, peak, frames = 0.0, 0, 0
        with sf.SoundFile(str(path)) as handle:
            # float, not int16: libsndfile does not scale float files when asked for integers
            for block in handle.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
                block_sq, block_peak = _level(block.ravel() * 32768.0)
                total_sq, peak = total_sq + block_sq, max(peak, block_peak)
                frames += block.shape[0]
        count = frames * max(channels, 1)
    rms = math.sqrt(total_sq / count) / 32768.0 if count else 0.0
    return AudioFacts(sample_rate=rate, channels=channels, subtype=subtype, frames=frames,
                      duration_s=frames / rate if rate else 0.0, rms_dbfs=_dbfs(rms), peak_dbfs=_dbfs(peak / 32768.0),
                      sha256=sha256_file(path), size=size)


def verify(facts: AudioFacts, *, sample_rate: int = 16000, min_seconds: float = 5.0,
           expected_s: float | None = None, silence_dbfs: float = SILENCE_DBFS) -> None:
    """Raise ``AudioRejected`` when the file is not what the dataset promises."""
    if (facts.sample_rate, facts.channels, facts.subtype) != (sample_rate, 1, "PCM_16"):
        raise AudioRejected(f"conversion produced {facts.sample_rate} Hz, {facts.channels} channel(s), "
                            f"{facts.subtype}; expected {sample_rate} Hz mono PCM_16")
    if facts.frames == 0:
        raise AudioRejected("undecodable: no audio samples could be decoded")
    if facts.duration_s < min_seconds:
        raise AudioRejected(f"too short: {facts.duration_s:.1f} s of audio (minimum {min_seconds:g} s)")
    if facts.rms_dbfs < silence_dbfs:
        level = "digital silence" if facts.rms_dbfs == -math.inf else f"{facts.rms_dbfs:.0f} dBFS"
        raise AudioRejected(f"silent: the audio level is {level} (threshold {silence_dbfs:g} dBFS)")
    if expected_s:
        slack = max(2.0, 0.1 * expected_s)
        if facts.duration_s < expected_s - slack:
            raise AudioRejected(f"truncated: decoded {facts.duration_s:.1f} s but the video lasts "
                                f"{expected_s:.1f} s (interrupted download?)", retryable=True)
