"""Render one synthetic track: tempo grid, drums, bass, chords, lead, mix and master.

``render(spec)`` is a pure function of the :class:`TrackSpec` (its seed key included), so
the same spec gives the same samples in any process, in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import instruments as inst
from . import synth as s
from .artists import Artist
from .genres import BASS_LINES, COMP_PATTERNS, DRUM_PATTERNS, SCALES, GenreRecipe, pattern_steps, recipe
from .synth import SR, Signal

#: drum voice levels inside the drum bus, dB
DRUM_LEVELS = {"kick": 0.0, "snare": -3.0, "clap": -5.0, "hat": -13.0, "ohat": -13.0, "ride": -13.0,
               "shaker": -17.0, "rim": -9.0, "tom": -7.0, "brush": -9.0, "crash": -14.0}


@dataclass(frozen=True)
class TrackSpec:
    """Everything needed to render one track and describe it in the manifests."""

    track_id: str
    genre: str
    secondary: str | None
    artist: Artist
    title: str
    album: str
    duration_s: float
    rng_key: tuple[int, ...]

    @property
    def genres(self) -> list[str]:
        return [self.genre] + ([self.secondary] if self.secondary else [])


@dataclass
class Grid:
    """Where sixteenth-note steps fall in time, with swing and human timing."""

    tempo: float
    swing: float
    swing_unit: int
    humanize_s: float
    rng: np.random.Generator

    @property
    def step_s(self) -> float:
        return 60.0 / self.tempo / 4

    @property
    def bar_s(self) -> float:
        return 16 * self.step_s

    def sample(self, bar: int, step: float, human: bool = True) -> int:
        t = (bar * 16 + step) * self.step_s
        whole = int(step) if float(step).is_integer() else -1
        if self.swing > 0 and whole >= 0:
            if self.swing_unit == 8 and whole % 4 == 2:
                t += self.swing * self.step_s * 2 / 3
            elif self.swing_unit == 16 and whole % 2 == 1:
                t += self.swing * self.step_s / 3
        if human and self.humanize_s > 0:
            t += self.rng.normal(0, self.humanize_s)
        return max(0, int(round(t * SR)))


def _db(value: float) -> float:
    return 10 ** (value / 20)


# ---------------------------------------------------------------- harmony

def chord_midi(key: int, scale: tuple[int, ...], degree: int, harmony: str, centre: int) -> list[int]:
    """Notes of the chord on ``degree`` of the scale, voiced close to ``centre`` (MIDI)."""
    def note(step: int) -> int:
        octave, idx = divmod(degree + step, len(scale))
        return key + scale[idx] + 12 * octave

    if harmony == "power":
        notes = [note(0), note(0) + 7]
    elif harmony == "sus":
        notes = [note(0), note(1) + (12 if note(1) < note(0) else 0), note(4)]
    elif harmony == "sevenths":
        notes = [note(0), note(2), note(4), note(6)]
    elif harmony == "ninths":
        notes = [note(0), note(2), note(4), note(6), note(8)]
    else:
        notes = [note(0), note(2), note(4)]
    root = notes[0]
    shift = 12 * round((centre - root) / 12)
    return [n + shift for n in notes]


# ---------------------------------------------------------------- layers

def render_drums(n: int, grid: Grid, pattern_name: str, artist: Artist, recipe_: GenreRecipe,
                 bars: int, drum_bars: Signal, rng: np.random.Generator) -> Signal:
    pattern = DRUM_PATTERNS[pattern_name]
    voices = set(pattern) | {"crash"} if recipe_.drum_feel == "backbeat" else set(pattern)
    if artist.fill_every:
        voices |= {"snare", "tom"}
    shots = {v: inst.DRUM_VOICES[v](artist.kit, rng) for v in sorted(voices)}
    out = np.zeros(n)
    for bar in range(bars):
        if not drum_bars[bar]:
            continue
        fill = artist.fill_every and (bar + 1) % artist.fill_every == 0
        for voice, steps in pattern.items():
            shot = shots[voice]
            level = _db(DRUM_LEVELS[voice] + artist.levels.get("drums", 0) * 0.3)
            offset = (bar % (len(steps) // 16)) * 16
            for step, vel in pattern_steps(steps[offset:offset + 16]):
                if fill and step >= 12 and voice in ("snare", "kick"):
                    continue
                if vel < 0.35 and rng.random() < 0.3:  # ghost notes come and go
                    continue
                gain = level * vel * (1 + 0.08 * rng.standard_normal())
                s.add_at(out, shot, grid.sample(bar, step), gain)
        if recipe_.drum_feel == "swing":  # the drummer comps on the snare
            for step in (2, 6, 10, 14, 7, 15):
                if rng.random() < 0.18:
                    comp_shot = shots["snare"] if "snare" in shots else shots.get("brush", shots["hat"])
                    s.add_at(out, comp_shot, grid.sample(bar, step), _db(-14) * (0.5 + 0.5 * rng.random()))
        if fill:
            for step in range(12, 16):
                voice = "tom" if rng.random() < 0.4 else "snare"
                s.add_at(out, shots[voice], grid.sample(bar, step), _db(DRUM_LEVELS[voice]) * (0.6 + 0.1 * (step - 12)))
        if "crash" in shots and bar % 4 == 0 and (bar == 0 or drum_bars[bar - 1] == 0 or rng.random() < 0.7):
            s.add_at(out, shots["crash"], grid.sample(bar, 0), _db(DRUM_LEVELS["crash"]))
    return out


def _line_notes(line: str, chord: list[int], bar: int, rng: np.random.Generator,
                next_root: int) -> list[tuple[float, int, float]]:
    """(step, midi, gate_steps) for one bar of a bass line over ``chord`` (root first)."""
    steps, gate = BASS_LINES[line]
    root = chord[0]
    tones = [root, root + 7, root + 12, chord[1] if len(chord) > 1 else root + 7]
    notes: list[tuple[float, int, float]] = []
    hits = [i for i, ch in enumerate(steps) if ch != "."]
    for k, step in enumerate(hits):
        if line == "walking":
            if k == 3:  # chromatic approach to the next chord's root
                pitch = next_root + (1 if rng.random() < 0.5 else -1)
            else:
                pitch = (root, chord[1], chord[2] if len(chord) > 2 else root + 7)[k] if k < 3 else root
                pitch += 12 * int(rng.random() < 0.2)
        elif line in ("reggae", "syncopated"):
            pitch = tones[int(rng.integers(len(tones)))] if k else root
        elif line == "rolling":
            pitch = root + (12 if rng.random() < 0.15 else 0)
        elif line == "eighths":
            pitch = root + (12 if rng.random() < 0.1 else 0)
        else:
            pitch = root if k == 0 or rng.random() < 0.6 else root + (7 if rng.random() < 0.5 else 12)
        notes.append((float(step), pitch, gate))
    return notes


def render_bass(n: int, grid: Grid, voice: str, line: str, chords: list[list[int]], bars: int,
                artist: Artist, tone: float, drive: float, rng: np.random.Generator) -> Signal:
    out = np.zeros(n)
    step_n = grid.step_s * SR
    cache: dict[tuple[int, int], Signal] = {}
    for bar in range(bars):
        chord = chords[bar]
        notes = _line_notes(line, chord, bar, rng, chords[min(bar + 1, bars - 1)][0])
        for step, pitch, gate in notes:
            gate_n = max(int(gate * step_n), int(0.03 * SR))
            key = (pitch, gate_n)
            if key not in cache:
                cache[key] = inst.bass_note(voice, s.midi_to_hz(pitch), gate_n, rng, tone, drive)
            s.add_at(out, cache[key], grid.sample(bar, step), 0.9 + 0.2 * rng.random())
    return out


def render_chords(n: int, grid: Grid, voice: str, comp: str, chords: list[list[int]], bars: int,
                  bars_per_chord: int, tone: float, drive: float, rng: np.random.Generator) -> Signal:
    out = np.zeros(n)
    step_n = grid.step_s * SR
    cache: dict[tuple[tuple[int, ...], int], Signal] = {}
    steps, gate = COMP_PATTERNS[comp]

    def hit(chord: list[int], bar: int, step: float, gate_steps: float, gain: float) -> None:
        gate_n = max(int(gate_steps * step_n), int(0.03 * SR))
        key = (tuple(chord), gate_n)
        if key not in cache:
            cache[key] = inst.chord_note(voice, [s.midi_to_hz(p) for p in chord], gate_n, rng, tone, drive)
        s.add_at(out, cache[key], grid.sample(bar, step), gain)

    if comp == "sustain":
        for bar in range(0, bars, bars_per_chord):
            hit(chords[bar], bar, 0, 16 * bars_per_chord - 0.5, 1.0)
        return out
    pattern = pattern_steps(steps)
    for bar in range(bars):
        for step, vel in pattern:
            if comp in ("charleston", "comp_jazz") and rng.random() < 0.25:
                step = (step + 2 * int(rng.integers(-1, 2))) % 16  # comping is never the same twice
            hit(chords[bar], bar, step, gate, vel * (0.9 + 0.2 * rng.random()))
    return out


def render_lead(n: int, grid: Grid, voice: str, key: int, scale: tuple[int, ...], bars: int,
                density: float, tone: float, drive: float, rng: np.random.Generator,
                mask: Signal) -> Signal:
    """A wandering melody on the scale's pentatonic subset, in phrases with rests."""
    out = np.zeros(n)
    step_n = grid.step_s * SR
    penta = [scale[i] for i in (0, 1, 2, 4, 5) if i < len(scale)]
    base = 60 + key if voice != "acid" else 36 + key
    pitch_idx = int(rng.integers(len(penta)))
    octave = 1
    cache: dict[tuple[int, int], Signal] = {}
    for bar in range(bars):
        if not mask[bar] or (bar % 4 == 3 and voice != "acid"):
            continue
        step = 0
        while step < 16:
            if rng.random() < density * (0.5 if voice != "acid" else 1.0):
                pitch_idx += int(rng.integers(-2, 3))
                while pitch_idx < 0:
                    pitch_idx += len(penta)
                    octave -= 1
                while pitch_idx >= len(penta):
                    pitch_idx -= len(penta)
                    octave += 1
                octave = min(max(octave, 0), 2)
                midi = base + penta[pitch_idx] + 12 * (octave - 1)
                length = 1 if voice == "acid" else int(rng.choice((2, 2, 4, 4, 6, 8)))
                gate_n = max(int(length * step_n * 0.9), int(0.03 * SR))
                k = (midi, gate_n)
                if k not in cache:
                    if voice == "acid":
                        cache[k] = inst.bass_note("acid", s.midi_to_hz(midi), gate_n, rng, tone, drive)
                    else:
                        cache[k] = inst.chord_note(voice, [s.midi_to_hz(midi)], gate_n, rng, tone, drive)
                s.add_at(out, cache[k], grid.sample(bar, step), 0.8 + 0.3 * rng.random())
                step += length
            else:
                step += 1 if voice == "acid" else 2
    return out


