"""One file's conversion, as a conversion worker runs it: header, convert, check, and why not.

Runs in the conversion pool (:mod:`collectors.audio.pool`), so it takes and returns plain data
and never raises: a file that is not audio, that ffmpeg refuses, that decodes to silence or to
far less than its header promises comes back with the reason its downloads row will carry. The
converter is the download stage's (:func:`collectors.audio.convert.convert`): imported and
downloaded tracks are the same 16 kHz mono PCM16 WAV, decoded by the same ffmpeg recipe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from collectors.audio.convert import ConversionError, ConvertOptions, convert
from manifests.audio import AudioFacts, AudioRejected, inspect_wav, verify

#: A file decoding to less than this share of its header's duration, and more than
#: TRUNCATED_SLACK_S short, is cut off (the rule ``training predict`` warns with).
TRUNCATED_SHARE = 0.9
TRUNCATED_SLACK_S = 2.0


@dataclass(frozen=True)
class ImportTask:
    track_id: str
    src: str
    #: where the WAV is written (``<track_id>.wav.part``; renamed by the stage when it is good)
    dst: str
    options: ConvertOptions
    min_seconds: float


@dataclass(frozen=True)
class ImportOutcome:
    track_id: str
    facts: AudioFacts | None = None
    #: the duration the source's header claims (None when it does not say)
    header_s: float | None = None
    #: with --clip-seconds: where the excerpt starts in the source, in seconds
    clip_start_s: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def truncation(decoded_s: float, header_s: float | None, clip_s: float | None) -> str | None:
    """Why audio decoding to ``decoded_s`` is cut off against its header, or None."""
    if not header_s:
        return None
    expected = min(header_s, clip_s) if clip_s else header_s
    if decoded_s < TRUNCATED_SHARE * expected and expected - decoded_s > TRUNCATED_SLACK_S:
        return (f"truncated: decoded {decoded_s:.1f} s but the file's header says {expected:.1f} s "
                "(a cut-off copy or an interrupted download?)")
    return None


def import_task(task: ImportTask) -> ImportOutcome:
    """Convert and check one file; never raises, never leaves ``dst`` behind when the file is refused.

    One ffmpeg per file: the conversion's own log of its input stands in for a probe (the
    header's duration, whether there is an audio stream at all), so nothing is opened twice.
    """
    dst = Path(task.dst)
    header_s: float | None = None
    try:
        try:
            done = convert(task.src, dst, task.options, header=True)
        except ConversionError as exc:
            if exc.header is None:  # ffmpeg could not open it: "...: <the last word>"
                detail = str(exc).rsplit(" | ", 1)[-1].rsplit(": ", 1)[-1].strip() or "no details"
                return ImportOutcome(task.track_id, error=f"not audio: ffmpeg cannot read it ({detail})")
            if not exc.header.has_audio:
                return ImportOutcome(task.track_id, error="not audio: ffmpeg finds no audio stream in it")
            header_s = exc.header.duration_s
            raise
        header_s = done.header.duration_s if done.header is not None else None
        facts = inspect_wav(dst)
        verify(facts, sample_rate=task.options.sample_rate, min_seconds=task.min_seconds)
        problem = truncation(facts.duration_s, header_s, task.options.max_seconds)
        if problem:
            error = problem
        else:
            return ImportOutcome(task.track_id, facts=facts, header_s=header_s, clip_start_s=done.clip_start_s)
    except ConversionError as exc:
        error = str(exc)
    except AudioRejected as exc:
        error = exc.reason
    except Exception as exc:  # a worker must report, not die: the pool would lose the task
        error = f"conversion failed: {type(exc).__name__}: {exc}"
    try:
        os.unlink(dst)
    except FileNotFoundError:
        pass
    return ImportOutcome(task.track_id, header_s=header_s, error=error)
