"""The audio file contract every stage shares: 16 kHz mono PCM16 WAV, decoding, checks.

``ffmpeg`` finds the ffmpeg binary and decodes any input to mono float32 (so
conversion, training and prediction see the same samples); ``wav`` reads the
facts of a converted WAV (format, duration, level, sha256), says why a file
must not enter the dataset, and checks a WAV's header cheaply (no decoding).
"""

from .ffmpeg import (
    ENV_FFMPEG,
    FFmpegError,
    MediaInfo,
    decode_audio,
    ffmpeg_exe,
    parse_header,
    probe,
    stderr_tail,
    stream_audio,
)
from .wav import (
    CANONICAL_HEADER_BYTES,
    SILENCE_DBFS,
    WAV_PROBLEMS,
    AudioFacts,
    AudioRejected,
    WavHeader,
    WavProblem,
    canonical_and_sound,
    canonical_header,
    check_wav_file,
    header_problems,
    inspect_wav,
    read_wav_header,
    verify,
)

#: The sample rate of every WAV in ``audio/`` and of every model's input.
SAMPLE_RATE = 16000

__all__ = [
    "CANONICAL_HEADER_BYTES", "ENV_FFMPEG", "SAMPLE_RATE", "SILENCE_DBFS", "WAV_PROBLEMS", "AudioFacts",
    "AudioRejected", "FFmpegError", "MediaInfo", "WavHeader", "WavProblem", "canonical_and_sound",
    "canonical_header", "check_wav_file", "decode_audio", "ffmpeg_exe", "header_problems", "inspect_wav",
    "parse_header", "probe", "read_wav_header", "stderr_tail", "stream_audio", "verify",
]
