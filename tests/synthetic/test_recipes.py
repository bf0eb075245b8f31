"""Each genre recipe produces its defining trait in the audio, and artists sound like themselves.

Tracks are rendered in memory (no files) at a few seconds each; the measurements are the
ones a listener would make: tempo from the kick, how much of the signal is percussive,
brightness and dynamics, and how close two tracks of one artist sound.
"""

from __future__ import annotations

from functools import cache

import librosa
import numpy as np
import pytest

from collectors.synthetic.arrange import Grid, TrackSpec, arrangement, render
from collectors.synthetic.corpus import CorpusConfig, plan
from collectors.synthetic.genres import DRUM_PATTERNS, GENRES, RECIPES, recipe

SR = 16000
#: 3 artists x 2 tracks per genre, 8 s each, no blends: clean examples of every recipe
CONFIG = CorpusConfig(seed=11, tracks_per_genre=6, artists_per_genre=3, seconds=8.0, blend=0.0)


@cache
def _specs() -> tuple[TrackSpec, ...]:
    return tuple(plan(CONFIG))


@cache
def _audio(track_id: str) -> np.ndarray:
    spec = next(s for s in _specs() if s.track_id == track_id)
    return render(spec)


def _tracks(genre: str) -> list[tuple[TrackSpec, np.ndarray]]:
    return [(s, _audio(s.track_id)) for s in _specs() if s.genre == genre]


def _kick_tempo(audio: np.ndarray, low_bpm: float, high_bpm: float) -> float:
    """Tempo from the autocorrelation of onsets below 150 Hz (where the kick lives)."""
    spec = np.abs(librosa.stft(audio, n_fft=1024, hop_length=128))
    low = spec[:10].sum(axis=0)
    flux = np.maximum(np.diff(low), 0)
    flux -= flux.mean()
    acf = np.correlate(flux, flux, "full")[len(flux) - 1:]
    fps = SR / 128
    lags = np.arange(1, len(acf))
    bpm = 60 * fps / lags
    window = (bpm >= low_bpm / 1.5) & (bpm <= high_bpm * 1.5)  # excludes double and half tempo
    return float(60 * fps / lags[window][np.argmax(acf[1:][window])])


def _percussive_share(audio: np.ndarray) -> float:
    power = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256)) ** 2
    harmonic, percussive = librosa.decompose.hpss(power)
    return float(percussive.sum() / (harmonic.sum() + percussive.sum()))


