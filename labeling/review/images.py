"""A track's picture for the review page: its waveform above its log-mel spectrogram, as a PNG.

Why server-side and numpy/scipy only: the page must show what the model will hear without a
JavaScript audio library, and the labeling layer may not import the training stack (librosa,
TensorFlow). The mel filterbank is the usual HTK one, built here in a few lines. A picture is
rendered once per audio file and kept under ``DATA/cache/review/`` (named after the file's
modification time and size, so new audio gets a new picture).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from manifests.io import atomic_write_bytes

log = logging.getLogger(__name__)

N_FFT = 1024
N_MELS = 64
F_MIN = 30.0
WIDTH_PX, HEIGHT_PX, DPI = 1100, 320, 100


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples in [-1, 1] and the sample rate of a WAV file."""
    from scipy.io import wavfile

    rate, data = wavfile.read(path, mmap=False)
    samples = np.asarray(data)
    if samples.dtype.kind in "iu":
        info = np.iinfo(samples.dtype)
        samples = (samples.astype(np.float32) - (info.max + info.min + 1) / 2) / (info.max + 1)
    samples = samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return samples, int(rate)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=float) / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS, f_min: float = F_MIN) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, evenly spaced on the mel scale."""
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    return np.asarray(np.maximum(0.0, np.minimum(rising, falling)))


def log_mel(samples: np.ndarray, rate: int, n_fft: int = N_FFT, frames: int = 1200) -> np.ndarray:
    """(n_mels, columns) log-mel power in dB; the hop grows with the track so columns stay <= ``frames``."""
    if samples.size < n_fft:
        samples = np.pad(samples, (0, n_fft - samples.size))
    hop = max(n_fft // 4, int(np.ceil(samples.size / frames)))
    starts = np.arange(0, samples.size - n_fft + 1, hop)
    window = np.hanning(n_fft).astype(np.float32)
    framed = samples[starts[:, None] + np.arange(n_fft)[None, :]] * window
    power = np.abs(np.fft.rfft(framed, axis=1).T) ** 2
    mel = mel_filterbank(rate, n_fft) @ power
    return np.asarray(10.0 * np.log10(np.maximum(mel, 1e-10)))


def render_png(path: Path) -> bytes:
    """The waveform and log-mel spectrogram of a WAV file as PNG bytes."""
    from matplotlib.figure import Figure

    samples, rate = read_wav(path)
    seconds = samples.size / rate if rate else 0.0
    mel = log_mel(samples, rate)
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    wave_ax, mel_ax = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 3]})
    columns = 1000
    if samples.size:
        chunks = np.array_split(samples, min(columns, samples.size))
        times = np.linspace(0, seconds, len(chunks))
        wave_ax.fill_between(times, [c.min() for c in chunks], [c.max() for c in chunks],
                             color="#4C72B0", linewidth=0)
    wave_ax.set_ylim(-1, 1)
    wave_ax.set_yticks([])
    wave_ax.set_ylabel("wave", fontsize=8)
    top = float(mel.max()) if mel.size else 0.0
    mel_ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                  extent=(0, max(seconds, 1e-6), 0, mel.shape[0]), interpolation="nearest")
    mel_ax.set_ylabel("mel band", fontsize=8)
    mel_ax.set_xlabel("seconds", fontsize=8)
    mel_ax.tick_params(labelsize=7)
    figure.subplots_adjust(left=0.05, right=0.99, top=0.97, bottom=0.14, hspace=0.05)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def cached_png(audio: Path, cache: Path, track_id: str) -> Path:
    """The picture of ``audio``, rendered once and kept in ``cache``."""
    st = audio.stat()
    target = cache / f"{track_id}-{st.st_mtime_ns}-{st.st_size}.png"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob(f"{track_id}-*.png"):  # pictures of audio since replaced
            old.unlink(missing_ok=True)
        atomic_write_bytes(target, render_png(audio))
        log.debug("review: rendered %s", target)
    return target
