"""Any audio ffmpeg reads -> 16 kHz mono PCM s16le WAV, built with ffmpeg-python.

The command line is built by ffmpeg-python and run with the binary from
:func:`manifests.audio.ffmpeg.ffmpeg_exe` (imageio-ffmpeg unless ``GENRE_FFMPEG`` says
otherwise), with a timeout and stderr captured into the error.  Optional trimming
keeps at most ``max_seconds`` from the start or from the middle of the track
(input seeking, so the skipped part is not even decoded).  Output is written to the
path given (the pipeline passes ``<track_id>.wav.part`` and renames after checks).

``convert_task`` is the unit of work the process pool runs: convert, then check.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from manifests.audio import (
    AudioFacts,
    AudioRejected,
    FFmpegError,
    ffmpeg_exe,
    inspect_wav,
    probe,
    stderr_tail,
    verify,
)
from manifests.errors import FileSystemFault, fault_in_message

log = logging.getLogger(__name__)

WINDOWS = ("start", "middle")


class ConversionError(Exception):
    """ffmpeg refused the file; the message carries the end of its stderr."""


@dataclass(frozen=True)
class ConvertOptions:
    sample_rate: int = 16000
    #: keep at most this many seconds (None: the whole track)
    max_seconds: float | None = None
    #: where the kept part starts: at the beginning, or centred in the track
    window: str = "start"
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise ValueError(f"window {self.window!r} is not one of {', '.join(WINDOWS)}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds!r}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample rate must be > 0, got {self.sample_rate!r}")


def build_command(src: Path | str, dst: Path | str, options: ConvertOptions,
                  offset_s: float | None = None) -> list[str]:
    """The ffmpeg command line (via ffmpeg-python) for one conversion."""
    import ffmpeg

    input_args = {"ss": f"{offset_s:.3f}"} if offset_s else {}
    source = ffmpeg.input(str(src), **input_args)
    output_args: dict[str, object] = {
        "ac": 1, "ar": options.sample_rate, "acodec": "pcm_s16le", "f": "wav",
        "map_metadata": -1, "fflags": "+bitexact", "flags:a": "+bitexact",
    }
    if options.max_seconds:
        output_args["t"] = f"{options.max_seconds:.3f}"
    node = (ffmpeg.output(source["a:0"], str(dst), **output_args)
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error"))
    command: list[str] = node.compile(cmd=ffmpeg_exe(), overwrite_output=True)
    return command


def _run(cmd: list[str], src: Path, timeout_s: float) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"{src.name}: ffmpeg took longer than {timeout_s:g} s") from None
    except OSError as exc:
        raise ConversionError(f"ffmpeg could not be started: {exc}") from None
    if proc.returncode != 0:
        tail = stderr_tail(proc.stderr) or f"exit status {proc.returncode}"
        fault = fault_in_message(tail, cmd[-1])  # the output could not be written: no track will be
        if fault is not None:
            raise fault
        if b"matches no streams" in proc.stderr:
            raise ConversionError(f"undecodable: {src.name} has no audio stream (ffmpeg: {tail})")
        raise ConversionError(f"undecodable: ffmpeg could not convert {src.name}: {tail}")


def _trim_middle_in_place(path: Path, seconds: float) -> None:
    """Keep the centred ``seconds`` of a WAV whose source had no duration in its header."""
    import soundfile as sf

    info = sf.info(str(path))
    keep = int(round(seconds * info.samplerate))
    if info.frames <= keep:
        return
    start = (info.frames - keep) // 2
    data, rate = sf.read(str(path), start=start, frames=keep, dtype="int16", always_2d=False)
    tmp = path.with_name(path.name + ".trim")
    sf.write(str(tmp), data, rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def convert(src: Path | str, dst: Path | str, options: ConvertOptions | None = None) -> None:
    """Convert ``src`` to a 16 kHz mono s16le WAV at ``dst``; ``ConversionError`` when ffmpeg refuses."""
    options = options or ConvertOptions()
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise ConversionError(f"{src}: no such file")
    offset = None
    trim_after = False
    if options.max_seconds and options.window == "middle":
        try:
            duration = probe(src).duration_s
        except FFmpegError as exc:
            raise ConversionError(f"undecodable: {exc}") from None
        if duration is None:
            trim_after = True
        elif duration > options.max_seconds:
            offset = (duration - options.max_seconds) / 2.0
    if trim_after:
        _run(build_command(src, dst, ConvertOptions(options.sample_rate, None, "start", options.timeout_s)),
             src, options.timeout_s)
        _trim_middle_in_place(dst, options.max_seconds or math.inf)
    else:
        _run(build_command(src, dst, options, offset), src, options.timeout_s)


@dataclass(frozen=True)
class ConvertTask:
    """One conversion for the process pool: plain data, so it pickles."""

    track_id: str
    src: str
    dst: str
    options: ConvertOptions
    min_seconds: float = 5.0
    #: how long the audio should be (video duration, capped by max_seconds); None if unknown
    expected_s: float | None = None


@dataclass(frozen=True)
class ConvertOutcome:
    track_id: str
    facts: AudioFacts | None = None
    error: str | None = None
    retryable: bool = False
    #: the file system refused the output (read-only, full, ...): the stage must stop, not go on
    fatal: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def convert_task(task: ConvertTask) -> ConvertOutcome:
    """Convert and check one file; never raises (errors come back as data), never leaves ``dst`` when bad."""
    dst = Path(task.dst)
    try:
        convert(task.src, dst, task.options)
        facts = inspect_wav(dst)
        verify(facts, sample_rate=task.options.sample_rate, min_seconds=task.min_seconds,
               expected_s=task.expected_s)
        return ConvertOutcome(task.track_id, facts=facts)
    except FileSystemFault as exc:
        try:
            dst.unlink()
        except OSError:
            pass
        return ConvertOutcome(task.track_id, error=str(exc), fatal=True)
    except ConversionError as exc:
        error, retryable = str(exc), False
    except AudioRejected as exc:
        error, retryable = exc.reason, exc.retryable
    except Exception as exc:  # a worker must report, not die: the pool would lose the task
        error, retryable = f"conversion failed: {type(exc).__name__}: {exc}", True
    try:
        dst.unlink()
    except FileNotFoundError:
        pass
    return ConvertOutcome(task.track_id, error=error, retryable=retryable)
