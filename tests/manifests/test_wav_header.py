"""``check_wav_file``: the cheap WAV check reads the header and the size, and names what is wrong.

Files are written by soundfile and ffmpeg (the converter's own tool), then broken the way
trials broke them: emptied, replaced by text, cut off, converted to the wrong format.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from manifests.audio import WAV_PROBLEMS, WavHeader, check_wav_file, ffmpeg_exe, inspect_wav, read_wav_header

RATE = 16000


def _tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def _kinds(path: Path, **kw: float) -> list[str]:
    return [p.kind for p in check_wav_file(path, **kw)]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wav") / "good.wav"
    sf.write(path, _tone(4.0), RATE, subtype="PCM_16")
    return path


def test_a_good_file_passes_and_agrees_with_inspect_wav(good: Path) -> None:
    assert check_wav_file(good, expected_s=4.0) == []
    header = read_wav_header(good)
    assert isinstance(header, WavHeader)
    facts = inspect_wav(good)
    assert (header.sample_rate, header.channels, header.duration_s) == (facts.sample_rate, facts.channels,
                                                                        facts.duration_s)
    assert header.claimed_s == header.duration_s == 4.0


def test_ffmpeg_files_with_a_list_chunk_and_to_a_pipe(tmp_path: Path, good: Path) -> None:
    """What the converter writes (LIST chunk first), and a WAV written to a pipe (sizes left unknown)."""
    out = tmp_path / "ffmpeg.wav"
    base = [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-i", str(good), "-ac", "1", "-ar", str(RATE),
            "-acodec", "pcm_s16le"]
    subprocess.run([*base, str(out)], check=True)
    assert b"LIST" in out.read_bytes()[:200]
    assert check_wav_file(out, expected_s=4.0) == []
    piped = tmp_path / "piped.wav"
    piped.write_bytes(subprocess.run([*base, "-f", "wav", "pipe:1"], check=True, capture_output=True).stdout)
    header = read_wav_header(piped)
    assert isinstance(header, WavHeader) and header.data_claimed is None and header.claimed_s is None
    assert check_wav_file(piped, expected_s=4.0) == []


def test_extensible_and_rf64_headers_are_read(tmp_path: Path) -> None:
    for fmt in ("WAVEX", "RF64"):
        path = tmp_path / f"{fmt}.wav"
        sf.write(path, _tone(2.0), RATE, format=fmt, subtype="PCM_16")
        assert check_wav_file(path, expected_s=2.0) == [], fmt


def test_empty_text_and_other_formats_are_not_wavs(tmp_path: Path, good: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert check_wav_file(empty)[0].detail == "the file is empty (0 bytes)"
    assert _kinds(empty) == ["empty"]
    text = tmp_path / "text.wav"
    text.write_text("hello, not audio\n", encoding="utf-8")
    (problem,) = check_wav_file(text)
    assert problem.kind == "not_wav" and "looks like text" in problem.detail
    flac = tmp_path / "flac.wav"
    sf.write(flac, _tone(1.0), RATE, format="FLAC")
    (problem,) = check_wav_file(flac)
    assert problem.kind == "not_wav" and "FLAC" in problem.detail
    tiny = tmp_path / "tiny.wav"
    tiny.write_bytes(b"RIFF")
    assert _kinds(tiny) == ["not_wav"]


@pytest.mark.parametrize("keep", [0.5, 0.999, 40, 30])
def test_cut_files_are_truncated(tmp_path: Path, good: Path, keep: float) -> None:
    whole = good.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[:int(len(whole) * keep) if keep < 1 else int(keep)])
    (problem,) = check_wav_file(cut, expected_s=4.0)
    assert problem.kind == "truncated", problem


@pytest.mark.parametrize("rate, channels, subtype, words", [
    (44100, 2, "PCM_16", "44100 Hz, 2 channel(s), 16-bit PCM"),
    (RATE, 2, "PCM_16", "16000 Hz, 2 channel(s)"),
    (22050, 1, "PCM_16", "22050 Hz, 1 channel(s)"),
    (RATE, 1, "FLOAT", "32-bit IEEE float"),
    (RATE, 1, "PCM_24", "24-bit PCM"),
    (RATE, 1, "ULAW", "mu-law"),
])
def test_wrong_formats_say_what_they_are(tmp_path: Path, rate: int, channels: int, subtype: str,
                                         words: str) -> None:
    path = tmp_path / "x.wav"
    wave = _tone(1.0, rate)
    sf.write(path, np.stack([wave] * channels, axis=1) if channels > 1 else wave, rate, subtype=subtype)
    (problem,) = check_wav_file(path, expected_s=1.0)
    assert problem.kind == "wrong_format" and words in problem.detail
    assert "expected 16000 Hz, 1 channel(s), 16-bit PCM" in problem.detail


def test_length_is_compared_with_the_manifest(good: Path) -> None:
    assert check_wav_file(good, expected_s=4.4) == []  # rounding and codec padding are no change
    (problem,) = check_wav_file(good, expected_s=200.0)
    assert problem.kind == "duration_mismatch" and "4.0 s" in problem.detail and "200.0 s" in problem.detail
    assert _kinds(good, expected_s=1.0) == ["duration_mismatch"]


def test_every_kind_is_declared() -> None:
    assert WAV_PROBLEMS == ("empty", "not_wav", "truncated", "wrong_format", "duration_mismatch")


@settings(max_examples=300, deadline=None)
@given(tag=st.sampled_from([1, 3, 6, 0xFFFE, 0x55]), channels=st.integers(0, 8),
       rate=st.sampled_from([0, 8000, 16000, 44100, 0xFFFFFFFF]), bits=st.sampled_from([0, 8, 16, 24, 32]),
       claimed=st.sampled_from([0, 1, 2, 320, 0xFFFFFFFF, 10_000]), present=st.integers(0, 400),
       fmt_length=st.sampled_from([16, 18, 40]), first=st.sampled_from([b"RIFF", b"RF64", b"RIFX"]),
       data=st.sampled_from([b"data", b"LIST"]))
def test_the_one_read_header_is_the_walked_header(tag: int, channels: int, rate: int, bits: int, claimed: int,
                                                   present: int, fmt_length: int, first: bytes,
                                                   data: bytes) -> None:
    """The canonical 44-byte fast path gives exactly what walking the chunks gives, on any header."""
    import io
    import struct

    from manifests.audio.wav import _read_header, _Unreadable, _walk_header

    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * 2 & 0xFFFFFFFF, 2, bits)
    fmt += b"\0" * (fmt_length - 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_length) + fmt + data + struct.pack("<I", claimed)
    raw = first + struct.pack("<I", 4 + len(body) + present) + body + b"\x01" * present
    class Counted(io.BytesIO):
        reads = 0

        def read(self, size: int | None = -1) -> bytes:
            Counted.reads += 1
            return super().read(size)

    results: list[object] = []
    for read in (_read_header, _walk_header):
        Counted.reads = 0
        try:
            results.append(read(Counted(raw), len(raw)))
        except _Unreadable as exc:
            results.append((exc.kind, exc.detail))
        if read is _read_header and (first, fmt_length, data) == (b"RIFF", 16, b"data"):
            assert Counted.reads == 1  # the canonical header: one read, no walk
    assert results[0] == results[1]


@settings(max_examples=400, deadline=None)
@given(tag=st.sampled_from([1, 3, 0xFFFE]), channels=st.sampled_from([1, 2]), rate=st.sampled_from([8000, 16000]),
       bits=st.sampled_from([16, 24]), block=st.sampled_from([2, 4]), claimed=st.sampled_from(
           [0, 0xFFFFFFFF, 31_998, 32_000, 32_002, 48_000, 64_000]), present=st.sampled_from(
           [0, 1, 31_999, 32_000, 32_001, 48_000, 64_000]), expected=st.sampled_from([None, 1.0, 1.4, 1.6, 2.0, 3.0]),
       first=st.sampled_from([b"RIFF", b"RF64"]), cut=st.integers(0, 44))
def test_the_quick_verdict_never_passes_what_the_full_check_flags(
        tag: int, channels: int, rate: int, bits: int, block: int, claimed: int, present: int,
        expected: float | None, first: bytes, cut: int) -> None:
    """``canonical_and_sound`` says True only where ``header_problems`` has nothing to say; and for a sound file."""
    import struct

    from manifests.audio import canonical_and_sound, canonical_header, header_problems

    body = b"WAVEfmt " + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * block, block, bits)
    raw = first + struct.pack("<I", 36 + present) + body + b"data" + struct.pack("<I", claimed)
    head, size = raw[:44 - cut], 44 + present
    sound = canonical_and_sound(head, size, expected_s=expected, sample_rate=RATE)
    header = canonical_header(head, size)
    if sound:
        assert header is not None and header_problems(header, expected_s=expected, sample_rate=RATE) == []
    exact = (first, tag, channels, rate, bits, block, cut) == (b"RIFF", 1, 1, RATE, 16, 2, 0)
    if exact and header is not None and header_problems(header, expected_s=expected, sample_rate=RATE) == []:
        assert sound
