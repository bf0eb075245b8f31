"""Any audio ffmpeg reads -> 16 kHz mono PCM s16le WAV, built with ffmpeg-python.

The command line is built by ffmpeg-python and run with the binary from
:func:`manifests.audio.ffmpeg.ffmpeg_exe` (imageio-ffmpeg unless ``GENRE_FFMPEG`` says
otherwise), with a timeout and stderr captured into the error.  Optional trimming
(``--clip-seconds``) keeps at most ``max_seconds`` from the start or from the middle of
the track, as FMA and MTG-Jamendo cut their excerpts: offset ``max(0, (duration - N) / 2)``
by input seeking (``-ss`` before ``-i``, so the skipped part is not even decoded) and
``-t`` on the output, in this one command line; a track shorter than ``N`` is kept whole,
never padded.  :func:`convert` returns where the excerpt starts, for the downloads row.
Output is written to the path given (the pipeline passes ``<track_id>.wav.part`` and
renames after checks).

``convert_task`` is the unit of work the process pool runs: convert, then check.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from manifests.audio import (
    AudioFacts,
    AudioRejected,
    FFmpegError,
    MediaInfo,
    ffmpeg_exe,
    inspect_wav,
    parse_header,
    probe,
    stderr_tail,
    verify,
)
from manifests.errors import FileSystemFault, fault_in_message

log = logging.getLogger(__name__)

WINDOWS = ("start", "middle")


class ConversionError(Exception):
    """ffmpeg refused the file; the message carries the end of its stderr.

    ``header``: what ffmpeg read of the input before it failed, when the conversion was asked
    to report it (None: it could not even open the file as media, or nobody asked).
    """

    def __init__(self, message: str, header: MediaInfo | None = None) -> None:
        super().__init__(message)
        self.header = header


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
                  offset_s: float | None = None, *, header: bool = False) -> list[str]:
    """The ffmpeg command line (via ffmpeg-python) for one conversion.

    ``header``: ffmpeg also describes its input (``-loglevel level+info``, each line tagged with
    its level), so one run gives both the WAV and what a probe would have said.
    """
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
            .global_args("-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info" if header else "error"))
    command: list[str] = node.compile(cmd=ffmpeg_exe(), overwrite_output=True)
    return command


_PROBLEM_LINE = re.compile(r"^(?:\[[^\]]*\]\s*)*\[(?:error|fatal|panic)\]\s*")


def input_header(log: str) -> MediaInfo | None:
    """What a ``level+info`` conversion log says about its input (as :func:`probe` reads it); None: not media."""
    if "Input #0" not in log:
        return None
    return parse_header(log.split("Output #0", 1)[0])  # the output's stream lines look alike: left out


def _problems(log: str) -> str:
    """The error lines of a ``level+info`` log, their tags removed (the tail a plain error log would give)."""
    return "\n".join(_PROBLEM_LINE.sub("", line) for line in log.splitlines() if _PROBLEM_LINE.match(line))


def _run(cmd: list[str], src: Path, timeout_s: float, header: bool = False) -> MediaInfo | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"{src.name}: ffmpeg took longer than {timeout_s:g} s") from None
    except OSError as exc:
        raise ConversionError(f"ffmpeg could not be started: {exc}") from None
    log = proc.stderr.decode("utf-8", "replace") if header else ""
    info = input_header(log) if header else None
    if proc.returncode != 0:
        tail = stderr_tail(_problems(log) if header else proc.stderr) or f"exit status {proc.returncode}"
        fault = fault_in_message(tail, cmd[-1])  # the output could not be written: no track will be
        if fault is not None:
            raise fault
        if b"matches no streams" in proc.stderr:
            raise ConversionError(f"undecodable: {src.name} has no audio stream (ffmpeg: {tail})", info)
        raise ConversionError(f"undecodable: ffmpeg could not convert {src.name}: {tail}", info)
    return info


def clip_offset(duration_s: float | None, options: ConvertOptions) -> float | None:
    """Where the kept excerpt starts, in seconds of the source; None when nothing is clipped.

    ``middle``: ``max(0, (duration - max_seconds) / 2)``; ``start``: 0. None also for a
    middle clip of a source whose duration is unknown (decided after decoding).
    """
    if not options.max_seconds:
        return None
    if options.window == "start":
        return 0.0
    if duration_s is None:
        return None
    return max(0.0, (duration_s - options.max_seconds) / 2.0)


def _trim_middle_in_place(path: Path, seconds: float) -> float:
    """Keep the centred ``seconds`` of a WAV whose source had no duration in its header; the start in seconds."""
    import soundfile as sf

    info = sf.info(str(path))
    keep = int(round(seconds * info.samplerate))
    if info.frames <= keep:
        return 0.0
    start = (info.frames - keep) // 2
    data, rate = sf.read(str(path), start=start, frames=keep, dtype="int16", always_2d=False)
    tmp = path.with_name(path.name + ".trim")
    sf.write(str(tmp), data, rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
    return float(start / info.samplerate)


def clip_columns(start_s: float | None, max_seconds: float | None) -> dict[str, float]:
    """The downloads row's ``clip_start_seconds`` and ``clip_seconds`` (none without a clip)."""
    if not max_seconds:
        return {}
    return {"clip_start_seconds": round(start_s or 0.0, 3), "clip_seconds": round(max_seconds, 3)}


@dataclass(frozen=True)
class Converted:
    """What one conversion did besides writing the WAV."""

    #: where the excerpt starts in the source, in seconds (None: ``--clip-seconds`` not asked)
    clip_start_s: float | None = None
    #: the input's header as ffmpeg read it while converting (``header=True``; a probe when one was made)
    header: MediaInfo | None = None


def convert(src: Path | str, dst: Path | str, options: ConvertOptions | None = None, *,
            header: bool = False) -> Converted:
    """Convert ``src`` to a 16 kHz mono s16le WAV at ``dst``; ``ConversionError`` when ffmpeg refuses.

    Only a middle clip needs the duration first (one :func:`probe`); otherwise ffmpeg runs
    once, and with ``header`` its own log of the input stands in for a probe, so an import
    starts one ffmpeg per file, not two.
    """
    options = options or ConvertOptions()
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise ConversionError(f"{src}: no such file")
    probed: MediaInfo | None = None
    if options.max_seconds and options.window == "middle":
        try:
            probed = probe(src)
        except FFmpegError as exc:
            raise ConversionError(f"undecodable: {exc}") from None
    offset = clip_offset(probed.duration_s if probed else None, options)
    if options.max_seconds and offset is None:  # a middle clip of a source without a duration in its header
        whole = ConvertOptions(options.sample_rate, None, "start", options.timeout_s)
        seen = _run(build_command(src, dst, whole, header=header), src, options.timeout_s, header)
        start = _trim_middle_in_place(dst, options.max_seconds or math.inf)
        return Converted(start, probed or seen)
    seen = _run(build_command(src, dst, options, offset, header=header), src, options.timeout_s, header)
    return Converted(offset, probed or seen)


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
    #: with --clip-seconds: where the excerpt starts in the source, in seconds
    clip_start_s: float | None = None
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
        done = convert(task.src, dst, task.options)
        facts = inspect_wav(dst)
        verify(facts, sample_rate=task.options.sample_rate, min_seconds=task.min_seconds,
               expected_s=task.expected_s)
        return ConvertOutcome(task.track_id, facts=facts, clip_start_s=done.clip_start_s)
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