def noise_floor(n: int, kind: str, rng: np.random.Generator) -> Signal:
    """Recording noise of one kind, unit RMS: tape hiss, vinyl crackle or mains hum."""
    if kind == "hiss":
        x = s.shaped_noise(n, rng, lambda f: s.pink_curve(f) * s.highpass_curve(f, 2000, 1))
    elif kind == "vinyl":
        x = s.shaped_noise(n, rng, lambda f: s.pink_curve(f) * s.lowpass_curve(f, 3000, 1)) * 0.5
        click = s.highpass(rng.standard_normal(48), 1000, 1) * np.hanning(48)
        for pos in rng.integers(0, n, size=max(1, n // SR * 6)):
            s.add_at(x, click, int(pos), 8 * rng.standard_normal())
    elif kind == "hum":
        period = SR // 50 if rng.random() < 0.5 else SR * 3 // 60  # whole cycles of 50 or 60 Hz
        cycles = 1 if period == SR // 50 else 3
        t = np.arange(period) / period * cycles
        one = sum(np.sin(s.TWO_PI * k * t) / k for k in (1, 2, 3, 5))
        x = np.resize(one, n) + 0.3 * s.pink(n, rng)
    else:
        return np.zeros(n)
    return x / (s.rms(x) + 1e-12)


# ---------------------------------------------------------------- the track

@dataclass(frozen=True)
class Arrangement:
    """The musical decisions of one track (what the audio is built from), for tests and reports."""

    tempo: float
    key: int
    scale: str
    progression: tuple[int, ...]
    bars_per_chord: int
    chord_voice: str
    comp: str
    harmony: str
    lead: str
    pad: str
    tone: float
    energy: float
    intro: bool
    breakdown: bool


def arrangement(spec: TrackSpec) -> Arrangement:
    """Decide tempo, key, harmony and instrumentation within the artist's and genre's choices."""
    rng = np.random.default_rng([*spec.rng_key, 0])
    art = spec.artist
    rec = recipe(spec.genre)
    sec = recipe(spec.secondary) if spec.secondary else None
    spread = min(0.025 * art.tempo_centre, 0.2 * (rec.tempo[1] - rec.tempo[0]))
    tempo = float(np.clip(art.tempo_centre + spread * rng.standard_normal(), *rec.tempo))
    key = int(rng.integers(12))
    tone = float(np.clip(art.tone + 0.08 * rng.standard_normal(), 0, 1))
    energy = float(np.clip(art.energy + 0.05 * rng.standard_normal(), 0, 1))
    # in a blend the harmony layer comes from the secondary genre: its chords over our groove
    harm = sec or rec

    def pick(options: tuple[str, ...], own: str) -> str:
        return own if sec is None else options[int(rng.integers(len(options)))]

    chord_voice = pick(harm.chords, art.chords)
    comp = pick(harm.comps, art.comp)
    harmony = pick(harm.harmony, art.harmony)
    lead = pick(harm.leads, art.lead)
    pad = pick(harm.pad, art.pad)
    if chord_voice == "power" and harmony not in ("power", "triads"):
        harmony = "power"
    return Arrangement(
        tempo=tempo, key=key, scale=harm.scales[int(rng.integers(len(harm.scales)))],
        progression=harm.progressions[int(rng.integers(len(harm.progressions)))],
        bars_per_chord=int(harm.bars_per_chord[int(rng.integers(len(harm.bars_per_chord)))]),
        chord_voice=chord_voice, comp=comp, harmony=harmony, lead=lead, pad=pad, tone=tone, energy=energy,
        intro=bool(rng.random() < 0.15), breakdown=bool(rng.random() < 0.15),
    )


def render(spec: TrackSpec) -> Signal:
    """The track's audio: float32 mono at 16 kHz, peak below 1."""
    rng = np.random.default_rng(list(spec.rng_key))
    art = spec.artist
    rec = recipe(spec.genre)
    harm = recipe(spec.secondary) if spec.secondary else rec
    n = int(round(spec.duration_s * SR))
    arr = arrangement(spec)
    grid = Grid(arr.tempo, art.swing, rec.swing_unit, art.humanize_ms / 1000, rng)
    bars = int(math.ceil(spec.duration_s / grid.bar_s)) + 1
    key, tone, energy, bpc, progression = arr.key, arr.tone, arr.energy, arr.bars_per_chord, arr.progression
    scale = SCALES[arr.scale]
    chord_voice, comp, harmony, lead, pad = arr.chord_voice, arr.comp, arr.harmony, arr.lead, arr.pad

    chord_centre = 62 + 12 * art.chord_octave if chord_voice != "power" else 47
    chords = [chord_midi(key, scale, progression[(bar // bpc) % len(progression)], harmony, chord_centre)
              for bar in range(bars)]
    bass_centre = 38 + 12 * art.bass_octave if art.bass not in ("upright", "electric") else 40
    bass_chords = [chord_midi(key, scale, progression[(bar // bpc) % len(progression)], "triads", bass_centre)
                   for bar in range(bars)]

    # arrangement: an intro without drums and a short breakdown, sometimes
    drum_bars = np.ones(bars, dtype=bool)
    gap = max(1, int(round(2.5 / grid.bar_s)))
    if arr.intro:
        drum_bars[:gap] = False
    if arr.breakdown and bars > 8:
        start = int(rng.integers(bars // 3, 2 * bars // 3))
        drum_bars[start: start + gap] = False

    layers: dict[str, Signal] = {}
    if art.drum_pattern:
        layers["drums"] = render_drums(n, grid, art.drum_pattern, art, rec, bars, drum_bars, rng)
    layers["bass"] = render_bass(n, grid, art.bass, art.bass_line, bass_chords, bars, art, tone, energy, rng)
    layers["chords"] = render_chords(n, grid, chord_voice, comp, chords, bars, bpc, tone, energy, rng)
    if pad != "none":
        layers["pad"] = render_chords(n, grid, pad, harm.pad_comp, chords, bars, bpc, tone * 0.6, energy, rng)
    if lead != "none":
        layers["lead"] = render_lead(n, grid, lead, key, scale, bars, harm.lead_density, tone, energy, rng,
                                     np.ones(bars, dtype=bool))

    # mix: every layer to unit loudness, then the genre's balance plus the artist's and the track's
    mix = np.zeros(n)
    send = np.zeros(n)
    sends = {"drums": 0.25, "bass": 0.0, "chords": 1.0, "pad": 1.0, "lead": 1.0}
    for name, layer in layers.items():
        level = s.rms(layer)
        if level < 1e-9:
            continue
        gain = _db(rec.levels.get(name, -10) + art.levels.get(name, 0) + rng.normal(0, 1.5)) / level
        mix += gain * layer
        send += gain * sends[name] * layer
    ir_rng = np.random.default_rng([spec.rng_key[0], spec.rng_key[1], spec.rng_key[2], 99])  # the artist's room
    wet = float(np.clip(art.reverb + 0.1 * rng.standard_normal(), 0, 0.8))
    ir = s.room_ir(ir_rng, art.rt60, 0.5)

    # master: reverb send and the artist's EQ in one frequency-domain pass, then energy and noise
    # each track also gets its own colouring on top (another studio day, another mastering chain)
    tilt = art.tilt_db + 2.0 * rng.standard_normal()
    peaks = [(float(np.exp(rng.uniform(np.log(120), np.log(6000)))), float(rng.normal(0, 6)),
              float(rng.uniform(0.5, 2.5))) for _ in range(4)]
    size = s.next_fast_len(n + len(ir))
    f = s.freq_axis(size)
    spectrum = np.fft.rfft(mix, size) + np.sqrt(wet) * 1.5 * np.fft.rfft(send, size) * np.fft.rfft(ir, size)
    curve = (s.tilt_curve(f, tilt) * s.highpass_curve(f, art.low_cut, 2) * s.lowpass_curve(f, art.high_cut, 2)
             * s.peak_curve(f, art.presence_hz, art.presence_db))
    for centre, gain_db, octaves in peaks:
        curve *= s.peak_curve(f, centre, gain_db, octaves)
    spectrum *= curve
    mix = np.fft.irfft(spectrum, size)[:n]
    mix /= s.rms(mix) + 1e-12
    mix = s.compress(mix * 0.25, threshold_db=-12 - 14 * energy, ratio=1.5 + 5 * energy)
    mix = s.saturate(s.normalize_peak(mix, 1.0), 0.5 + 2.5 * energy ** 2)
    mix /= s.rms(mix) + 1e-12
    if art.noise_kind != "none":
        mix += _db(art.noise_db + rng.normal(0, 2)) * noise_floor(n, art.noise_kind, rng)
    fade = int(0.02 * SR)
    mix[:fade] *= np.linspace(0, 1, fade)
    mix[-fade:] *= np.linspace(1, 0, fade)
    return s.normalize_peak(mix, _db(-1.0 - 11.0 * rng.random())).astype(np.float32)
