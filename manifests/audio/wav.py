"""Facts about a converted WAV (hash, decoded duration, level) and the reasons to refuse it.

The downloads table records these facts so later stages (audit, training) can
trust a file without decoding it again, and notice when it changed (sha256).
``check_wav_file`` is the cheap half: it reads only the RIFF header and the file
size, so the audit can look at every file on every run and still catch an empty,
non-WAV, cut-off or wrongly formatted file without hashing or decoding anything.
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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

    Our converter writes exactly this, so reading the header ourselves (the one RIFF walker,
    :func:`read_wav_header`) lets the level check run on a memory map instead of decoding the
    file a second time.
    """
    header = read_wav_header(path)
    if isinstance(header, WavProblem) or header.format_tag != 1 or header.bits != 16:
        return None
    return header.sample_rate, header.channels, header.data_offset, header.data_present


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


# ---------------------------------------------------------------- the cheap check (header + stat, no decode)

#: What ``check_wav_file`` can find, in the order it looks; the audit names its checks ``audio_<kind>``.
WAV_PROBLEMS = ("empty", "not_wav", "truncated", "wrong_format", "duration_mismatch")
#: The file's duration may differ this much from the manifest's before it is another file (rounding, padding).
DURATION_SLACK_S = 0.5
_MAX_CHUNKS = 256
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # writers that cannot seek back leave these as "unknown"
_FORMAT_NAMES = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0x55: "MP3"}


