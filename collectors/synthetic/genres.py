"""Genre recipes as data: what makes each synthetic genre what it is.

A recipe lists the *choices* a genre allows (tempo range, drum patterns, bass and chord
voices, harmony, mix levels, energy); an artist picks from them once (their fingerprint)
and each track then varies within the artist's picks.  Sound pools overlap on purpose
(rhodes, piano, organ and pads appear in several genres; every kit comes from one shared
parameter space), so a genre is recognised by how its parts move in time, not by a single
give-away timbre.  ``drum and bass`` and ``liquid funk`` share tempo and drum patterns and
differ only in energy and timbre: the deliberately hard pair.

Drum and comping patterns are strings on a sixteenth-note grid, one character per step:
``X`` accent, ``x`` normal, ``o`` soft, ``g`` ghost, ``.`` rest.  A 32-character string is a
two-bar pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VELOCITY = {"X": 1.0, "x": 0.8, "o": 0.55, "g": 0.3}

#: Drum patterns by name: voice -> step string (16 = one bar, 32 = two bars).
DRUM_PATTERNS: dict[str, dict[str, str]] = {
    # four-on-the-floor
    "house_classic": {"kick": "x...x...x...x...", "clap": "....x.......x...", "ohat": "..x...x...x...x.",
                      "shaker": "gogggogggogggogg"},
    "house_deep": {"kick": "x...x...x...x...", "rim": "...o..o....o..o.", "ohat": "..x...x...x...x.",
                   "hat": ".g.g.g.g.g.g.g.g", "clap": "....x.......x..."},
    "techno_drive": {"kick": "X...X...X...X...", "hat": "ggxgggxgggxgggxg", "rim": "..o..o.....o..o."},
    "techno_hypnotic": {"kick": "X...X...X...X...", "hat": "xgxgxgxgxgxgxgxg", "rim": ".o.....o.o....o.",
                        "tom": "...........o..o."},
    # breakbeat (drum and bass / liquid funk): two-bar patterns
    "break_two_step": {"kick": "x.........x.....x.........x.....",
                       "snare": "....x..g.g..x.......x..g....x..g",
                       "hat": "x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x."},
    "break_amen": {"kick": "x.x.......xx....x.x.......x.....",
                   "snare": "....x..o.o..x..o....x..o.o....x.",
                   "hat": "x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x."},
    "break_rolling": {"kick": "x.........x.......x.......x.....",
                      "snare": "....x.......x.......x.......x...",
                      "hat": "xgxgxgxgxgxgxgxgxgxgxgxgxgxgxgxg", "shaker": "..g...g...g...g...g...g...g...g."},
    # backbeat
    "rock_straight": {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
    "rock_drive": {"kick": "x.x.....x.x.....", "snare": "....x.......x...", "ride": "x.x.x.x.x.x.x.x."},
    "boombap_a": {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
    "boombap_b": {"kick": "x.........x..x..", "snare": "....x.......x..g", "hat": "xox.xox.xox.xox.",
                  "shaker": "..g...g...g...g."},
    # half-time (reggae one drop: kick and rim together on beat three)
    "one_drop": {"kick": "........x.......", "rim": "........x.......", "hat": "x.o.x.o.x.o.x.o."},
    "one_drop_open": {"kick": "........x.......", "rim": "........x.......", "hat": "x.oox.oox.oox.oo",
                      "ohat": "..............o."},
    # swing (jazz): ride "ding, ding-a", hi-hat on two and four, feathered kick
    "swing_ride": {"ride": "x...x.x.x...x.x.", "hat": "....x.......x...", "kick": "g...g...g...g..."},
    "swing_brush": {"brush": "x.o.x.o.x.o.x.o.", "hat": "....x.......x...", "ride": "o...o.o.o...o.o."},
}

#: Chord comping rhythms: step string and gate length in steps ("sustain" holds each chord).
COMP_PATTERNS: dict[str, tuple[str, float]] = {
    "sustain": ("", 0.0),
    "halves": ("x.......x.......", 7.0),
    "skank": ("....x.......x...", 1.5),
    "skank_double": ("....x.x.....x.x.", 1.2),
    "bubble": ("..xx..xx..xx..xx", 0.8),
    "house_stab": ("..x..x.....x..x.", 1.0),
    "house_push": ("x..x..x...x..x..", 1.2),
    "charleston": ("x.....x.........", 2.0),
    "comp_jazz": ("..x.....x...o...", 1.5),
    "eighths": ("x.x.x.x.x.x.x.x.", 1.8),
    "quarters": ("x...x...x...x...", 3.0),
    "dnb_stab": ("x.....x...x.....", 1.0),
    "sparse": ("x...............", 3.0),
    "offbeat": ("..x...x...x...x.", 1.0),
}

#: Bass rhythms: step string and gate in steps; the arranger picks chord tones.
BASS_LINES: dict[str, tuple[str, float]] = {
    "root_long": ("x...............", 15.0),
    "root_halves": ("x.......x.......", 7.5),
    "walking": ("x...x...x...x...", 3.6),
    "offbeat": ("..x...x...x...x.", 1.6),
    "rolling": (".xxx.xxx.xxx.xxx", 0.8),
    "syncopated": ("x......x..x.....", 2.5),
    "reggae": ("..x.x..x..x.x...", 1.6),
    "eighths": ("x.x.x.x.x.x.x.x.", 1.7),
    "dnb_follow": ("x.........x.....", 5.0),
    "long_glide": ("x.......x.......", 8.0),
    "drone": ("x...............", 16.0),
}

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
}


@dataclass(frozen=True)
class GenreRecipe:
    """Everything a genre allows; artists pick once, tracks vary within the picks."""

    name: str
    summary: str
    tempo: tuple[float, float]
    drum_feel: str  # four-on-the-floor, breakbeat, backbeat, half-time, swing, none
    drum_patterns: tuple[str, ...]
    kits: tuple[str, ...]
    swing: tuple[float, float]  # fraction of full triplet swing
    swing_unit: int  # 8: delay off-beat eighths; 16: delay off-beat sixteenths
    bass: tuple[str, ...]
    bass_lines: tuple[str, ...]
    chords: tuple[str, ...]
    comps: tuple[str, ...]
    harmony: tuple[str, ...]  # triads, sevenths, ninths, power, sus
    scales: tuple[str, ...]
    progressions: tuple[tuple[int, ...], ...]
    bars_per_chord: tuple[int, ...]
    leads: tuple[str, ...] = ("none",)
    lead_density: float = 0.3  # notes per beat
    pad: tuple[str, ...] = ("none",)  # optional second harmony layer under the comping
    pad_comp: str = "sustain"  # its rhythm
    #: mix levels in dB relative to the drums
    levels: dict[str, float] = field(default_factory=lambda: {"drums": 0.0, "bass": -2.0, "chords": -6.0,
                                                              "lead": -8.0, "pad": -12.0})
    energy: tuple[float, float] = (0.3, 0.6)  # compression and drive, 0..1
    tone: tuple[float, float] = (0.3, 0.7)  # instrument brightness, 0..1
    reverb: tuple[float, float] = (0.1, 0.3)
    blend_with: tuple[str, ...] = ()


RECIPES: tuple[GenreRecipe, ...] = (
    GenreRecipe(
        name="ambient", summary="no drums, slow swelling pads and bells, long reverb",
        tempo=(60, 84), drum_feel="none", drum_patterns=(), kits=("electronic",), swing=(0, 0), swing_unit=8,
        bass=("sub",), bass_lines=("drone", "root_long"),
        chords=("pad", "piano", "rhodes"), comps=("sustain",), harmony=("sus", "ninths"),
        scales=("major", "lydian", "dorian"), progressions=((0, 3), (0, 5, 3), (0,), (0, 4, 5, 3)),
        bars_per_chord=(2, 4), leads=("bell", "piano", "none"), lead_density=0.25, pad=("pad",),
        levels={"drums": 0.0, "bass": -8.0, "chords": -2.0, "lead": -6.0, "pad": -4.0},
        energy=(0.0, 0.25), tone=(0.1, 0.5), reverb=(0.4, 0.7), blend_with=("techno", "jazz"),
    ),
    GenreRecipe(
        name="drum and bass", summary="170-176 BPM breakbeats, distorted reese bass, harsh bright stabs, loud",
        tempo=(170, 176), drum_feel="breakbeat", drum_patterns=("break_two_step", "break_amen", "break_rolling"),
        kits=("electronic", "acoustic"), swing=(0, 0.1), swing_unit=16,
        bass=("reese", "fm"), bass_lines=("dnb_follow", "long_glide"),
        chords=("harsh", "stab", "lead"), comps=("dnb_stab", "sparse", "offbeat"), harmony=("triads", "power"),
        scales=("minor",), progressions=((0,), (0, 5), (0, 5, 6, 4), (0, 1)),
        bars_per_chord=(2, 4), leads=("none", "lead"), lead_density=0.3, pad=("none",),
        levels={"drums": 3.0, "bass": 0.0, "chords": -5.0, "lead": -8.0, "pad": -14.0},
        energy=(0.7, 1.0), tone=(0.6, 1.0), reverb=(0.05, 0.2), blend_with=("liquid funk", "techno"),
    ),
    GenreRecipe(
        name="liquid funk", summary="the same breakbeats and tempo as drum and bass, but warm pads, soft rhodes, "
                                    "clean sub bass, lower energy",
        tempo=(170, 176), drum_feel="breakbeat", drum_patterns=("break_two_step", "break_amen", "break_rolling"),
        kits=("electronic", "acoustic"), swing=(0, 0.1), swing_unit=16,
        bass=("sub", "pluck"), bass_lines=("dnb_follow", "long_glide"),
        chords=("rhodes", "pad", "piano"), comps=("halves", "sustain", "dnb_stab"), harmony=("sevenths", "ninths"),
        scales=("dorian", "minor", "major"), progressions=((0, 3), (1, 4, 0), (5, 3, 0, 4), (0, 5)),
        bars_per_chord=(2, 4), leads=("bell", "none", "piano"), lead_density=0.3, pad=("pad", "none"),
        levels={"drums": 3.0, "bass": -3.0, "chords": -4.0, "lead": -8.0, "pad": -8.0},
        energy=(0.15, 0.45), tone=(0.1, 0.45), reverb=(0.2, 0.45), blend_with=("jazz", "drum and bass"),
    ),
    GenreRecipe(
        name="hip hop", summary="84-98 BPM swung boom-bap, jazzy seventh loops, punchy kick and snare",
        tempo=(84, 98), drum_feel="backbeat (swung boom-bap)", drum_patterns=("boombap_a", "boombap_b"),
        kits=("electronic", "acoustic"), swing=(0.3, 0.7), swing_unit=16,
        bass=("sub", "electric", "upright"), bass_lines=("syncopated", "root_halves"),
        chords=("rhodes", "piano", "organ", "pad"), comps=("halves", "sustain", "charleston"),
        harmony=("sevenths", "ninths"), scales=("minor", "dorian"), progressions=((0, 3), (0, 5), (1, 4), (0, 6, 5)),
        bars_per_chord=(1, 2), leads=("none", "bell", "sax"), lead_density=0.25, pad=("none",),
        levels={"drums": 3.0, "bass": -3.0, "chords": -7.0, "lead": -10.0, "pad": -12.0},
        energy=(0.4, 0.75), tone=(0.2, 0.6), reverb=(0.05, 0.25), blend_with=("jazz", "reggae"),
    ),
    GenreRecipe(
        name="house", summary="118-126 BPM four-on-the-floor, off-beat open hats, syncopated chord stabs, off-beat bass",
        tempo=(118, 126), drum_feel="four-on-the-floor", drum_patterns=("house_classic", "house_deep"),
        kits=("electronic",), swing=(0.0, 0.3), swing_unit=16,
        bass=("pluck", "sub", "acid"), bass_lines=("offbeat",),
        chords=("stab", "piano", "organ", "rhodes"), comps=("house_stab", "house_push", "offbeat"),
        harmony=("sevenths", "ninths"), scales=("minor", "dorian"), progressions=((0, 6), (0, 3), (0, 5, 6), (0,)),
        bars_per_chord=(1, 2), leads=("none", "piano"), lead_density=0.3, pad=("none", "pad"),
        levels={"drums": 3.0, "bass": -3.0, "chords": -6.0, "lead": -10.0, "pad": -12.0},
        energy=(0.45, 0.8), tone=(0.3, 0.7), reverb=(0.1, 0.3), blend_with=("techno", "jazz"),
    ),
    GenreRecipe(
        name="jazz", summary="100-180 BPM swing ride or brushes, walking upright bass, seventh-chord comping, sax",
        tempo=(100, 180), drum_feel="swing", drum_patterns=("swing_ride", "swing_brush"),
        kits=("acoustic", "brush"), swing=(0.7, 1.0), swing_unit=8,
        bass=("upright",), bass_lines=("walking",),
        chords=("piano", "rhodes", "organ"), comps=("charleston", "comp_jazz"), harmony=("sevenths", "ninths"),
        scales=("major", "dorian"), progressions=((1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4), (2, 5, 1, 4)),
        bars_per_chord=(1,), leads=("sax", "piano", "none"), lead_density=0.7, pad=("none",),
        levels={"drums": 1.0, "bass": -2.0, "chords": -5.0, "lead": -6.0, "pad": -14.0},
        energy=(0.0, 0.3), tone=(0.2, 0.6), reverb=(0.15, 0.35), blend_with=("hip hop", "liquid funk"),
    ),
    GenreRecipe(
        name="reggae", summary="66-84 BPM one-drop half-time, guitar skank on two and four, organ bubble, melodic bass",
        tempo=(66, 84), drum_feel="half-time (one drop)", drum_patterns=("one_drop", "one_drop_open"),
        kits=("acoustic", "electronic"), swing=(0.2, 0.6), swing_unit=8,
        bass=("electric", "sub"), bass_lines=("reggae",),
        chords=("skank",), comps=("skank", "skank_double"), harmony=("triads",),
        scales=("major", "minor"), progressions=((0, 3), (0, 4), (0, 3, 4, 3), (0, 5, 3, 4)),
        bars_per_chord=(1, 2), leads=("none", "organ", "piano"), lead_density=0.25, pad=("organ",),
        pad_comp="bubble",
        levels={"drums": 3.0, "bass": 0.0, "chords": -5.0, "lead": -10.0, "pad": -12.0},
        energy=(0.2, 0.55), tone=(0.3, 0.7), reverb=(0.1, 0.35), blend_with=("hip hop", "rock"),
    ),
    GenreRecipe(
        name="rock", summary="100-140 BPM straight backbeat with crashes, distorted power-chord eighths, picked bass",
        tempo=(100, 140), drum_feel="backbeat", drum_patterns=("rock_straight", "rock_drive"),
        kits=("acoustic",), swing=(0.0, 0.05), swing_unit=8,
        bass=("electric", "pluck"), bass_lines=("eighths", "root_halves"),
        chords=("power",), comps=("eighths", "quarters"), harmony=("power", "triads"),
        scales=("major", "mixolydian", "minor"), progressions=((0, 4, 5, 3), (0, 6, 3, 0), (0, 3, 4), (5, 3, 0, 4)),
        bars_per_chord=(1, 2), leads=("none", "lead", "piano"), lead_density=0.4, pad=("none", "organ"),
        levels={"drums": 3.0, "bass": -3.0, "chords": -3.0, "lead": -8.0, "pad": -12.0},
        energy=(0.55, 0.9), tone=(0.4, 0.8), reverb=(0.1, 0.3), blend_with=("reggae", "hip hop"),
    ),
    GenreRecipe(
        name="techno", summary="128-142 BPM relentless four-on-the-floor, sixteenth hats, rolling bass, "
                               "one chord or none",
        tempo=(128, 142), drum_feel="four-on-the-floor", drum_patterns=("techno_drive", "techno_hypnotic"),
        kits=("electronic",), swing=(0.0, 0.1), swing_unit=16,
        bass=("rumble", "acid"), bass_lines=("rolling",),
        chords=("stab", "lead"), comps=("sparse", "offbeat"), harmony=("sus", "power"),
        scales=("minor",), progressions=((0,), (0,), (0, 1)),
        bars_per_chord=(4,), leads=("none", "acid"), lead_density=0.5, pad=("none",),
        levels={"drums": 3.0, "bass": -3.0, "chords": -12.0, "lead": -9.0, "pad": -12.0},
        energy=(0.6, 0.95), tone=(0.2, 0.7), reverb=(0.1, 0.35), blend_with=("house", "ambient"),
    ),
)

RECIPES_BY_NAME: dict[str, GenreRecipe] = {r.name: r for r in RECIPES}
GENRES: tuple[str, ...] = tuple(r.name for r in RECIPES)


def recipe(name: str) -> GenreRecipe:
    try:
        return RECIPES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown synthetic genre {name!r}; known: {', '.join(GENRES)}") from None


def pattern_steps(pattern: str) -> list[tuple[int, float]]:
    """(step, velocity) pairs of a step string."""
    return [(i, VELOCITY[ch]) for i, ch in enumerate(pattern) if ch != "."]


def _check() -> None:
    """Fail fast when a recipe names a pattern, voice or scale that does not exist."""
    from .instruments import BASS_VOICES, CHORD_VOICES

    for r in RECIPES:
        for name in r.drum_patterns:
            assert name in DRUM_PATTERNS, (r.name, name)
        for name in (*r.comps, r.pad_comp):
            assert name in COMP_PATTERNS, (r.name, name)
        for name in r.bass_lines:
            assert name in BASS_LINES, (r.name, name)
        for name in r.scales:
            assert name in SCALES, (r.name, name)
        for name in r.bass:
            assert name in BASS_VOICES, (r.name, name)
        for name in r.chords + r.leads + r.pad:
            assert name in CHORD_VOICES or name in ("none", "acid"), (r.name, name)
        for name in r.blend_with:
            assert name in RECIPES_BY_NAME, (r.name, name)
    for pat in DRUM_PATTERNS.values():
        for steps in pat.values():
            assert len(steps) in (16, 32), steps



def recipes_markdown() -> str:
    """The recipes as two Markdown tables (what is played, how it is mixed) for the README.

    Generated from the data above so the documentation cannot drift from the generator;
    ``tests/synthetic/test_readme.py`` checks that the README holds exactly this text.
    """
    def span(lo: float, hi: float) -> str:
        return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"

    def choices(options: tuple[str, ...], rhythm: str = "") -> str:
        real = [o for o in options if o != "none"]
        if not real:
            return "none"
        text = ", ".join(real) + (f" ({rhythm})" if rhythm else "")
        return text + (" or none" if "none" in options else "")

    def level(db: float) -> str:
        return "0" if db == 0 else f"{db:+g}"

    played = ["| genre | BPM | drums | swing | bass (line) | chords (rhythm) | pad (rhythm) | lead "
              "| harmony (scales) |",
              "|---|---|---|---|---|---|---|---|---|"]
    mixed = ["| genre | levels in dB: drums, bass, chords, pad, lead | energy | tone | reverb | blends with |",
             "|---|---|---|---|---|---|"]
    for r in RECIPES:
        drums = f"{r.drum_feel}: {', '.join(r.drum_patterns)}" if r.drum_patterns else "none"
        unit = "eighths" if r.swing_unit == 8 else "sixteenths"
        swing = "none" if r.swing[1] == 0 else f"{span(*r.swing)} of {unit}"
        played.append(f"| {r.name} | {span(*r.tempo)} | {drums} | {swing} "
                      f"| {', '.join(r.bass)} ({', '.join(r.bass_lines)}) "
                      f"| {', '.join(r.chords)} ({', '.join(r.comps)}) | {choices(r.pad, r.pad_comp)} "
                      f"| {choices(r.leads)} | {', '.join(r.harmony)} ({', '.join(r.scales)}) |")
        levels = [level(r.levels[k]) for k in ("drums", "bass", "chords", "pad", "lead")]
        if not r.drum_patterns:
            levels[0] = "-"
        mixed.append(f"| {r.name} | {', '.join(levels)} | {span(*r.energy)} | {span(*r.tone)} "
                     f"| {span(*r.reverb)} | {', '.join(r.blend_with)} |")
    return "\n".join(played) + "\n\n" + "\n".join(mixed) + "\n"
