"""The converter and the checks on their own: formats, trimming, ffmpeg errors, rejections."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from collectors.audio.convert import (
    ConversionError,
    ConvertOptions,
    ConvertTask,
    build_command,
    convert,
    convert_task,
    input_header,
)
from manifests.audio import AudioRejected, MediaInfo, ffmpeg_exe, inspect_wav, parse_header, probe, verify
from tests.audio.conftest import CLIP_SPECS


@pytest.mark.parametrize("name", list(CLIP_SPECS))
def test_each_codec_converts_to_16k_mono_s16_within_50ms(tmp_path, clips, name) -> None:
    clip = clips[name]
    out = tmp_path / "out.wav"
    convert(clip.path, out)
    data, rate = sf.read(str(out), dtype="int16")
    info = sf.info(str(out))
    assert (rate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
    assert abs(len(data) / rate - clip.seconds) <= 0.05
    assert np.abs(data).max() > 1000  # the tone survived


def test_the_command_is_the_documented_one(tmp_path) -> None:
    cmd = build_command(tmp_path / "in.webm", tmp_path / "out.wav", ConvertOptions(max_seconds=30))
    assert cmd[0] == ffmpeg_exe()
    joined = " ".join(cmd)
    for part in ("-ac 1", "-ar 16000", "-acodec pcm_s16le", "-f wav", "-t 30.000", "-map 0:a:0"):
        assert part in joined


def _three_parts(path, rate=44100):
    """1 s silence, 1 s tone, 1 s silence (stereo): only the middle second has sound."""
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    mono = np.concatenate([np.zeros(rate), tone, np.zeros(rate)])
    sf.write(str(path), np.stack([mono, mono], axis=1), rate, subtype="PCM_16")
    return path


def test_middle_window_keeps_the_middle_and_start_window_the_start(tmp_path) -> None:
    src = _three_parts(tmp_path / "parts.wav")
    header = probe(src)
    assert (header.duration_s, header.codec, header.sample_rate, header.channels) == (3.0, "pcm_s16le", 44100, "stereo")
    middle, start = tmp_path / "middle.wav", tmp_path / "start.wav"
    convert(src, middle, ConvertOptions(max_seconds=1.0, window="middle"))
    convert(src, start, ConvertOptions(max_seconds=1.0, window="start"))
    mid_facts, start_facts = inspect_wav(middle), inspect_wav(start)
    assert mid_facts.duration_s == pytest.approx(1.0, abs=0.01)
    assert mid_facts.rms_dbfs > -12
    with pytest.raises(AudioRejected, match="silent"):
        verify(start_facts, min_seconds=0.5)


def test_middle_window_works_when_the_header_has_no_duration(tmp_path) -> None:
    """Matroska written to a pipe (like a live-style stream) carries no duration in its header."""
    src = _three_parts(tmp_path / "parts.wav")
    streamed = tmp_path / "streamed.webm"
    with open(streamed, "wb") as out:
        subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(src), "-c:a", "libopus",
                        "-f", "webm", "pipe:1"], stdout=out, check=True)
    assert probe(streamed).duration_s is None
    out = tmp_path / "middle.wav"
    convert(streamed, out, ConvertOptions(max_seconds=1.0, window="middle"))
    facts = inspect_wav(out)
    assert facts.duration_s == pytest.approx(1.0, abs=0.01) and facts.rms_dbfs > -12


#: What ffmpeg prints about an mp4 with a video stream before its sound (``ffmpeg -i``, level+info tags).
HEADER = """[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':
[info]   Metadata:
[info]     major_brand     : isom
[info]   Duration: 01:02:03.45, start: 0.000000, bitrate: 1205 kb/s
[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 1280x720, 1071 kb/s
[info]   Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
"""
CONVERTING = HEADER + """[info] Stream mapping:
[info]   Stream #0:1 -> #0:0 (aac (native) -> pcm_s16le (native))
[info] Output #0, wav, to 'out.wav':
[info]   Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 16000 Hz, mono, s16, 256 kb/s
"""


def test_one_reading_of_ffmpegs_header_lines_for_probe_and_conversion() -> None:
    expected = MediaInfo(duration_s=3723.45, codec="aac", sample_rate=44100, channels="stereo")
    assert parse_header(HEADER) == expected
    assert input_header(CONVERTING) == expected  # a conversion log reads as the probe does
    assert input_header("[error] clip.mp4: Invalid data found when processing input") is None
    bare = parse_header("Input #0, wav, from 'x.wav':\n  Duration: N/A, bitrate: N/A\n")
    assert bare == MediaInfo(duration_s=None, codec=None, sample_rate=None, channels=None)
    assert not bare.has_audio


def test_ffmpeg_stderr_is_in_the_error_and_no_output_is_left(tmp_path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"definitely not audio " * 100)
    out = tmp_path / "out.wav.part"
    with pytest.raises(ConversionError, match=r"undecodable: .*junk\.mp3.*\|") as caught:
        convert(junk, out)
    assert "ffmpeg" in str(caught.value)
    outcome = convert_task(ConvertTask("tjunk000001", str(junk), str(out), ConvertOptions()))
    assert not outcome.ok and "undecodable" in outcome.error and not out.exists()


def test_a_video_file_without_sound_has_no_audio_stream(tmp_path) -> None:
    video = tmp_path / "silent_film.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=black:s=64x64:d=1", "-c:v", "mpeg4", str(video)], check=True)
    with pytest.raises(ConversionError, match="no audio stream"):
        convert(video, tmp_path / "out.wav")


def test_checks_reject_wrong_format_and_flag_truncation_as_retryable(tmp_path, clips) -> None:
    stereo = tmp_path / "stereo.wav"
    sf.write(str(stereo), np.zeros((44100, 2)) + 0.1, 44100, subtype="PCM_16")
    with pytest.raises(AudioRejected, match="expected 16000 Hz mono PCM_16"):
        verify(inspect_wav(stereo))
    out = tmp_path / "ok.wav"
    convert(clips["mp3_mono_48k"].path, out)
    facts = inspect_wav(out)
    verify(facts, min_seconds=1.0, expected_s=2.5)
    with pytest.raises(AudioRejected, match="truncated") as caught:
        verify(facts, min_seconds=1.0, expected_s=200.0)
    assert caught.value.retryable
    with pytest.raises(AudioRejected, match="too short"):
        verify(facts, min_seconds=5.0)


def test_facts_are_exact(tmp_path) -> None:
    path = tmp_path / "known.wav"
    sf.write(str(path), np.full(16000, 0.5), 16000, subtype="PCM_16")
    facts = inspect_wav(path)
    assert facts.frames == 16000 and facts.duration_s == 1.0
    assert facts.peak_dbfs == pytest.approx(-6.02, abs=0.01) and facts.rms_dbfs == pytest.approx(-6.02, abs=0.01)
    import hashlib

    assert facts.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    negative = tmp_path / "negative.wav"  # the peak is the largest magnitude, also below zero
    sf.write(str(negative), np.concatenate([np.full(8000, 0.25), np.full(8000, -1.0)]), 16000, subtype="PCM_16")
    assert inspect_wav(negative).peak_dbfs == pytest.approx(0.0, abs=0.01)


def test_the_same_input_gives_the_same_bytes(tmp_path, clips) -> None:
    """No timestamps or encoder tags in the WAV: the sha256 in the table identifies the audio."""
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    convert(clips["aac_m4a_stereo_48k"].path, first)
    convert(clips["aac_m4a_stereo_48k"].path, second)
    assert first.read_bytes() == second.read_bytes()
    assert b"Lavf" not in first.read_bytes()[:200]  # no encoder tag in the header


def test_other_wav_flavours_are_read_correctly_and_refused(tmp_path) -> None:
    """Files not written by our converter (float WAV) go through libsndfile, levels still in dBFS."""
    path = tmp_path / "float.wav"
    sf.write(str(path), np.full(16000, 0.5, dtype=np.float32), 16000, subtype="FLOAT")
    facts = inspect_wav(path)
    assert facts.subtype == "FLOAT" and facts.rms_dbfs == pytest.approx(-6.02, abs=0.01)
    with pytest.raises(AudioRejected, match="FLOAT; expected 16000 Hz mono PCM_16"):
        verify(facts, min_seconds=0.5)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioRejected, match="undecodable"):
        inspect_wav(broken)
