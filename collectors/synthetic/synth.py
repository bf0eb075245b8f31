"""Numpy DSP building blocks for the synthetic corpus: oscillators, envelopes, filters, effects.

Everything works on whole float64 buffers at once (no per-sample Python loops), because the
demo corpus must render hours of audio in seconds.  Filters are applied in the frequency
domain (one FFT per layer); time-varying brightness is a cross-fade between a dark and a
bright copy of the same layer, which sounds like a filter envelope at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

#: One buffer of samples (float64 everywhere in the generator).
Signal = npt.NDArray[np.float64]
#: A magnitude curve: frequencies in Hz -> gain per frequency.
Curve = Callable[[Signal], Signal]

SR = 16000
TWO_PI = 2.0 * np.pi


def next_fast_len(n: int) -> int:
    """Smallest 2-3-5-smooth length >= n: FFTs of these sizes are fast in pocketfft."""
    best = 1 << max(0, (n - 1).bit_length())
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            size = f35
            while size < n:
                size *= 2
            best = min(best, size)
            f35 *= 3
        f5 *= 5
    return best


def seconds(n: int, sr: int = SR) -> Signal:
    return np.arange(n) / sr


def phase(freq: float | Signal, n: int, sr: int = SR, start: float = 0.0) -> Signal:
    """Phase in cycles (not wrapped) for a constant or per-sample frequency."""
    if isinstance(freq, np.ndarray):
        return start + np.cumsum(np.asarray(freq, dtype=np.float64)) / sr
    steps = np.arange(n, dtype=np.float64) * (float(freq) / sr)
    return start + steps


def sine(freq: float | Signal, n: int, sr: int = SR, start: float = 0.0) -> Signal:
    return np.sin(TWO_PI * phase(freq, n, sr, start))


def _poly_blep(t: Signal, dt: Signal | float) -> Signal:
    """Band-limiting correction near a waveform's jumps (PolyBLEP), vectorised."""
    out = np.zeros_like(t)
    dt = np.broadcast_to(dt, t.shape)
    lo = t < dt
    x = t[lo] / dt[lo]
    out[lo] = 2 * x - x * x - 1
    hi = t > 1 - dt
    x = (t[hi] - 1) / dt[hi]
    out[hi] = x * x + 2 * x + 1
    return out


def saw(freq: float | Signal, n: int, sr: int = SR, start: float = 0.0) -> Signal:
    """Band-limited sawtooth in [-1, 1]."""
    ph = phase(freq, n, sr, start)
    t = ph - np.floor(ph)
    dt = np.abs(np.asarray(freq, dtype=np.float64)) / sr
    dt = np.clip(dt, 1e-6, 0.5)
    return 2 * t - 1 - _poly_blep(t, dt)


def square(freq: float | Signal, n: int, sr: int = SR, start: float = 0.0, width: float = 0.5) -> Signal:
    """Band-limited pulse wave with duty cycle ``width``."""
    ph = phase(freq, n, sr, start)
    t = ph - np.floor(ph)
    dt = np.clip(np.abs(np.asarray(freq, dtype=np.float64)) / sr, 1e-6, 0.5)
    out = np.where(t < width, 1.0, -1.0)
    out += _poly_blep(t, dt)
    t2 = t + (1 - width)
    t2 -= np.floor(t2)
    out -= _poly_blep(t2, dt)
    return out


def triangle(freq: float, n: int, sr: int = SR, start: float = 0.0) -> Signal:
    ph = phase(freq, n, sr, start)
    t = ph - np.floor(ph)
    return 4 * np.abs(t - 0.5) - 1


def white(n: int, rng: np.random.Generator) -> Signal:
    return rng.standard_normal(n)


def shaped_noise(n: int, rng: np.random.Generator, curve_fn: Curve | None = None, sr: int = SR) -> Signal:
    """Gaussian noise with the magnitude spectrum ``curve_fn(freqs)``, made in one inverse FFT, unit RMS."""
    if n == 0:
        return np.zeros(0)
    size = next_fast_len(n)
    f = freq_axis(size, sr)
    spec = rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))
    if curve_fn is not None:
        spec *= curve_fn(f)
    spec[0] = 0.0
    out: Signal = np.fft.irfft(spec, size)[:n]
    unit: Signal = out / (np.sqrt(np.mean(out ** 2)) + 1e-12)
    return unit


