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
from types import SimpleNamespace

import numpy as np

from ..config import AugmentConfig

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


def resample_to(segment: np.ndarray, n_out: int, *, n_in: int | None = None, scale: float = 1.0,
                out: np.ndarray | None = None) -> np.ndarray:
    """Linear resampling of ``n_in`` samples of ``segment`` onto ``n_out`` float32 samples, times ``scale``.

    Playing ``n_in`` samples in ``n_out`` slots changes speed by ``n_in / n_out``: a sine's
    frequency and a beat's tempo are both multiplied by that ratio.  ``segment`` may be int16
    (straight from the cache, ``scale=1/32768``) and may hold one sample more than ``n_in``, the
    one that follows, so the last output sample interpolates towards it instead of repeating.
    Written into ``out`` when given (a row of the batch), to save a copy.
    """
    n_in = segment.shape[0] if n_in is None else n_in
    if not 0 < n_in <= segment.shape[0]:
        raise ValueError(f"n_in {n_in}: must be between 1 and the segment length {segment.shape[0]}")
    if out is None:
        out = np.empty(n_out, dtype=np.float32)
    if n_in == n_out:
        np.multiply(segment[:n_out], np.float32(scale), out=out, casting="unsafe")
        return out
    bounds, offsets, frac = _interp_plan(n_in, n_out)
    _kernels().lerp(np.asarray(segment), bounds, offsets, frac, np.float32(scale), out)
    return out


@lru_cache(maxsize=64)
def _interp_plan(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear resampling as runs of output samples whose left neighbour is ``i + offset``.

    Output sample ``i`` lies between input samples ``left = floor(i * n_in / n_out)`` and
    ``left + 1`` at ``frac``.  For a rate near 1, ``left - i`` stays constant for tens of
    samples, so each run reads its input contiguously (vectorised) instead of gathering.
    Rates come from a small grid, so plans are reused.
    """
    positions = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    left = positions.astype(np.intp)
    frac = (positions - left).astype(np.float32)
    offset = left - np.arange(n_out, dtype=np.intp)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(offset)) + 1, [n_out]]).astype(np.intp)
    return bounds, offset[bounds[:-1]].copy(), frac


@lru_cache(maxsize=1)
def _kernels() -> SimpleNamespace:
    """The per-sample loops compiled with numba (a librosa dependency), built on first use.

    Each is one pass over the data without the GIL, several times faster than the numpy
    expressions they replace (gathers, temporaries, several passes over a batch bigger than the
    CPU caches), and the loader threads run them side by side.
    """
    import numba

    @numba.njit(nogil=True, cache=True)
    def lerp(src: np.ndarray, bounds: np.ndarray, offsets: np.ndarray, frac: np.ndarray, scale: float,
             out: np.ndarray) -> None:  # pragma: no cover - compiled; tested via resample_to
        last = src.shape[0] - 1
        for r in range(offsets.shape[0]):
            start, stop, offset = bounds[r], bounds[r + 1], offsets[r]
            if stop + offset > last:  # the segment's end: clamp the right neighbour
                for i in range(start, stop):
                    a = np.float32(src[i + offset])
                    b = np.float32(src[min(i + offset + 1, last)])
                    out[i] = (a + frac[i] * (b - a)) * scale
                continue
            # slices indexed from 0 by the loop counter: no negative-index checks, so LLVM vectorises
            seg, fr, dst = src[start + offset: stop + offset + 1], frac[start:stop], out[start:stop]
            for k in range(stop - start):
                a = np.float32(seg[k])
                b = np.float32(seg[k + 1])
                dst[k] = (a + fr[k] * (b - a)) * scale

    @numba.njit(nogil=True, cache=True)
    def mix(x: np.ndarray, partner: np.ndarray, lam: np.ndarray,
            out: np.ndarray) -> None:  # pragma: no cover - compiled; tested through mixup
        for i in range(x.shape[0]):
            a = lam[i]
            b = np.float32(1.0) - a
            p = partner[i]
            for j in range(x.shape[1]):
                out[i, j] = a * x[i, j] + b * x[p, j]

    return SimpleNamespace(lerp=lerp, mix=mix)


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
    n = batch.shape[1]
    # a BLAS dot per row: no float64 copy of the chosen rows (that copy cost more than the noise)
    rms = np.sqrt(np.array([np.dot(batch[row], batch[row]) for row in chosen], dtype=np.float64) / n)
    scale = (np.maximum(rms, 1e-3) / (10.0 ** (snr / 20.0))).astype(np.float32)
    table = _noise_table()
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
    lam = np.asarray(rng.beta(alpha, alpha, x.shape[0]), dtype=np.float32)
    lam = np.maximum(lam, 1.0 - lam)  # the crop keeps its own identity as the larger part
    partner = rng.permutation(x.shape[0])
    x = np.ascontiguousarray(x, dtype=np.float32)
    mixed = np.empty_like(x)
    _kernels().mix(x, partner, lam, mixed)  # one pass; numpy needed four over a batch of several MB
    x = mixed
    y = (lam[:, None] * y + (1.0 - lam[:, None]) * y[partner]).astype(np.float32)
    if weights is not None:
        weights = (lam * weights + (1.0 - lam) * weights[partner]).astype(np.float32)
    return x, y, weights
