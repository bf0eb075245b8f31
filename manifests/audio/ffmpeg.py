"""The one place that finds ffmpeg and decodes audio with it.

ffmpeg comes from the ``imageio-ffmpeg`` wheel, so nobody installs it by hand;
set ``GENRE_FFMPEG`` to a path (or ``system`` for the one on PATH) to use your own.
Conversion, verification and ``predict`` all decode through here, so training
and prediction see the same samples.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ENV_FFMPEG = "GENRE_FFMPEG"


class FFmpegError(RuntimeError):
    """ffmpeg is missing or refused a file; the message carries the end of its stderr."""


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary to use (``$GENRE_FFMPEG``, else the imageio-ffmpeg one)."""
    chosen = os.environ.get(ENV_FFMPEG, "").strip()
    if chosen:
        path = shutil.which("ffmpeg") if chosen == "system" else chosen
        if not path or not Path(path).exists():
            raise FFmpegError(f"{ENV_FFMPEG}={chosen!r}: no ffmpeg found there")
        return path
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - it is a declared dependency
        path = shutil.which("ffmpeg")
        if path:
            return path
        raise FFmpegError("ffmpeg not found: install the imageio-ffmpeg package or set GENRE_FFMPEG") from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def stderr_tail(stderr: bytes | str, lines: int = 6) -> str:
    """The last lines of ffmpeg's stderr, enough to say why it failed, on one line."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


def _decode_command(path: Path, sample_rate: int, offset_s: float | None = None,
                    duration_s: float | None = None) -> list[str]:
    """ffmpeg decoding ``path`` to mono 16-bit samples at ``sample_rate`` on stdout (one recipe for all)."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    if offset_s:
        cmd += ["-ss", f"{offset_s:.3f}"]
    cmd += ["-i", str(path)]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.3f}"]
    return cmd + ["-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]


def decode_audio(path: Path | str, sample_rate: int = 16000, *, offset_s: float | None = None,
                 duration_s: float | None = None, timeout_s: float = 300) -> np.ndarray:
    """Decode any audio file ffmpeg reads to mono float32 in [-1, 1] at ``sample_rate``."""
    path = Path(path)
    if not path.is_file():
        raise FFmpegError(f"{path}: no such audio file")
    cmd = _decode_command(path, sample_rate, offset_s, duration_s)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"{path}: ffmpeg took longer than {timeout_s:g} s to decode") from None
    if proc.returncode != 0:
        raise FFmpegError(f"{path}: ffmpeg could not decode it: {stderr_tail(proc.stderr) or 'no details'}")
    samples = np.frombuffer(proc.stdout, dtype="<i2")
    if samples.size == 0:
        raise FFmpegError(f"{path}: ffmpeg decoded no audio samples")
    return (samples.astype(np.float32) / 32768.0)


#: Samples per block when streaming (10 s at 16 kHz): memory stays flat on hour-long files.
STREAM_BLOCK_SAMPLES = 160_000


def stream_audio(path: Path | str, sample_rate: int = 16000, *,
                 block_samples: int = STREAM_BLOCK_SAMPLES) -> Iterator[np.ndarray]:
    """Mono float32 blocks in [-1, 1] at ``sample_rate``, as ffmpeg decodes them; FFmpegError on failure.

    The same samples as ``decode_audio(path, sample_rate)`` (the same ffmpeg and arguments),
    in blocks of ``block_samples``.  A failure that ffmpeg reports only at the end (a file
    corrupt past its start) raises after the blocks already given, as it fails the whole file.
    """
    path = Path(path)
    if not path.is_file():
        raise FFmpegError(f"{path}: no such audio file")
    cmd = _decode_command(path, sample_rate)
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


_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_AUDIO_STREAM = re.compile(r"Stream #\S+.*?: Audio: (\w+)[^,]*,\s*(\d+) Hz,\s*([^,]+)")


@dataclass(frozen=True)
class MediaInfo:
    """What the container header says (no decoding): enough to plan a trim or reject a non-audio file."""

    duration_s: float | None
    codec: str | None
    sample_rate: int | None
    channels: str | None

    @property
    def has_audio(self) -> bool:
        return self.codec is not None


def probe(path: Path | str, *, timeout_s: float = 60) -> MediaInfo:
    """Read a file's header with ``ffmpeg -i`` (imageio-ffmpeg ships no ffprobe).

    The duration is the container's claim, which may be missing (live-style streams);
    callers treat ``None`` as unknown rather than zero.
    """
    path = Path(path)
    if not path.is_file():
        raise FFmpegError(f"{path}: no such file")
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"{path}: ffmpeg took longer than {timeout_s:g} s to read the header") from None
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:  # ffmpeg could not even open it
        raise FFmpegError(f"{path}: not a media file ffmpeg can read: {stderr_tail(text, 2) or 'no details'}")
    return parse_header(text)


def parse_header(text: str) -> MediaInfo:
    """The duration and first audio stream in ffmpeg's description of its input (its stderr, as text).

    :func:`probe` reads ``ffmpeg -i``'s; a conversion logged at ``level+info`` prints the same
    lines, so it needs no probe of its own. Pass only the input's part: a conversion describes its
    output after ``Output #0`` in lines that look alike. Fields the text lacks are None.
    """
    duration = None
    if found := _DURATION.search(text):
        hours, minutes, seconds = found.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    audio = _AUDIO_STREAM.search(text)
    return MediaInfo(duration_s=duration,
                     codec=audio.group(1) if audio else None,
                     sample_rate=int(audio.group(2)) if audio else None,
                     channels=audio.group(3).strip() if audio else None)