def _crest(audio: np.ndarray) -> float:
    return float(np.abs(audio).max() / np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def _centroid(audio: np.ndarray) -> float:
    return float(librosa.feature.spectral_centroid(y=audio, sr=SR).mean())


def test_nine_distinct_genres_with_canonical_names() -> None:
    assert len(GENRES) == 9 and len(set(GENRES)) == 9
    assert set(GENRES) >= {"ambient", "drum and bass", "liquid funk", "hip hop", "house", "jazz", "reggae",
                           "rock", "techno"}
    feels = {r.drum_feel.split(" ")[0] for r in RECIPES}
    assert feels >= {"four-on-the-floor", "breakbeat", "backbeat", "half-time", "swing", "none"}


@pytest.mark.parametrize("genre", ["house", "techno"])
def test_four_on_the_floor_kick_gives_the_tempo(genre: str) -> None:
    low, high = recipe(genre).tempo
    for spec, audio in _tracks(genre):
        tempo = arrangement(spec).tempo
        assert low <= tempo <= high
        assert _kick_tempo(audio, low, high) == pytest.approx(tempo, rel=0.03), spec.artist.name


def test_four_on_the_floor_means_a_kick_on_every_beat() -> None:
    for name in ("house_classic", "house_deep", "techno_drive", "techno_hypnotic"):
        assert [i for i, ch in enumerate(DRUM_PATTERNS[name]["kick"]) if ch != "."] == [0, 4, 8, 12]
    for name in ("break_two_step", "break_amen", "break_rolling", "one_drop", "rock_straight"):
        kicks = [i for i, ch in enumerate(DRUM_PATTERNS[name]["kick"]) if ch != "."]
        assert kicks[:4] != [0, 4, 8, 12]


def test_ambient_has_no_drums() -> None:
    assert recipe("ambient").drum_patterns == ()
    ambient = [_percussive_share(a) for _, a in _tracks("ambient")]
    drums = [_percussive_share(a) for g in ("drum and bass", "house", "techno", "rock", "jazz")
             for _, a in _tracks(g)]
    assert max(ambient) < 0.05
    # Soft drum kits (brushes, quiet mixes) overlap the loudest ambient textures, so compare
    # with a typical drum track rather than the quietest one.
    assert max(ambient) < 0.6 * float(np.median(drums))


def test_the_hard_pair_shares_tempo_and_drums_but_not_energy_or_timbre() -> None:
    dnb, liquid = recipe("drum and bass"), recipe("liquid funk")
    assert dnb.tempo == liquid.tempo and dnb.drum_patterns == liquid.drum_patterns
    assert dnb.drum_feel == liquid.drum_feel == "breakbeat"
    hard, soft = _tracks("drum and bass"), _tracks("liquid funk")
    for spec, _ in hard + soft:
        assert 170 <= arrangement(spec).tempo <= 176
    # drum and bass is compressed harder (lower crest factor) and brighter on average
    assert np.mean([_crest(a) for _, a in hard]) < np.mean([_crest(a) for _, a in soft])
    assert np.mean([_centroid(a) for _, a in hard]) > 1.15 * np.mean([_centroid(a) for _, a in soft])
    assert {s.artist.bass for s, _ in hard} <= {"reese", "fm"}
    assert {s.artist.bass for s, _ in soft} <= {"sub", "pluck"}


def test_swing_delays_the_off_beat_eighths() -> None:
    rng = np.random.default_rng(0)
    straight = Grid(120.0, 0.0, 8, 0.0, rng)
    swung = Grid(120.0, 1.0, 8, 0.0, rng)
    beat = int(0.5 * SR)
    assert straight.sample(0, 2) == beat // 2
    assert swung.sample(0, 2) == round(beat * 2 / 3)  # full triplet swing: the "and" at 2/3 of the beat
    assert swung.sample(0, 4) == beat  # the beat itself does not move
    assert min(recipe("jazz").swing) >= 0.7 and max(recipe("techno").swing) <= 0.1


def test_artists_sound_like_themselves() -> None:
    """Two tracks by one artist are closer in timbre than tracks by two artists of the same genre."""
    within, between = [], []
    for genre in GENRES:
        tracks = _tracks(genre)
        feats = [librosa.feature.mfcc(y=a, sr=SR, n_mfcc=20).mean(axis=1) for _, a in tracks]
        for i in range(len(tracks)):
            for j in range(i + 1, len(tracks)):
                same = tracks[i][0].artist.name == tracks[j][0].artist.name
                (within if same else between).append(float(np.linalg.norm(feats[i] - feats[j])))
    # The latest recipes keep fingerprints subtler (so the baseline cannot memorise artists),
    # but two tracks of one artist must still be clearly closer than two artists of a genre.
    assert np.mean(within) < 0.9 * np.mean(between)


def test_artist_fingerprint_is_fixed_across_tracks() -> None:
    by_artist: dict[str, list[TrackSpec]] = {}
    for spec in _specs():
        by_artist.setdefault(spec.artist.name, []).append(spec)
    for specs in by_artist.values():
        assert len(specs) >= 2
        assert all(s.artist == specs[0].artist for s in specs)  # one kit, one EQ, one set of voices
        arrangements = [arrangement(s) for s in specs]
        assert len({(a.chord_voice, a.comp, a.lead, a.pad) for a in arrangements}) == 1
        assert len({a.key for a in arrangements} | {a.tempo for a in arrangements}) > 1  # the songs differ


def test_blended_track_takes_its_harmony_from_the_second_genre() -> None:
    specs = plan(CorpusConfig(seed=2, tracks_per_genre=4, artists_per_genre=2, seconds=2.0, blend=1.0))
    assert all(s.secondary in recipe(s.genre).blend_with for s in specs)
    for spec in specs:
        second = recipe(spec.secondary)
        arr = arrangement(spec)
        assert arr.chord_voice in second.chords and arr.comp in second.comps
        assert recipe(spec.genre).tempo[0] <= arr.tempo <= recipe(spec.genre).tempo[1]
