"""The log-mel front end: same numbers as librosa, per-example scaling, crops, pitch shift."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.data.crops import song_crop_starts, song_crops  # noqa: E402
from training.models.features import LogMel  # noqa: E402

SR = 16000


def _test_signal(seconds: float = 2.0, silence: bool = True) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(3)
    chirp = np.sin(2 * np.pi * (200 * t + 1500 * t * t))
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * chirp + 0.05 * rng.standard_normal(t.size)
    if silence:
        y[: SR // 4] = 0.0  # digital silence at the start exercises the amin floor
    return y.astype(np.float32)


@pytest.mark.parametrize(("n_fft", "hop", "n_mels"), [(512, 256, 128), (1024, 320, 64)])
def test_log_mel_matches_librosa_melspectrogram(n_fft: int, hop: int, n_mels: int) -> None:
    y = _test_signal()
    layer = LogMel(sample_rate=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels, standardize=False)
    ours = np.asarray(layer(y[None, :]))[0]
    ref_power = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels,
                                               power=2.0, center=True, pad_mode="constant")
    ref = librosa.power_to_db(ref_power, ref=1.0, amin=1e-10, top_db=None).T
    assert ours.shape == ref.shape == (1 + y.size // hop, n_mels)
    audible = ref > ref.max() - 80  # float32 vs float64 only differs far below the music
    assert np.abs(ours - ref)[audible].max() < 0.01  # dB
    assert np.abs(ours - ref).max() < 1.0


def test_each_example_is_standardised_on_its_own() -> None:
    y = _test_signal(1.0, silence=False)
    batch = np.stack([y, 0.01 * y, np.zeros_like(y)])
    out = np.asarray(LogMel(n_mels=64)(batch))
    np.testing.assert_allclose(out.mean(axis=(1, 2))[:2], 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2))[:2], 1.0, atol=1e-3)
    np.testing.assert_allclose(out[0], out[1], atol=2e-3)  # a quieter copy looks the same
    assert np.all(np.isfinite(out[2])) and np.abs(out[2]).max() == 0.0  # silence: no NaN


def test_song_crops_cover_the_whole_track_evenly() -> None:
    crop = SR
    starts = song_crop_starts(int(4.5 * SR), crop)

    assert len(starts) == 5 and starts[0] == 0 and starts[-1] == int(4.5 * SR) - crop
    assert np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= crop)
    wave = np.arange(int(4.5 * SR), dtype=np.float32)
    crops = song_crops(wave, crop, n_crops=3)
    assert crops.shape == (3, crop)
    assert crops[0, 0] == 0 and crops[-1, -1] == wave[-1]
    short = song_crops(np.ones(SR // 2, np.float32), crop)
    assert short.shape == (1, crop) and short[0, : SR // 2].min() == 1 and short[0, SR // 2:].max() == 0
    as_int16 = song_crops(np.full(SR, 16384, np.int16), crop)
    assert as_int16.dtype == np.float32 and as_int16.max() == 0.5


def _peak_band_hz(mel: np.ndarray, n_mels: int) -> float:
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=SR / 2)[1:-1]
    return float(centres[int(np.argmax(mel.mean(axis=0)))])


@pytest.mark.parametrize("k", [3, -5])
def test_pitch_shift_moves_partials_by_the_semitone_ratio_and_keeps_the_tempo(k: int) -> None:
    n_mels = 128
    layer = LogMel(n_mels=n_mels, standardize=False)
    t = np.arange(2 * SR) / SR
    gate = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)  # 4 bursts per second: the "tempo"
    f0 = 1000.0
    y = (0.5 * np.sin(2 * np.pi * f0 * t) * gate).astype(np.float32)[None]
    target = (0.5 * np.sin(2 * np.pi * f0 * 2 ** (k / 12) * t) * gate).astype(np.float32)[None]
    power = layer.power_spectrogram(y)
    shifted = np.asarray(keras.ops.einsum("btf,bfm->btm", power,
                                          layer.shifted_filterbanks(np.array([k], "int32"))))[0]
    expected = np.asarray(layer.mel_power(layer.power_spectrogram(target)))[0]
    got_hz = _peak_band_hz(shifted, n_mels)
    assert abs(np.log2(got_hz / f0) * 12 - k) < 0.5  # within half a semitone (bands are ~0.4 semitone)
    assert abs(_peak_band_hz(expected, n_mels) - got_hz) / got_hz < 0.03
    envelope = shifted.sum(axis=1)
    original = np.asarray(layer.mel_power(power))[0].sum(axis=1)
    assert np.corrcoef(envelope, original)[0, 1] > 0.99  # the bursts stay on the same frames


def test_pitch_shift_is_training_only_and_within_range() -> None:
    layer = LogMel(n_mels=64, pitch_semitones=2, pitch_prob=1.0, seed=7)
    y = np.tile(_test_signal(1.0)[None], (64, 1))
    plain = np.asarray(layer(y, training=False))
    assert np.allclose(plain, plain[0:1], atol=1e-5)  # inference: untouched, all identical
    semis = np.asarray(layer.random_semitones(2000))
    assert set(np.unique(semis)) == {-2, -1, 0, 1, 2}
    trained = np.asarray(layer(y, training=True))
    assert not np.allclose(trained, trained[0:1], atol=1e-3)  # examples shifted differently
