"""Label space and split checks, seeded random crops, the numpy augmentations and the batch prefetcher."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from manifests.errors import UserError
from training.config import AugmentConfig, TrainConfig
from training.data.augment import add_noise, mixup, resample_to
from training.data.cache import build_cache
from training.data.crops import read_crop
from training.data.manifest import prepare_dataset, read_manifest
from training.data.sequences import FixedCrops, TrainCrops, prefetch

from .corpus import SR, make_corpus


def _config(**kw) -> TrainConfig:
    config = TrainConfig(**{"batch_size": 4, "crops_per_track": 3, **kw})
    config.features.crop_seconds = 1.0
    return config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    layout, rows = make_corpus(tmp_path_factory.mktemp("data"), genres=("ambient", "house", "metal"),
                               per_split=(4, 2, 1), seconds=2.5, short=1, multi=True)
    cache, _ = build_cache(layout, rows, SR, progress=False)
    return layout, rows, cache


def test_single_and_multi_label_targets(corpus) -> None:
    _, rows, _ = corpus
    single = prepare_dataset(rows, _config(task="single"))
    assert single.labels == ["ambient", "house", "metal"]
    assert np.all(single.train.targets.sum(axis=1) == 1)
    assert [len(single.splits[s]) for s in ("train", "validation", "test")] == [12, 6, 3]
    multi = prepare_dataset(rows, _config(task="multi", label_threshold=0.5))
    sums = multi.train.targets.sum(axis=1)
    assert set(sums.tolist()) == {1.0, 2.0}  # every other track also carries the next genre at 0.6
    strict = prepare_dataset(rows, _config(task="multi", label_threshold=0.7))
    assert np.all(strict.train.targets.sum(axis=1) == 1)
    i = multi.train.track_ids.index(next(t for t in multi.train.track_ids if t.startswith("tamb")))
    assert multi.labels[multi.train.primary[i]] == "ambient"  # the strongest genre is the main label


def test_too_few_tracks_per_genre_is_a_one_line_error_naming_genre_and_counts(corpus) -> None:
    _, rows, _ = corpus
    few = [r for r in rows if not (r["top_genre"] == "metal" and r["split"] == "train")][:-1]
    with pytest.raises(UserError) as err:
        prepare_dataset(few, _config(min_tracks=5), source="training.csv")
    text = str(err.value)
    assert "'metal' has 2 (train 0, validation 2, test 0)" in text and "--min-tracks" in text
    assert "\n" not in text
    data = prepare_dataset(few, _config(min_tracks=5, drop_rare=True))
    assert data.labels == ["ambient", "house"] and data.dropped_genres == {"metal": 2}
    with pytest.raises(UserError, match="genre 'metal' has no tracks in the train split"):
        prepare_dataset(few, _config(min_tracks=1))


def test_empty_validation_split_is_named(corpus) -> None:
    _, rows, _ = corpus
    no_val = [r for r in rows if r["split"] != "validation"]
    with pytest.raises(UserError, match=r"the validation split has no usable tracks \(train 12, validation 0"):
        prepare_dataset(no_val, _config())


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    from manifests.layout import Layout

    with pytest.raises(UserError, match=r"manifests/training\.csv not found: run make manifest first"):
        read_manifest(Layout.at(tmp_path))


def test_training_crops_are_in_bounds_seeded_and_new_each_epoch(corpus) -> None:
    _, rows, cache = corpus
    config = _config()
    config.augment.enabled = False
    data = prepare_dataset(rows, config)
    seq = TrainCrops(cache, data.train, config, class_weights=data.class_weights())
    assert len(seq) == 12 * 3 // 4
    crop = config.features.crop_samples
    tracks, starts, read_len = seq.plan(0)
    lengths = seq.lengths[tracks]
    assert np.all(starts >= 0) and np.all(read_len == crop)
    assert np.all((starts + read_len <= lengths) | (starts == 0))  # a short track is read from 0 and padded
    assert np.bincount(tracks).tolist() == [3] * 12  # every track crops_per_track times
    x, y, w = seq[0]
    assert x.shape == (4, crop) and x.dtype == np.float32 and y.shape == (4, 3) and w.shape == (4,)
    for j in range(4):  # without augmentation a crop is exactly the cached samples
        track_id = data.train.track_ids[tracks[j]]
        source = cache.int16(track_id)[starts[j]: starts[j] + crop] / 32768.0
        np.testing.assert_array_equal(x[j, : source.size], source.astype(np.float32))
        assert np.all(x[j, source.size:] == 0)
    first = [seq[i][0] for i in range(len(seq))]
    seq.epoch = 1  # the trainer moves the sequence to the next epoch
    second = [seq[i][0] for i in range(len(seq))]
    assert not np.array_equal(first[0], second[0])
    replay = TrainCrops(cache, data.train, config, class_weights=data.class_weights())
    np.testing.assert_array_equal(replay[2][0], first[2])  # same seed, same epoch: same crops
    other = _config(seed=99)
    other.augment.enabled = False
    assert not np.array_equal(TrainCrops(cache, data.train, other)[0][0], first[0])


def test_balanced_sampling_and_class_weights(corpus) -> None:
    _, rows, cache = corpus
    skewed = [r for r in rows if not (r["top_genre"] == "metal" and r["split"] == "train"
                                      and r["track_id"] > "tmet002")]
    config = _config(balance="sampling", crops_per_track=200)
    data = prepare_dataset(skewed, config)
    assert np.bincount(data.train.primary).tolist() == [4, 4, 2]
    tracks, _, _ = TrainCrops(cache, data.train, config).plan(0)
    share = np.bincount(data.train.primary[tracks]) / tracks.size
    np.testing.assert_allclose(share, 1 / 3, atol=0.04)  # each genre a third of the crops
    weights = data.class_weights()
    assert weights[2] == pytest.approx(2 * weights[0]) and np.dot(weights, [4, 4, 2]) == pytest.approx(10)


def test_validation_crops_are_fixed_and_evenly_spaced(corpus) -> None:
    _, rows, cache = corpus
    config = _config(val_crops_per_track=3)
    data = prepare_dataset(rows, config)
    seq = FixedCrops(cache, data.validation, config)
    assert len(seq.crop_track) == 6 * 3 and np.bincount(seq.crop_track).tolist() == [3] * 6
    length = cache.length(data.validation.track_ids[0])
    assert seq.crop_start[:3].tolist() == [0, (length - SR) // 2, length - SR]
    np.testing.assert_array_equal(seq[1][0], FixedCrops(cache, data.validation, config)[1][0])


# ---------------------------------------------------------------- augmentations

def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * SR / x.size)


def test_time_stretch_changes_speed_by_the_rate(corpus) -> None:
    _, _, cache = corpus
    t = np.arange(2 * SR) / SR
    sine = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    stretched = resample_to(sine[: int(SR * 1.04)], SR)
    assert stretched.shape == (SR,)
    assert _peak_hz(stretched) == pytest.approx(1040, abs=2)
    assert _peak_hz(resample_to(sine[: int(SR * 0.96)], SR)) == pytest.approx(960, abs=2)
    track = cache.track_ids[1]
    np.testing.assert_array_equal(read_crop(cache, track, 10, SR, SR), cache.wave(track)[10: 10 + SR])


@pytest.mark.parametrize("read_len", [int(SR * 1.04), int(SR * 0.96)])
def test_stretched_crop_from_the_cache_is_linear_interpolation_of_the_track(corpus, read_len) -> None:
    """The fast int16 path equals np.interp on the decoded track, also where the crop runs past its end."""
    _, _, cache = corpus
    track = cache.track_ids[1]
    wave = cache.wave(track)
    padded = np.concatenate([wave, np.zeros(read_len + 1, np.float32)])
    for start in (0, 1234, wave.size - read_len // 2):  # inside, inside, half past the end
        expected = np.interp(np.arange(SR) * (read_len / SR), np.arange(padded.size - start), padded[start:])
        got = read_crop(cache, track, start, read_len, SR)
        assert got.dtype == np.float32 and got.shape == (SR,)
        np.testing.assert_allclose(got, expected, atol=2e-6)


def test_noise_is_added_to_the_waveform_before_the_log() -> None:
    pytest.importorskip("keras")
    from training.models.features import LogMel

    t = np.arange(SR) / SR
    clean = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None].repeat(2, axis=0)
    noisy = add_noise(clean.copy(), AugmentConfig(noise_prob=1.0, noise_snr_db=(30.0, 30.0)),
                      np.random.default_rng(0))
    noise = noisy - clean
    snr = 10 * np.log10(np.mean(clean**2) / np.mean(noise**2, axis=1))
    np.testing.assert_allclose(snr, 30.0, atol=0.3)
    assert not np.allclose(noise[0], noise[1])
    layer = LogMel(n_mels=64, standardize=False)
    before = np.asarray(layer(clean[:1]))[0].mean(axis=0)
    after = np.asarray(layer(noisy[:1]))[0].mean(axis=0)
    rise = after - before
    loud = int(np.argmax(before))
    assert abs(rise[loud]) < 0.5  # the band holding the tone barely moves ...
    assert rise[-8:].min() > 30  # ... while empty bands fill with noise: power adds before the log
    off = add_noise(clean.copy(), AugmentConfig(enabled=False, noise_prob=1.0), np.random.default_rng(0))
    np.testing.assert_array_equal(off, clean)


def test_mixup_mixes_crops_and_targets_alike() -> None:
    rng = np.random.default_rng(1)
    x = np.stack([np.full(8, 1.0), np.full(8, -1.0), np.full(8, 0.5)]).astype(np.float32)
    y = np.eye(3, dtype=np.float32)
    mx, my, _ = mixup(x, y, None, 0.4, rng)
    np.testing.assert_allclose(my.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(my.max(axis=1) >= 0.5)
    lam = my.max(axis=1)
    partner_value = (mx[:, 0] - lam * x[:, 0]) / np.maximum(1 - lam, 1e-6)
    assert np.all(np.isclose(partner_value[:, None], x[:, 0][None], atol=1e-4).any(axis=1) | (lam > 0.999))
    np.testing.assert_allclose(mx, mx[:, :1].repeat(8, axis=1), rtol=1e-6)  # every sample mixed alike
    same = mixup(x, y, None, 0.0, rng)
    assert same[0] is x and same[1] is y


class _SlowBatches:
    """A batch sequence that records which batches were made and by which threads."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.made: list[int] = []
        self.threads: set[threading.Thread] = set()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        self.threads.add(threading.current_thread())
        time.sleep(0.01)
        self.made.append(index)
        return (np.full(2, index),)


def test_prefetch_gives_every_batch_in_order_whatever_the_threads() -> None:
    for workers in (1, 3):
        seq = _SlowBatches(7)
        assert [int(b[0][0]) for b in prefetch(seq, workers)] == list(range(7))


def test_prefetch_stopped_early_cancels_the_batches_ahead_and_ends_its_threads() -> None:
    seq = _SlowBatches(50)
    batches = prefetch(seq, 2)
    assert int(next(batches)[0][0]) == 0
    batches.close()  # what the trainer does when its epoch loop is left by an exception or Ctrl-C
    assert len(seq.made) <= 4, seq.made  # the batch in hand plus the ones already being made
    assert seq.threads and not any(thread.is_alive() for thread in seq.threads)
