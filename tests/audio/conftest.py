"""Fixtures for the audio tests: clips generated once per session, a local media server per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collectors.audio.bench import make_clip
from tests.servers.media import MediaServer

SECONDS = 2.5


@dataclass(frozen=True)
class Clip:
    path: Path
    seconds: float
    sample_rate: int
    channels: int

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


#: name -> (extension, sample rate, channels): every codec, mono and stereo, 44.1 and 48 kHz
CLIP_SPECS = {
    "mp3_stereo_44k": ("mp3", 44100, 2),
    "mp3_mono_48k": ("mp3", 48000, 1),
    "opus_webm_stereo_48k": ("webm", 48000, 2),
    "aac_m4a_mono_44k": ("m4a", 44100, 1),
    "aac_m4a_stereo_48k": ("m4a", 48000, 2),
    "vorbis_ogg_mono_48k": ("ogg", 48000, 1),
    "flac_stereo_44k": ("flac", 44100, 2),
}


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    folder = tmp_path_factory.mktemp("clips")
    out = {}
    for name, (ext, rate, channels) in CLIP_SPECS.items():
        path = make_clip(folder / f"{name}.{ext}", seconds=SECONDS, sample_rate=rate, channels=channels)
        out[name] = Clip(path, SECONDS, rate, channels)
    out["silence"] = Clip(make_clip(folder / "silence.mp3", seconds=SECONDS, kind="silence"), SECONDS, 44100, 2)
    out["short"] = Clip(make_clip(folder / "short.mp3", seconds=0.4), 0.4, 44100, 2)
    return out


@pytest.fixture
def media() -> Iterator[MediaServer]:
    server = MediaServer().start()
    yield server
    server.stop()
