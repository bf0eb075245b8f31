"""The int16 audio cache: decoded once, reused, partly rebuilt when a file changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from manifests.errors import UserError
from manifests.hashing import sha256_file
from manifests.io import write_table
from manifests.schema import TRAINING
from training.data.cache import build_cache, decode_int16, index_path

from .corpus import SR, make_corpus


class CountingDecoder:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path, sample_rate: int) -> np.ndarray:
        self.paths.append(path)
        return decode_int16(path, sample_rate)


def test_cache_is_built_once_and_reused(tmp_path: Path) -> None:
    layout, rows = make_corpus(tmp_path, genres=("ambient", "metal"), per_split=(2, 1, 1), seconds=1.5)
    decoder = CountingDecoder()
    cache, stats = build_cache(layout, rows, SR, decoder=decoder, progress=False)
    assert stats.decoded == len(rows) == len(decoder.paths) and not stats.reused
    for row in rows:  # exactly the WAV's samples, as int16, no resampling
        expected, rate = sf.read(layout.resolve(row["audio_path"]), dtype="int16")
        assert rate == SR
        np.testing.assert_array_equal(cache.int16(row["track_id"]), expected)
        np.testing.assert_allclose(cache.wave(row["track_id"]), expected / 32768.0)
    assert cache.nbytes == 2 * sum(cache.length(r["track_id"]) for r in rows)
    assert isinstance(cache.samples, np.memmap)
    raw_mtime = cache.raw_path.stat().st_mtime_ns
    index_mtime = index_path(layout.cache, SR).stat().st_mtime_ns

    again = CountingDecoder()
    cache2, stats2 = build_cache(layout, rows, SR, decoder=again, progress=False)
    assert stats2.reused and stats2.decoded == 0 and again.paths == []
    assert cache2.raw_path == cache.raw_path and cache2.raw_path.stat().st_mtime_ns == raw_mtime
    assert index_path(layout.cache, SR).stat().st_mtime_ns == index_mtime


def test_changed_sha_rebuilds_decoding_only_the_changed_file(tmp_path: Path) -> None:
    layout, rows = make_corpus(tmp_path, genres=("ambient", "metal"), per_split=(2, 1, 1), seconds=1.5)
    cache, _ = build_cache(layout, rows, SR, progress=False)
    old_raw = cache.raw_path
    kept = {r["track_id"]: np.array(cache.int16(r["track_id"])) for r in rows}
    cache.close()

    changed = rows[0]
    path = layout.resolve(changed["audio_path"])
    new_audio = (0.25 * np.sin(np.arange(SR) * 0.05)).astype(np.float32)
    sf.write(path, new_audio, SR, subtype="PCM_16")
    changed["sha256"] = sha256_file(path)
    write_table(layout.table_path(TRAINING), TRAINING, rows)

    decoder = CountingDecoder()
    cache2, stats = build_cache(layout, rows, SR, decoder=decoder, progress=False)
    assert not stats.reused and stats.decoded == 1 and stats.copied == len(rows) - 1
    assert decoder.paths == [path]
    assert cache2.length(changed["track_id"]) == SR
    for row in rows[1:]:
        np.testing.assert_array_equal(cache2.int16(row["track_id"]), kept[row["track_id"]])
    assert not old_raw.exists()  # the previous data file is cleaned up
    assert sorted(p.name for p in layout.cache.iterdir()) == sorted([cache2.raw_path.name, f"audio-{SR}hz.json"])


def test_missing_audio_file_is_named_before_anything_is_decoded(tmp_path: Path) -> None:
    layout, rows = make_corpus(tmp_path, genres=("ambient", "metal"), per_split=(2, 1, 1), seconds=1.0)
    gone = layout.resolve(rows[2]["audio_path"])
    gone.unlink()
    decoder = CountingDecoder()
    with pytest.raises(UserError) as err:
        build_cache(layout, rows, SR, decoder=decoder, progress=False)
    assert str(gone) in str(err.value) and rows[2]["track_id"] in str(err.value)
    assert "\n" not in str(err.value)
    assert decoder.paths == [] and not layout.cache.exists()


def test_other_rates_and_formats_go_through_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "stereo44k.wav"
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.stack([left, left], axis=1).astype(np.float32), 44100, subtype="PCM_16")
    samples = decode_int16(path, SR)
    assert samples.dtype == np.int16 and abs(samples.size - SR) <= 16
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    assert abs(np.argmax(spectrum) * SR / samples.size - 440) < 2
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(UserError, match="broken.wav"):
        decode_int16(bad, SR)
