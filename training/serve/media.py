"""What the server does with an upload before and after the model: decode it, draw it.

An upload is written to a temporary file and decoded by the toolkit's own ffmpeg
(:func:`manifests.audio.decode_audio`) at the model's sample rate, exactly as training
audio and ``python -m training predict`` are, so a song scores the same through the
API as on the command line.  Decoding stops just past the duration limit, so an
hour-long file costs no more than the limit allows.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..config import FeatureConfig

log = logging.getLogger(__name__)

#: Copy uploads to disk in blocks of this many bytes.
_BLOCK = 1 << 20


class UploadRejected(Exception):
    """An upload the server will not predict: HTTP ``status`` and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server."""

    max_upload_bytes: int = 50 * 1024 * 1024
    max_seconds: float = 600.0

    @property
    def max_upload_mb(self) -> float:
        return self.max_upload_bytes / 2**20


def _suffix(filename: str | None) -> str:
    """The upload's extension, if it is a plain one (ffmpeg probes the content anyway)."""
    suffix = Path(filename or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _ffmpeg_reason(message: str, path: Path) -> str:
    """The first thing ffmpeg said, without our temporary path or its own ``[in#0 @ 0x...]`` prefixes."""
    text = message.replace(str(path), "").lstrip(": ").removeprefix("ffmpeg could not decode it: ")
    first = re.sub(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", text.split(" | ")[0]).strip()
    return first or "no details"


def decode_upload(handle: BinaryIO, filename: str | None, sample_rate: int, limits: Limits) -> np.ndarray:
    """Mono float32 at ``sample_rate`` from an uploaded file object; UploadRejected when it is not usable."""
    from manifests.audio import FFmpegError, decode_audio

    name = filename or "upload"
    with tempfile.TemporaryDirectory(prefix="genre-serve-") as folder:
        path = Path(folder) / f"upload{_suffix(filename)}"
        size = 0
        with open(path, "wb") as out:
            while block := handle.read(_BLOCK):
                size += len(block)
                if size > limits.max_upload_bytes:  # the body limit normally stops it earlier
                    raise UploadRejected(413, f"{name}: upload larger than the {limits.max_upload_mb:.3g} MB limit")
                out.write(block)
        if size == 0:
            raise UploadRejected(422, f"{name}: the file is empty")
        try:
            wave = decode_audio(path, sample_rate, duration_s=limits.max_seconds + 1.0)
        except FFmpegError as exc:
            reason = _ffmpeg_reason(str(exc), path)
            log.info("rejected %s: %s", name, reason)
            raise UploadRejected(415, f"{name}: not audio ffmpeg can decode ({reason})") from None
    seconds = wave.size / sample_rate
    if seconds > limits.max_seconds:
        raise UploadRejected(413, f"{name}: longer than the {limits.max_seconds:g} s limit")
    return wave


def spectrogram_png(wave: np.ndarray, features: FeatureConfig, width_px: int = 900, height_px: int = 240) -> bytes:
    """The log-mel spectrogram (the model's own mel settings, in dB) as a PNG."""
    import librosa
    from matplotlib.figure import Figure

    mel = librosa.feature.melspectrogram(y=np.asarray(wave, np.float32), sr=features.sample_rate,
                                         n_fft=features.n_fft, hop_length=features.hop_length, n_mels=features.n_mels,
                                         fmin=features.fmin, fmax=features.fmax)
    db = librosa.power_to_db(mel, ref=np.max, amin=features.amin, top_db=80.0)
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = fig.add_axes((0.06, 0.18, 0.92, 0.78))
    seconds = wave.size / features.sample_rate
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, features.n_mels),
              interpolation="nearest")
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel band")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