def pink_curve(f: Signal) -> Signal:
    return 1.0 / np.sqrt(np.maximum(f, 20.0))


def pink(n: int, rng: np.random.Generator, sr: int = SR) -> Signal:
    """1/f noise (equal energy per octave), unit RMS."""
    return shaped_noise(n, rng, pink_curve, sr)


# ---------------------------------------------------------------- envelopes

def exp_decay(n: int, tau: float, sr: int = SR) -> Signal:
    """exp(-t / tau), tau in seconds."""
    return np.exp(-seconds(n, sr) / max(tau, 1e-4))


def adsr(n: int, attack: float, decay: float, sustain: float, release: float, sr: int = SR,
         hold_n: int | None = None) -> Signal:
    """Attack-decay-sustain-release envelope over ``n`` samples; release starts at ``hold_n``."""
    hold_n = n if hold_n is None else min(hold_n, n)
    t = seconds(n, sr)
    a = max(attack, 1e-4)
    env = np.where(t < a, t / a, sustain + (1 - sustain) * np.exp(-(t - a) / max(decay, 1e-4)))
    if hold_n < n:
        level = env[hold_n - 1] if hold_n > 0 else 0.0
        tail = t[hold_n:] - t[hold_n] if hold_n < n else t[:0]
        env[hold_n:] = level * np.exp(-tail / max(release, 1e-4))
    else:
        # fade the last few ms so no note ends with a click
        fade = min(n, int(0.005 * sr))
        if fade:
            env[-fade:] *= np.linspace(1, 0, fade)
    return env


# ---------------------------------------------------------------- frequency-domain filters

def freq_axis(n: int, sr: int = SR) -> Signal:
    return np.fft.rfftfreq(n, 1 / sr).astype(np.float64, copy=False)


def lowpass_curve(f: Signal, cutoff: float, order: float = 2.0, resonance: float = 0.0) -> Signal:
    """Magnitude of a Butterworth-like low-pass with an optional resonant bump at the cutoff."""
    g = 1.0 / np.sqrt(1.0 + (f / max(cutoff, 1.0)) ** (2 * order))
    if resonance > 0:
        g = g * (1 + resonance * np.exp(-0.5 * ((f - cutoff) / (0.15 * cutoff + 1)) ** 2))
    return g


def highpass_curve(f: Signal, cutoff: float, order: float = 2.0) -> Signal:
    with np.errstate(divide="ignore"):
        ratio = np.where(f > 0, max(cutoff, 1.0) / np.maximum(f, 1e-9), np.inf)
    return 1.0 / np.sqrt(1.0 + ratio ** (2 * order))


def bandpass_curve(f: Signal, low: float, high: float, order: float = 2.0) -> Signal:
    return highpass_curve(f, low, order) * lowpass_curve(f, high, order)


def peak_curve(f: Signal, centre: float, gain_db: float, octaves: float = 1.0) -> Signal:
    """A bell boost or cut of ``gain_db`` around ``centre`` with a width in octaves."""
    dist = np.log2(np.maximum(f, 1.0) / centre) / max(octaves, 0.05)
    return 10 ** (gain_db * np.exp(-0.5 * dist ** 2) / 20)


def tilt_curve(f: Signal, db_per_octave: float, pivot: float = 1000.0) -> Signal:
    """Spectral tilt: brighter (positive) or darker (negative) by ``db_per_octave`` around ``pivot``."""
    octs = np.log2(np.clip(f, 40.0, None) / pivot)
    return 10 ** (db_per_octave * octs / 20)


def apply_curve(x: Signal, curve_fn: Curve, sr: int = SR) -> Signal:
    """Filter ``x`` by a zero-phase magnitude curve ``curve_fn(freqs)`` (one FFT round trip)."""
    n = len(x)
    if n == 0:
        return x
    size = next_fast_len(n)
    spec = np.fft.rfft(x, size)
    spec *= curve_fn(freq_axis(size, sr))
    out: Signal = np.fft.irfft(spec, size)[:n]
    return out


