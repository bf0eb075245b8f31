"""Synthetic artists: a name and a production fingerprint every one of their tracks shares.

The fingerprint is what makes the *artist effect* real in this corpus: one drum kit, one
pattern variant, one bass and one chord voice, a fixed EQ tilt, reverb, noise floor and
swing.  A classifier that memorises these instead of the genre scores well on a random
split and badly on an artist-disjoint one, exactly as with real music.

Mix settings (tilt, reverb, noise, kit) come from ranges shared by all genres, so they
blur the genres' average timbre instead of identifying them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .genres import GenreRecipe
from .instruments import Kit

_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "zu", "el", "an", "is", "or", "dra", "sel", "mon", "tri",
              "vel", "no", "ash", "qui", "bel", "ro", "sa", "den", "ly", "mar", "go", "fen", "ti", "ux", "per")
_ADJECTIVES = ("Velvet", "Hollow", "Silver", "Quiet", "Electric", "Golden", "Broken", "Distant", "Amber", "Neon",
               "Paper", "Midnight", "Crystal", "Rusty", "Lunar", "Copper", "Faded", "Wild", "Hidden", "Solar",
               "Blue", "Heavy", "Gentle", "Restless", "Static", "Northern", "Liquid", "Dusty", "Secret", "Open")
_NOUNS = ("Horizon", "Engine", "Garden", "Signal", "River", "Machine", "Window", "Echo", "Harbor", "Canyon",
          "Lantern", "Circuit", "Meadow", "Mirror", "Tide", "Orbit", "Station", "Forest", "Pulse", "Cathedral",
          "Shadow", "Avenue", "Comet", "Island", "Frequency", "Season", "Bridge", "Atlas", "Voltage", "Dream")
_FORMS = ("{w}", "{w} {w2}", "DJ {w}", "The {noun}s", "{w} & {w2}", "MC {w}", "{adj} {noun}", "{w} Collective",
          "{w} Trio", "{w} Sound System")


@dataclass(frozen=True)
class Artist:
    """One artist's identity and production fingerprint (fixed across their tracks)."""

    name: str
    genre: str
    index: int
    albums: tuple[str, ...]
    drum_pattern: str | None
    kit: Kit
    bass: str
    bass_line: str
    chords: str
    comp: str
    lead: str
    pad: str
    harmony: str
    swing: float
    humanize_ms: float
    tempo_centre: float
    tone: float
    energy: float
    reverb: float
    rt60: float
    tilt_db: float
    low_cut: float
    high_cut: float
    presence_hz: float
    presence_db: float
    noise_kind: str
    noise_db: float
    fill_every: int
    bass_octave: int
    chord_octave: int
    levels: dict[str, float] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, object]:
        """The choices that identify this artist's sound (for the README and the tests)."""
        return {
            "drum_pattern": self.drum_pattern, "kit": self.kit.style, "kick_pitch": round(self.kit.kick_pitch, 1),
            "bass": self.bass, "chords": self.chords, "comp": self.comp, "lead": self.lead,
            "swing": round(self.swing, 2), "tilt_db": round(self.tilt_db, 2), "reverb": round(self.reverb, 2),
            "noise": self.noise_kind,
        }


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo + (hi - lo) * rng.random())


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def make_name(rng: np.random.Generator) -> str:
    def word() -> str:
        return "".join(_pick(rng, _SYLLABLES) for _ in range(int(rng.integers(2, 4)))).capitalize()

    form = _pick(rng, _FORMS)
    return form.format(w=word(), w2=word(), adj=_pick(rng, _ADJECTIVES), noun=_pick(rng, _NOUNS))


def make_title(rng: np.random.Generator) -> str:
    form = int(rng.integers(4))
    adj, noun, noun2 = _pick(rng, _ADJECTIVES), _pick(rng, _NOUNS), _pick(rng, _NOUNS)
    return (f"{adj} {noun}", f"{noun} of the {noun2}", f"{noun} {int(rng.integers(2, 99))}",
            f"The {adj} {noun}")[form]


def make_kit(rng: np.random.Generator, style: str) -> Kit:
    """A drum kit from one parameter space shared by every genre; ``style`` shapes only a few parts."""
    acoustic = style in ("acoustic", "brush")
    return Kit(
        style=style,
        kick_pitch=_u(rng, 44, 66),
        kick_sweep=_u(rng, 1.8, 4.5),
        kick_decay=_u(rng, 0.1, 0.22) if acoustic else _u(rng, 0.14, 0.5),
        kick_click=_u(rng, 0.0, 0.5),
        kick_drive=_u(rng, 0.0, 3.0),
        snare_tone=_u(rng, 160, 260),
        snare_decay=_u(rng, 0.07, 0.22),
        snare_tone_mix=_u(rng, 0.15, 0.6),
        snare_bright=_u(rng, 3500, 7500),
        hat_decay=_u(rng, 0.025, 0.07),
        hat_open_decay=_u(rng, 0.15, 0.45),
        hat_cut=_u(rng, 4000, 7000),
        hat_metal=_u(rng, 0.0, 1.0),
        ride_decay=_u(rng, 0.6, 1.6),
        clap_tone=_u(rng, 900, 2000),
    )


def make_artist(recipe: GenreRecipe, index: int, rng: np.random.Generator, name: str,
                n_albums: int) -> Artist:
    """Draw one artist's fingerprint from the genre's choices and the shared mix ranges."""
    albums = tuple(sorted({make_title(rng) for _ in range(n_albums)}))
    tone = _u(rng, *recipe.tone)
    return Artist(
        name=name, genre=recipe.name, index=index, albums=albums,
        drum_pattern=_pick(rng, recipe.drum_patterns) if recipe.drum_patterns else None,
        kit=make_kit(rng, _pick(rng, recipe.kits)),
        bass=_pick(rng, recipe.bass), bass_line=_pick(rng, recipe.bass_lines),
        chords=_pick(rng, recipe.chords), comp=_pick(rng, recipe.comps), lead=_pick(rng, recipe.leads),
        pad=_pick(rng, recipe.pad), harmony=_pick(rng, recipe.harmony),
        swing=_u(rng, *recipe.swing), humanize_ms=_u(rng, 0.0, 8.0),
        tempo_centre=_u(rng, *recipe.tempo), tone=tone, energy=_u(rng, *recipe.energy),
        reverb=_u(rng, *recipe.reverb), rt60=_u(rng, 0.6, 2.8),
        tilt_db=_u(rng, -2.5, 1.5), low_cut=_u(rng, 20, 110), high_cut=_u(rng, 3500, 8000),
        presence_hz=_u(rng, 700, 4500), presence_db=_u(rng, -5, 5),
        noise_kind=_pick(rng, ("none", "hiss", "vinyl", "hum")), noise_db=_u(rng, -48, -26),
        fill_every=int(_pick(rng, ("4", "8", "0"))), bass_octave=int(rng.integers(-1, 1)),
        chord_octave=int(rng.integers(-1, 1)),
        levels={k: _u(rng, -5, 5) for k in ("drums", "bass", "chords", "lead", "pad")},
    )
