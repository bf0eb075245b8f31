"""Waveform augmentations done in numpy on each training crop, cheap enough not to slow training.

The seeds argue for label-preserving changes a listener would still file under
the same genre: a few percent of tempo, a little noise, and (in the model's
front end, :meth:`training.features.LogMel.shifted_filterbanks`) a pitch shift
in whole semitones that keeps the tempo.  Reverb, compression and distortion
are deliberately absent: they change production style, which is part of genre.

* time stretch: the crop is read ``rate`` times longer (or shorter) from the
  track and linearly resampled to the crop length, a speed change of a few
  percent (tempo and pitch move together by ``rate``: 4 % is 0.7 semitone).
* noise: white Gaussian noise at an SNR drawn per crop, added to the waveform,
  so it mixes with the music in the linear power domain before the log.
* mixup (optional): convex mixes of two crops and of their targets.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import AugmentConfig

#: time-stretch rates are drawn on a grid of this step (0.5 %), so resampling plans can be reused
STRETCH_STEP = 0.005


def stretch_rates(n: int, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Per crop, the read-length ratio: 1, or with ``stretch_prob`` a value in [1 - s, 1 + s] (0.5 % steps)."""
    rates = np.ones(n)
    if not config.enabled or config.time_stretch <= 0 or config.stretch_prob <= 0:
        return rates
    chosen = rng.random(n) < config.stretch_prob
    steps = int(round(config.time_stretch / STRETCH_STEP))
    rates[chosen] = 1.0 + STRETCH_STEP * rng.integers(-steps, steps + 1, int(chosen.sum()))
    return rates


def resample_to(segment: np.ndarray, n_out: int) -> np.ndarray:
    """Linear resampling of ``segment`` onto ``n_out`` samples spanning the same stretch of audio.

    Playing ``n_in`` samples in ``n_out`` slots changes speed by ``n_in / n_out``: a sine's
    frequency and a beat's tempo are both multiplied by that ratio.
    """
    n_in = segment.shape[0]
    if n_in == n_out:
        return segment.astype(np.float32, copy=False)
    segment = np.asarray(segment, dtype=np.float32)
    left, right, frac = _interp_plan(n_in, n_out)
    out = segment[left]
    out += frac * (segment[right] - out)  # np.interp's result, in float32, several times faster
    return out


@lru_cache(maxsize=64)
def _interp_plan(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of a linear resampling; rates come from a small grid, so they are reused."""
    positions = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    left = positions.astype(np.int32)
    frac = (positions - left).astype(np.float32)
    return left, np.minimum(left + 1, n_in - 1).astype(np.int32), frac


def add_noise(batch: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Add white noise to each chosen crop at an SNR in ``noise_snr_db`` (relative to its own RMS).

    The noise is added to the waveform, so the model's log-mel sees music plus noise mixed in
    the power domain (never a constant added after the log).  Silent crops get noise at the
    chosen SNR below -60 dBFS, so they are not left as digital silence either.
    """
    if not config.enabled or config.noise_prob <= 0:
        return batch
    chosen = np.flatnonzero(rng.random(batch.shape[0]) < config.noise_prob)
    if chosen.size == 0:
        return batch
    low, high = config.noise_snr_db
    snr = rng.uniform(low, high, chosen.size)
    rms = np.sqrt(np.mean(np.square(batch[chosen], dtype=np.float64), axis=1))
    scale = (np.maximum(rms, 1e-3) / (10.0 ** (snr / 20.0))).astype(np.float32)
    table = _noise_table()
    n = batch.shape[1]
    starts = rng.integers(0, table.size - n, chosen.size)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), chosen.size)
    for row, start, gain in zip(chosen, starts, scale * signs, strict=True):
        batch[row] += gain * table[start: start + n]
    return batch


_NOISE: list[np.ndarray] = []


def _noise_table() -> np.ndarray:
    """Four million unit Gaussian samples, drawn once: a random window of them is white noise for a
    crop at a fraction of the cost of drawing new samples for every crop."""
    if not _NOISE:
        _NOISE.append(np.random.default_rng(20200).standard_normal(1 << 22, dtype=np.float32))
    return _NOISE[0]


def mixup(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, alpha: float,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mix each crop with a random partner of the batch: ``lam * a + (1 - lam) * b``, lam ~ Beta(alpha, alpha)."""
    if alpha <= 0 or x.shape[0] < 2:
        return x, y, weights
    lam = rng.beta(alpha, alpha, x.shape[0]).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)  # the crop keeps its own identity as the larger part
    partner = rng.permutation(x.shape[0])
    other = x[partner]
    x = x.astype(np.float32, copy=False)  # in place below: a batch is large, passes over it are not free
    x *= lam[:, None]
    other *= (1.0 - lam)[:, None]
    x += other
    y = (lam[:, None] * y + (1.0 - lam[:, None]) * y[partner]).astype(np.float32)
    if weights is not None:
        weights = (lam * weights + (1.0 - lam) * weights[partner]).astype(np.float32)
    return x, y, weights