def lowpass(x: Signal, cutoff: float, order: float = 2.0, resonance: float = 0.0) -> Signal:
    return apply_curve(x, lambda f: lowpass_curve(f, cutoff, order, resonance))


def highpass(x: Signal, cutoff: float, order: float = 2.0) -> Signal:
    return apply_curve(x, lambda f: highpass_curve(f, cutoff, order))


def bandpass(x: Signal, low: float, high: float, order: float = 2.0) -> Signal:
    return apply_curve(x, lambda f: bandpass_curve(f, low, high, order))


def convolve(x: Signal, ir: Signal) -> Signal:
    """Linear convolution via FFT, trimmed to ``len(x)``."""
    size = next_fast_len(len(x) + len(ir) - 1)
    out: Signal = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)
    return out[:len(x)]


# ---------------------------------------------------------------- effects

def saturate(x: Signal, drive: float) -> Signal:
    """Soft clipping; ``drive`` 1 is gentle warmth, 10+ is a fuzz."""
    if drive <= 0:
        return x
    shaped: Signal = np.tanh(drive * x) / np.tanh(drive)
    return shaped


def room_ir(rng: np.random.Generator, rt60: float, damping: float, sr: int = SR,
            predelay: float = 0.01) -> Signal:
    """A synthetic reverb impulse response: decaying noise that darkens as it decays."""
    n = int(sr * min(max(rt60, 0.1), 3.0)) + int(sr * predelay)
    t = seconds(n, sr)
    noise = rng.standard_normal(n)
    bright = noise * np.exp(-6.9 * t / (rt60 * (1 - 0.6 * damping)))
    dark = lowpass(noise, 1500.0, 1.0) * np.exp(-6.9 * t / rt60)
    ir = bright + dark
    ir[: int(sr * predelay)] = 0.0
    unit: Signal = ir / (np.sqrt(np.sum(ir ** 2)) + 1e-12)
    return unit


def reverb(x: Signal, ir: Signal, wet: float) -> Signal:
    """Mix a convolution reverb in; ``wet`` in [0, 1] keeps loudness roughly constant."""
    if wet <= 0:
        return x
    tail = convolve(x, ir)
    mixed: Signal = np.sqrt(1 - wet) * x + np.sqrt(wet) * tail
    return mixed


def compress(x: Signal, threshold_db: float, ratio: float, window_s: float = 0.02, sr: int = SR) -> Signal:
    """Feed-forward RMS compressor: the 'energy' knob of a mix (louder, flatter, denser).

    The level is measured on 5 ms blocks and the gain interpolated back to samples, which
    is as good as per-sample for a mix bus and many times faster.
    """
    if ratio <= 1 or len(x) == 0:
        return x
    block = max(1, int(0.005 * sr))
    nb = -(-len(x) // block)
    padded = np.zeros(nb * block)
    padded[: len(x)] = x
    power = np.mean(padded.reshape(nb, block) ** 2, axis=1)
    width = max(1, int(round(window_s * sr / block)))
    kernel = np.ones(width) / width
    power = np.convolve(power, kernel, mode="same")
    level_db = 10 * np.log10(power + 1e-12)
    gain_db = -np.maximum(level_db - threshold_db, 0.0) * (1 - 1 / ratio)
    gain_db = np.convolve(gain_db, np.ones(3) / 3, mode="same")
    centres = (np.arange(nb) + 0.5) * block
    gained: Signal = x * 10 ** (np.interp(np.arange(len(x)), centres, gain_db) / 20)
    return gained


def normalize_peak(x: Signal, peak: float = 0.9) -> Signal:
    m = np.max(np.abs(x)) if len(x) else 0.0
    return x if m < 1e-12 else x * (peak / m)


def rms(x: Signal) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def add_at(buffer: Signal, sound: Signal, start: int, gain: float = 1.0) -> None:
    """Mix ``sound`` into ``buffer`` at sample ``start`` (clipped to the buffer)."""
    if start >= len(buffer) or gain == 0:
        return
    if start < 0:
        sound = sound[-start:]
        start = 0
    end = min(len(buffer), start + len(sound))
    if end > start:
        buffer[start:end] += gain * sound[: end - start]


def midi_to_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)