@dataclass(frozen=True)
class WavHeader:
    """What a WAV's RIFF header says, and how much of the promised data the file really holds."""

    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    data_offset: int
    #: bytes the data chunk claims (None when the writer left the size unknown)
    data_claimed: int | None
    #: bytes of sample data actually present in the file
    data_present: int

    @property
    def frame_bytes(self) -> int:
        return max(1, self.channels * max(1, self.bits // 8))

    @property
    def duration_s(self) -> float:
        """Seconds of audio the file really holds."""
        return (self.data_present // self.frame_bytes) / self.sample_rate if self.sample_rate else 0.0

    @property
    def claimed_s(self) -> float | None:
        """Seconds the header promises (None when it does not say)."""
        if self.data_claimed is None or not self.sample_rate:
            return None
        return (self.data_claimed // self.frame_bytes) / self.sample_rate

    def describe(self) -> str:
        kind = _FORMAT_NAMES.get(self.format_tag, f"format 0x{self.format_tag:04x}")
        return f"{self.sample_rate} Hz, {self.channels} channel(s), {self.bits}-bit {kind}"


@dataclass(frozen=True)
class WavProblem:
    """One reason a file is not the WAV the manifest promises; ``kind`` is one of ``WAV_PROBLEMS``."""

    kind: str
    detail: str


_MAGIC = ((b"ID3", "an MP3"), (b"\xff\xfb", "an MP3"), (b"\xff\xf3", "an MP3"), (b"OggS", "an Ogg file"),
          (b"fLaC", "a FLAC file"), (b"\x1aE\xdf\xa3", "a WebM/Matroska file"), (b"<", "HTML or XML text"))


def _sniff(head: bytes) -> str:
    """A guess at what a non-WAV file is, so the audit line says "an MP3" rather than only bytes."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return f" (looks like {name})"
    if head[4:8] == b"ftyp":
        return " (looks like an MP4/M4A file)"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return " (looks like text)"
    return ""


class _Unreadable(Exception):
    """The header cannot be parsed; ``kind`` says whether the file is cut short or no WAV at all."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


#: The 44-byte header nearly every writer (ffmpeg, libsndfile, ours) puts first: RIFF, a 16-byte fmt
#: chunk, then data. Read in one go, it needs no walk; anything else is walked chunk by chunk.
_CANONICAL = struct.Struct("<4sI8sIHHIIHH4sI")


#: How many bytes :func:`canonical_header` needs: read them from the start of a file.
CANONICAL_HEADER_BYTES = _CANONICAL.size


def canonical_header(head: bytes, size: int) -> WavHeader | None:
    """The header of a file of ``size`` bytes starting with ``head``, when it is the canonical 44 bytes; else None.

    None means "walk the chunks" (:func:`read_wav_header`), never "not a WAV": a caller that
    reads the first bytes itself (the audit, a hundred thousand files) decides the usual case here.
    """
    if len(head) < _CANONICAL.size or size < _CANONICAL.size:
        return None
    riff, _, wave_fmt, fmt_length, tag, channels, rate, _, _, bits, data, length = _CANONICAL.unpack(
        head[:_CANONICAL.size])
    if riff != b"RIFF" or wave_fmt != b"WAVEfmt " or fmt_length != 16 or data != b"data":
        return None
    claimed = None if length in _STREAMING_SIZES else length
    present = size - _CANONICAL.size
    return WavHeader(format_tag=tag, channels=channels, sample_rate=rate, bits=bits,
                     data_offset=_CANONICAL.size, data_claimed=claimed,
                     data_present=present if claimed is None else min(claimed, present))


@functools.lru_cache(maxsize=8)
def _sound_prefix(sample_rate: int) -> bytes:
    """Bytes 8-40 of a canonical 16-bit mono PCM WAV at ``sample_rate``: WAVE, its fmt chunk, the data tag."""
    return b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) + b"data"


def canonical_and_sound(head: bytes, size: int, *, expected_s: float | None = None,
                        sample_rate: int = 16000) -> bool:
    """Whether ``head`` (a file's first bytes) and ``size`` show a WAV with nothing for :func:`header_problems` to say.

    True only for the canonical 44-byte header of 16-bit mono PCM at ``sample_rate``, with
    the data it promises present and ``expected_s`` long; False means "look closer", never
    "broken". It builds no :class:`WavHeader`: an audit asks this of a hundred thousand
    files, nearly all of them sound.
    """
    if (size < _CANONICAL.size or len(head) < _CANONICAL.size or head[:4] != b"RIFF"
            or head[8:40] != _sound_prefix(sample_rate)):
        return False
    length = int.from_bytes(head[40:44], "little")
    present = size - _CANONICAL.size
    if length in _STREAMING_SIZES:
        length = present
    elif length > present:
        return False  # cut off: header_problems words it
    return expected_s is None or abs((length // 2) / sample_rate - expected_s) <= DURATION_SLACK_S


def _read_header(handle: BinaryIO, size: int) -> WavHeader:
    """The header in one read when it is the canonical 44 bytes, else :func:`_walk_header`'s answer."""
    found = canonical_header(handle.read(_CANONICAL.size), size)
    if found is not None:
        return found
    handle.seek(0)
    return _walk_header(handle, size)


def _walk_header(handle: BinaryIO, size: int) -> WavHeader:
    """Walk the RIFF chunks up to the data chunk, reading only chunk headers and the fmt body."""
    head = handle.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise _Unreadable("not_wav", f"not a WAV file{_sniff(head)}: it starts with {head!r}")
    fmt: tuple[int, int, int, int] | None = None
    for _ in range(_MAX_CHUNKS):
        chunk = handle.read(8)
        if len(chunk) < 8:
            raise _Unreadable("truncated", f"the file ends after {size} bytes, before its "
                                           f"{'data' if fmt else 'fmt'} chunk")
        ident, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if ident == b"fmt ":
            body = handle.read(min(length, 64))
            if len(body) < min(length, 16):
                raise _Unreadable("truncated", f"the file ends after {size} bytes, inside its fmt chunk")
            if length < 16:
                raise _Unreadable("not_wav", f"malformed WAV: a fmt chunk of {length} bytes (at least 16)")
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format decides
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
            handle.seek(length + (length & 1) - len(body), io.SEEK_CUR)
        elif ident == b"data":
            if fmt is None:
                raise _Unreadable("not_wav", "malformed WAV: the data chunk comes before any fmt chunk")
            offset = handle.tell()
            present = max(0, size - offset)
            claimed = None if length in _STREAMING_SIZES else length
            tag, channels, rate, bits = fmt
            return WavHeader(format_tag=tag, channels=channels, sample_rate=rate, bits=bits, data_offset=offset,
                             data_claimed=claimed, data_present=present if claimed is None else min(claimed, present))
        else:
            handle.seek(length + (length & 1), io.SEEK_CUR)
    raise _Unreadable("not_wav", f"malformed WAV: no data chunk in its first {_MAX_CHUNKS} chunks")


def read_wav_header(path: Path | str) -> WavHeader | WavProblem:
    """The header of a WAV, or the problem that keeps it from having one (empty, not a WAV, cut short)."""
    with open(path, "rb") as handle:  # a str or a Path (no Path object made: the audit opens every file)
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return WavProblem("empty", "the file is empty (0 bytes)")
        try:
            return _read_header(handle, size)
        except _Unreadable as exc:
            return WavProblem(exc.kind, exc.detail)


def check_wav_file(path: Path | str, *, expected_s: float | None = None,
                   sample_rate: int = 16000) -> list[WavProblem]:
    """Why a file is not the 16 kHz mono PCM16 WAV of ``expected_s`` seconds a manifest promises ([] if it is).

    Only the RIFF header and the file size are read, never the samples, so the audit can
    run this on every file of a large dataset by default; hashing and decoding
    (``inspect_wav``) stay opt-in.  A header that promises more data than the file holds
    is a cut-off copy or an interrupted write.
    """
    found = read_wav_header(path)
    if isinstance(found, WavProblem):
        return [found]
    return header_problems(found, expected_s=expected_s, sample_rate=sample_rate)


def header_problems(header: WavHeader, *, expected_s: float | None = None,
                    sample_rate: int = 16000) -> list[WavProblem]:
    """:func:`check_wav_file`'s verdict on a header already read: cut off, wrong format, wrong length."""
    problems = []
    if header.data_claimed is not None and header.data_claimed > header.data_present:
        claimed = header.claimed_s
        promised = f" ({claimed:.1f} s)" if claimed is not None and header.sample_rate else ""
        problems.append(WavProblem("truncated", f"the header promises {header.data_claimed} bytes of audio"
                                                f"{promised} but the file holds {header.data_present} "
                                                f"({header.duration_s:.1f} s): cut off or still being written"))
    if (header.format_tag, header.channels, header.sample_rate, header.bits) != (1, 1, sample_rate, 16):
        problems.append(WavProblem("wrong_format", f"{header.describe()}; expected {sample_rate} Hz, 1 channel(s), "
                                                   "16-bit PCM"))
    elif not problems and expected_s is not None and abs(header.duration_s - expected_s) > DURATION_SLACK_S:
        problems.append(WavProblem("duration_mismatch", f"the file holds {header.duration_s:.1f} s of audio but "
                                                        f"the manifest says {expected_s:.1f} s: the file changed "
                                                        "after it was recorded"))
    return problems
