"""Instrument voices: drum one-shots, bass notes and chord notes, each a numpy buffer.

A voice is a pure function of its parameters and a random generator, so a track renders
the same way every time.  Parameters that make an artist's sound recognisable (kick pitch,
snare tone, hat brightness, detune, drive) come in through :class:`Kit` and ``tone``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import synth as s
from .synth import SR, Signal


@dataclass(frozen=True)
class Kit:
    """A drum kit's sound: one per artist, so an artist's tracks share their drums."""

    style: str = "electronic"  # electronic, acoustic, brush
    kick_pitch: float = 52.0  # Hz the kick settles on
    kick_sweep: float = 3.0  # start pitch as a multiple of the end pitch
    kick_decay: float = 0.3  # seconds
    kick_click: float = 0.2
    kick_drive: float = 1.0
    snare_tone: float = 190.0
    snare_decay: float = 0.16
    snare_tone_mix: float = 0.4
    snare_bright: float = 5000.0
    hat_decay: float = 0.045
    hat_open_decay: float = 0.3
    hat_cut: float = 5500.0
    hat_metal: float = 0.5
    ride_decay: float = 1.0
    clap_tone: float = 1400.0


# ---------------------------------------------------------------- drums

def kick(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * min(kit.kick_decay * 4, 1.2))
    t = s.seconds(n)
    freq = kit.kick_pitch * (1 + (kit.kick_sweep - 1) * np.exp(-t / 0.035))
    body = s.sine(freq, n) * s.exp_decay(n, kit.kick_decay)
    click = s.highpass(s.white(n, rng), 1500) * s.exp_decay(n, 0.004) * kit.kick_click
    if kit.style == "acoustic":  # beater and shell resonance
        click = click * 2 + s.bandpass(s.white(n, rng), 300, 1200) * s.exp_decay(n, 0.03) * 0.4
    out = s.saturate(body + click, kit.kick_drive) if kit.kick_drive > 0 else body + click
    return out


def snare(kit: Kit, rng: np.random.Generator) -> Signal:
    decay = kit.snare_decay * (1.5 if kit.style == "acoustic" else 1.0)
    n = int(SR * min(decay * 5, 1.0))
    tone = (s.sine(kit.snare_tone, n) + 0.5 * s.sine(kit.snare_tone * 1.62, n)) * s.exp_decay(n, 0.06)
    noise = s.bandpass(s.white(n, rng), 900, kit.snare_bright) * s.exp_decay(n, decay)
    noise /= s.rms(noise[: int(0.05 * SR)]) + 1e-9
    tone /= s.rms(tone[: int(0.05 * SR)]) + 1e-9
    return kit.snare_tone_mix * tone + (1 - kit.snare_tone_mix) * noise


def brush(kit: Kit, rng: np.random.Generator) -> Signal:
    """A brush on the snare: a soft swish with a slow attack."""
    n = int(SR * 0.35)
    env = s.adsr(n, 0.015, 0.12, 0.0, 0.05)
    return s.bandpass(s.white(n, rng), 700, min(kit.snare_bright, 6000)) * env


def clap(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * 0.4)
    t = s.seconds(n)
    env = np.zeros(n)
    for k, offset in enumerate((0.0, 0.009, 0.018, 0.028)):
        shifted = np.clip(t - offset, 0, None)
        env += np.where(t >= offset, np.exp(-shifted / 0.006), 0.0) * (0.8 if k < 3 else 1.0)
    env += 0.5 * np.where(t >= 0.028, np.exp(-np.clip(t - 0.028, 0, None) / 0.11), 0.0)
    return s.bandpass(s.white(n, rng), kit.clap_tone * 0.6, kit.clap_tone * 2.2) * env


def _metal(n: int, base: float, rng: np.random.Generator) -> Signal:
    """Six inharmonic square waves: the classic drum-machine cymbal."""
    out = np.zeros(n)
    for ratio in (2.0, 3.0, 4.16, 5.43, 6.79, 8.21):
        out += s.square(base * ratio * (1 + 0.01 * rng.standard_normal()), n)
    return out


def hat(kit: Kit, rng: np.random.Generator, open_: bool = False) -> Signal:
    decay = kit.hat_open_decay if open_ else kit.hat_decay
    n = int(SR * min(decay * 5, 1.5))
    src = kit.hat_metal * _metal(n, 330.0, rng) / 3 + (1 - kit.hat_metal) * s.white(n, rng)
    return s.highpass(src, kit.hat_cut, 3) * s.exp_decay(n, decay)


def ride(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * min(kit.ride_decay * 3, 2.5))
    src = _metal(n, 470.0, rng) / 3 + 0.5 * s.white(n, rng)
    body = s.highpass(src, 3200, 2) * s.exp_decay(n, kit.ride_decay)
    bell = s.sine(2950.0, n) * s.exp_decay(n, 0.25) * 0.3
    return body + bell


def crash(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * 2.0)
    src = 0.6 * _metal(n, 410.0, rng) / 3 + s.white(n, rng)
    return s.highpass(src, 2500, 2) * s.exp_decay(n, 0.7)


def rim(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * 0.08)
    return (s.bandpass(s.white(n, rng), 1500, 5000) * 0.6 + s.sine(820.0, n)) * s.exp_decay(n, 0.015)


def shaker(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * 0.12)
    return s.bandpass(s.white(n, rng), 3500, 7500) * s.adsr(n, 0.006, 0.035, 0.0, 0.02)


def tom(kit: Kit, rng: np.random.Generator) -> Signal:
    n = int(SR * 0.5)
    t = s.seconds(n)
    freq = kit.kick_pitch * 2.2 * (1 + 0.4 * np.exp(-t / 0.05))
    return s.sine(freq, n) * s.exp_decay(n, 0.18) + s.bandpass(s.white(n, rng), 200, 1500) * s.exp_decay(n, 0.02) * 0.3


DRUM_VOICES: dict[str, Callable[[Kit, np.random.Generator], Signal]] = {
    "kick": kick, "snare": snare, "brush": brush, "clap": clap, "hat": hat,
    "ohat": lambda kit, rng: hat(kit, rng, open_=True), "ride": ride, "crash": crash, "rim": rim,
    "shaker": shaker, "tom": tom,
}


# ---------------------------------------------------------------- pitched voices

def _bright_env(x_bright: Signal, x_dark: Signal, env: Signal) -> Signal:
    """A filter envelope on the cheap: cross-fade from a bright copy to a dark copy."""
    return x_dark + env * (x_bright - x_dark)


def _release_len(gate: int, release: float, cap_s: float | None = None) -> int:
    """Samples a note lasts; ``cap_s`` cuts voices that have decayed to silence anyway."""
    n = gate + int(release * SR)
    return min(n, int(cap_s * SR)) if cap_s else n


def bass_note(kind: str, freq: float, gate: int, rng: np.random.Generator, tone: float = 0.5,
              drive: float = 1.0) -> Signal:
    """One bass note of ``gate`` samples (plus its release). ``tone`` in [0, 1] darkens/brightens."""
    if kind == "sub":
        n = _release_len(gate, 0.04)
        x = s.sine(freq, n) + 0.12 * s.sine(2 * freq, n)
        return x * s.adsr(n, 0.005, 0.3, 0.85, 0.04, hold_n=gate)
    if kind == "reese":
        # detuned saws, slowly moving filter, heavy drive: the grinding drum-and-bass bass
        n = _release_len(gate, 0.05)
        det = 0.004 + 0.008 * tone
        raw = s.saw(freq * (1 - det), n) + s.saw(freq * (1 + det), n) + 0.6 * s.saw(freq * 2 * (1 + det / 3), n)
        lfo = 0.5 + 0.5 * np.sin(s.TWO_PI * (0.7 + 2.5 * rng.random()) * s.seconds(n) + rng.random() * 6)
        x = _bright_env(s.lowpass(raw, 2600 + 2000 * tone, 2, 0.8), s.lowpass(raw, 380, 2), lfo)
        x = s.saturate(x * 0.6, 2.5 + 4 * drive)
        x = x + 0.7 * s.sine(freq, n)
        return x * s.adsr(n, 0.01, 0.5, 0.9, 0.05, hold_n=gate)
    if kind == "acid":
        n = _release_len(gate, 0.03)
        raw = s.saw(freq, n)
        env = s.exp_decay(n, 0.06 + 0.15 * tone)
        x = _bright_env(s.lowpass(raw, 3000, 3, 1.5), s.lowpass(raw, 350, 3, 0.8), env)
        return s.saturate(x, 1 + drive) * s.adsr(n, 0.003, 0.2, 0.7, 0.03, hold_n=gate)
    if kind == "pluck":
        n = _release_len(gate, 0.05)
        raw = s.square(freq, n, width=0.35)
        env = s.exp_decay(n, 0.05 + 0.08 * tone)
        x = _bright_env(s.lowpass(raw, 2200, 2), s.lowpass(raw, 250, 2), env) + 0.6 * s.sine(freq, n)
        return x * s.adsr(n, 0.003, 0.25, 0.5, 0.05, hold_n=gate)
    if kind == "upright":
        n = _release_len(gate, 0.12)
        t = s.seconds(n)
        x = (s.sine(freq, n) + 0.5 * s.sine(2 * freq, n) * np.exp(-t / 0.12)
             + 0.25 * s.sine(3 * freq, n) * np.exp(-t / 0.05))
        thump = s.bandpass(s.white(n, rng), 80, 600) * np.exp(-t / 0.015) * 0.5
        return (x + thump) * s.exp_decay(n, 0.45 + 0.4 * tone) * s.adsr(n, 0.004, 1, 1, 0.1, hold_n=gate)
    if kind == "electric":
        n = _release_len(gate, 0.06)
        raw = s.square(freq, n, width=0.3) * 0.5 + s.saw(freq, n) * 0.5
        x = s.lowpass(raw, 500 + 900 * tone, 2) + 0.5 * s.sine(freq, n)
        return s.saturate(x, 0.5 + drive) * s.adsr(n, 0.004, 0.4, 0.6, 0.06, hold_n=gate)
    if kind == "rumble":
        n = _release_len(gate, 0.02)
        raw = s.saw(freq, n)
        x = s.lowpass(raw, 220 + 300 * tone, 3) + 0.8 * s.sine(freq, n)
        return s.saturate(x, 1 + drive) * s.adsr(n, 0.002, 0.08, 0.3, 0.02, hold_n=gate)
    if kind == "fm":
        # growling FM bass: index wobbles with an LFO
        n = _release_len(gate, 0.05)
        t = s.seconds(n)
        index = 1.5 + 3.5 * (0.5 + 0.5 * np.sin(s.TWO_PI * (1 + 3 * rng.random()) * t))
        x = np.sin(s.TWO_PI * freq * t + index * np.sin(s.TWO_PI * 2 * freq * t))
        return s.saturate(x, 1.5 + 3 * drive) * s.adsr(n, 0.005, 0.3, 0.9, 0.05, hold_n=gate)
    raise ValueError(f"unknown bass voice {kind!r}")


def chord_note(kind: str, freqs: Sequence[float], gate: int, rng: np.random.Generator,
               tone: float = 0.5, drive: float = 1.0) -> Signal:
    """A chord (several pitches at once) of ``gate`` samples plus release."""
    if kind == "pad":
        n = _release_len(gate, 0.9)
        x = np.zeros(n)
        for f in freqs:
            for det in (-0.004, 0.0035):
                x += s.saw(f * (1 + det), n, start=rng.random())
        x = s.lowpass(x, 700 + 1400 * tone, 2)
        return x * s.adsr(n, 0.35 + 0.6 * (1 - tone), 0.8, 0.85, 0.9, hold_n=gate)
    if kind == "rhodes":
        n = _release_len(gate, 0.35, cap_s=6.0)
        t = s.seconds(n)
        x = np.zeros(n)
        index = (0.8 + 2.2 * tone) * np.exp(-t / 0.25)
        for f in freqs:
            carrier = s.TWO_PI * f * t
            x += np.sin(carrier + index * np.sin(carrier))
        trem = (1 + 0.15 * np.sin(s.TWO_PI * 4.5 * t)) * np.exp(-t / 1.6)
        return x * trem * s.adsr(n, 0.003, 1, 1, 0.3, hold_n=gate)
    if kind == "organ":
        n = _release_len(gate, 0.05)
        t = s.seconds(n)
        x = np.zeros(n)
        vib = 1 + 0.003 * np.sin(s.TWO_PI * 6.2 * t)
        draw = (0.6, 1.0, 0.6 * tone + 0.2, 0.5 * tone, 0.3 * tone)
        for f in freqs:
            for k, w in zip((0.5, 1, 2, 3, 4), draw, strict=True):
                x += w * s.sine(f * k * vib, n)
        return x * s.adsr(n, 0.006, 0.2, 0.9, 0.05, hold_n=gate)
    if kind == "piano":
        n = _release_len(gate, 0.25, cap_s=4.0)
        t = s.seconds(n)
        x = np.zeros(n)
        step = np.exp(-0.6 * t)
        decays = [np.exp(-1.5 * t)]  # harmonic k decays as exp(-(0.9 + 0.6 k) t)
        for _ in range(2, 7):
            decays.append(decays[-1] * step)
        for k, decay in enumerate(decays, start=1):
            partial = np.zeros(n)
            for f in freqs:
                fk = f * k * np.sqrt(1 + 0.0004 * k * k)
                if fk < SR / 2 - 200:
                    partial += np.sin(s.TWO_PI * fk * t)
            x += (tone + 0.3) ** (k - 1) / k * partial * decay
        return x * s.adsr(n, 0.002, 1, 1, 0.2, hold_n=gate)
    if kind == "stab":
        n = _release_len(gate, 0.12)
        x = np.zeros(n)
        for f in freqs:
            x += s.saw(f, n) + 0.5 * s.saw(f * 1.006, n)
        env = s.exp_decay(n, 0.05 + 0.12 * tone)
        x = _bright_env(s.lowpass(x, 4500, 2), s.lowpass(x, 500, 2), env)
        return x * s.adsr(n, 0.002, 0.15, 0.4, 0.1, hold_n=gate)
    if kind == "harsh":
        # bright, distorted, high-passed: the aggressive drum-and-bass stab
        n = _release_len(gate, 0.08)
        x = np.zeros(n)
        for f in freqs:
            x += s.saw(f * 2, n) + s.square(f * 2.005, n, width=0.3)
        x = s.saturate(s.highpass(x, 500, 2) * 0.5, 3 + 4 * drive)
        return x * s.adsr(n, 0.002, 0.12, 0.5, 0.08, hold_n=gate)
    if kind == "power":
        # root-fifth-octave through a fuzz and a guitar cabinet
        n = _release_len(gate, 0.08)
        root = min(freqs)
        x = np.zeros(n)
        for f in (root, root * 1.4983, root * 2):
            x += s.saw(f * (1 + 0.002 * rng.standard_normal()), n)
        x = s.saturate(x * 0.5, 6 + 8 * drive)
        x = s.apply_curve(x, lambda f: s.lowpass_curve(f, 3800, 3) * s.peak_curve(f, 1800, 5, 1.0)
                          * s.highpass_curve(f, 90, 2))
        return x * s.adsr(n, 0.004, 0.3, 0.8, 0.06, hold_n=gate)
    if kind == "skank":
        # a clean guitar chop: bright attack, very short
        n = _release_len(gate, 0.04)
        x = np.zeros(n)
        for f in freqs:
            x += s.saw(f * 2, n)
        x = _bright_env(s.lowpass(x, 5000, 2), s.lowpass(x, 1200, 2), s.exp_decay(n, 0.04))
        return s.highpass(x, 350, 2) * s.adsr(n, 0.002, 0.06, 0.2, 0.04, hold_n=gate)
    if kind == "bell":
        n = _release_len(gate, 1.5, cap_s=7.0)
        t = s.seconds(n)
        x = np.zeros(n)
        index = 2.5 * np.exp(-t / (0.4 + tone))
        for f in freqs:
            x += np.sin(s.TWO_PI * f * t + index * np.sin(s.TWO_PI * 3.5 * f * t))
        return x * np.exp(-t / 1.8) * s.adsr(n, 0.002, 1, 1, 1.2, hold_n=gate)
    if kind == "sax":
        # a breathy reed: pulse through a formant, vibrato, noise
        n = _release_len(gate, 0.06)
        t = s.seconds(n)
        x = np.zeros(n)
        for f in freqs:
            vib = f * (1 + 0.006 * np.sin(s.TWO_PI * 5.5 * t) * np.clip(t / 0.3, 0, 1))
            x += s.square(vib, n, width=0.4)
        x = s.apply_curve(x, lambda f: s.lowpass_curve(f, 1800 + 1500 * tone, 2) * s.peak_curve(f, 1100, 6, 0.7))
        x += 0.15 * s.bandpass(s.white(n, rng), 1500, 5000)
        return x * s.adsr(n, 0.03, 0.3, 0.8, 0.06, hold_n=gate)
    if kind == "lead":
        n = _release_len(gate, 0.08)
        x = np.zeros(n)
        for f in freqs:
            x += s.saw(f, n) + s.saw(f * 1.008, n)
        x = s.lowpass(x, 1500 + 3000 * tone, 2)
        return s.saturate(x * 0.5, 0.5 + drive) * s.adsr(n, 0.01, 0.2, 0.7, 0.08, hold_n=gate)
    raise ValueError(f"unknown chord voice {kind!r}")


BASS_VOICES = ("sub", "reese", "acid", "pluck", "upright", "electric", "rumble", "fm")
CHORD_VOICES = ("pad", "rhodes", "organ", "piano", "stab", "harsh", "power", "skank", "bell", "sax", "lead")
