"""Crops of a track: evenly spaced ones over a whole song, and random or stretched ones out of the cache.

Numpy only, shared by training (the sequences), evaluation and predict (the bundle), so a
crop is cut and padded the same way everywhere: a track shorter than a crop is zero-padded
at the end.
"""

from __future__ import annotations

import math

import numpy as np

from .augment import resample_to
from .cache import AudioCache


def pad_to(wave: np.ndarray, n_samples: int) -> np.ndarray:
    """A track shorter than a crop is zero-padded at the end (the same in training and predict)."""
    if wave.shape[-1] >= n_samples:
        return wave
    out = np.zeros(wave.shape[:-1] + (n_samples,), dtype=wave.dtype)
    out[..., : wave.shape[-1]] = wave
    return out


def song_crop_starts(n_samples: int, crop_samples: int, n_crops: int | None = None) -> np.ndarray:
    """Start samples of evenly spaced crops covering the whole track, first at 0, last at the end.

    ``n_crops`` defaults to ceil(duration / crop), so every sample is seen at least once.
    """
    if n_samples <= crop_samples:
        return np.zeros(1 if n_crops is None else max(1, n_crops), dtype=np.int64)
    if n_crops is None:
        n_crops = math.ceil(n_samples / crop_samples)
    n_crops = max(1, int(n_crops))
    if n_crops == 1:
        return np.array([(n_samples - crop_samples) // 2], dtype=np.int64)
    return np.round(np.linspace(0, n_samples - crop_samples, n_crops)).astype(np.int64)


def song_crops(wave: np.ndarray, crop_samples: int, n_crops: int | None = None) -> np.ndarray:
    """``[n, crop_samples]`` float32 crops of one track (see :func:`song_crop_starts`)."""
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform (1-D), got shape {wave.shape}")
    if wave.dtype == np.int16:
        wave = wave.astype(np.float32) / 32768.0
    wave = pad_to(wave.astype(np.float32, copy=False), crop_samples)
    starts = song_crop_starts(wave.shape[0], crop_samples, n_crops)
    return np.stack([wave[s: s + crop_samples] for s in starts]).astype(np.float32, copy=False)


def read_crop(cache: AudioCache, track_id: str, start: int, read_len: int, crop_samples: int,
              out: np.ndarray | None = None) -> np.ndarray:
    """``read_len`` samples from ``start`` (zero-padded past the end), resampled to ``crop_samples``.

    Written into ``out`` (a row of the batch) when given, to save a copy.  A stretched crop is
    interpolated straight from the int16 cache, with the sample after it as the last neighbour.
    """
    offset, length, _ = cache.entries[track_id]
    if out is None:
        out = np.empty(crop_samples, dtype=np.float32)
    if read_len != crop_samples:
        wanted = read_len + 1  # the crop and the sample that follows it
        stop = min(start + wanted, length)
        segment = cache.samples[offset + start: offset + stop]
        if stop - start < wanted:  # runs past the track's end: pad with silence
            padded = np.zeros(wanted, dtype=cache.samples.dtype)
            padded[: max(stop - start, 0)] = segment
            segment = padded
        return resample_to(segment, crop_samples, n_in=read_len, scale=1.0 / 32768.0, out=out)
    stop = min(start + read_len, length)
    n = max(stop - start, 0)
    out[:n] = cache.samples[offset + start: offset + stop]
    out[:n] *= 1.0 / 32768.0
    out[n:] = 0.0
    return out
