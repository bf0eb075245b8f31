"""The synthetic corpus is written like a real collection, deterministically, and resumes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from collectors.cli import main as collectors_main
from collectors.synthetic.corpus import (
    CorpusConfig,
    CorpusError,
    plan,
    sha256_file,
    write_corpus,
)
from collectors.synthetic.genres import GENRES, recipe
from manifests import Layout, read_table, write_table
from manifests.schema import CLAIMS, DOWNLOADS, PLAYLISTS, TRACKS

#: 9 genres x 2 artists x 2 tracks x ~3 s: every feature of the corpus, in about a second
TINY = CorpusConfig(seed=3, tracks_per_genre=4, artists_per_genre=2, seconds=3.0, blend=0.3)


def _write(root: Path, config: CorpusConfig = TINY, workers: int = 1, **kw):
    return write_corpus(Layout.at(root), config, workers=workers, **kw)


def _tables(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "manifests").glob("*.csv"))}


def _shas(root: Path) -> dict[str, str]:
    return {p.stem: sha256_file(p) for p in sorted((root / "audio").glob("*.wav"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    summary = _write(root)
    assert summary.rendered == summary.tracks == 36
    return root


def test_same_seed_gives_identical_files_whatever_the_worker_count(corpus: Path, tmp_path: Path) -> None:
    _write(tmp_path, workers=2)
    assert _shas(tmp_path) == _shas(corpus)
    assert _tables(tmp_path) == _tables(corpus)
    assert (tmp_path / "reports" / "synthetic_corpus.json").read_bytes() == \
        (corpus / "reports" / "synthetic_corpus.json").read_bytes()


def test_another_seed_gives_other_tracks_and_audio(corpus: Path, tmp_path: Path) -> None:
    other = CorpusConfig(seed=4, tracks_per_genre=4, artists_per_genre=2, seconds=3.0, blend=0.3)
    _write(tmp_path, other)
    assert set(_shas(tmp_path).values()).isdisjoint(_shas(corpus).values())
    assert set(_shas(tmp_path)).isdisjoint(_shas(corpus))


def test_manifests_read_back_and_describe_the_audio(corpus: Path) -> None:
    layout = Layout.at(corpus)
    tracks = {r["track_id"]: r for r in read_table(layout.table_path(TRACKS), TRACKS)}
    claims = read_table(layout.table_path(CLAIMS), CLAIMS)
    downloads = {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}
    playlists = read_table(layout.table_path(PLAYLISTS), PLAYLISTS)
    assert len(tracks) == 36 and set(downloads) == set(tracks)
    assert {r["origin"] for r in tracks.values()} == {"synthetic"}
    assert {c["source"] for c in claims} == {"synthetic"}
    assert {c["evidence"] for c in claims} == {"synthetic:3"}
    assert {c["raw_genre"] for c in claims} == set(GENRES)
    assert {p["playlist_id"] for p in playlists} == {f"synthetic:{g}" for g in GENRES}
    for track_id, row in downloads.items():
        assert row["status"] == "ok" and row["youtube_id"] is None
        assert row["audio_path"] == f"audio/{track_id}.wav"
        path = layout.resolve(row["audio_path"])
        assert sha256_file(path) == row["sha256"]
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert info.frames / 16000 == pytest.approx(row["audio_duration_s"], abs=1e-3)
        assert tracks[track_id]["duration_ms"] == round(info.frames / 16)
        assert 0.8 * 3.0 - 0.01 <= info.frames / 16000 <= 1.2 * 3.0 + 0.01
        audio, _ = sf.read(str(path))
        assert 0.1 < abs(audio).max() < 1.0  # never clipped, never silent (artists master at different levels)


def test_multi_genre_tracks_have_two_claims_and_two_playlists(corpus: Path) -> None:
    layout = Layout.at(corpus)
    claims = read_table(layout.table_path(CLAIMS), CLAIMS)
    tracks = {r["track_id"]: r for r in read_table(layout.table_path(TRACKS), TRACKS)}
    by_track: dict[str, dict[str, float]] = {}
    for c in claims:
        by_track.setdefault(c["track_id"], {})[c["raw_genre"]] = c["weight"]
    blended = {t: g for t, g in by_track.items() if len(g) == 2}
    assert 0 < len(blended) < len(by_track)
    for track_id, genres in blended.items():
        primary = next(g for g, w in genres.items() if w == 1.0)
        secondary = next(g for g, w in genres.items() if w == 0.5)
        assert secondary in recipe(primary).blend_with
        assert tracks[track_id]["playlists"] == [f"synthetic:{primary}", f"synthetic:{secondary}"]
    assert all(sorted(g.values()) == [1.0] for t, g in by_track.items() if t not in blended)


def test_every_artist_has_several_tracks_of_one_genre(corpus: Path) -> None:
    tracks = read_table(Layout.at(corpus).table_path(TRACKS), TRACKS)
    by_artist: dict[str, list[dict]] = {}
    for row in tracks:
        assert len(row["artists"]) == 1
        by_artist.setdefault(row["artists"][0], []).append(row)
    assert len(by_artist) == 18
    assert all(len(rows) >= 2 for rows in by_artist.values())
    specs = plan(TINY)
    genre_of = {s.artist.name: {x.genre for x in specs if x.artist.name == s.artist.name} for s in specs}
    assert all(len(g) == 1 for g in genre_of.values())
    titles = [(r["artists"][0], r["title"]) for r in tracks]
    assert len(set(titles)) == len(titles)  # the audit must not see duplicates


def test_rerun_keeps_finished_files_and_repairs_damaged_ones(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(corpus, root)
    before = _shas(root)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (root / "audio").glob("*.wav")}
    summary = _write(root)
    assert (summary.rendered, summary.kept) == (0, 36)
    assert {p.name: p.stat().st_mtime_ns for p in (root / "audio").glob("*.wav")} == mtimes

    victims = sorted(before)[:3]
    (root / "audio" / f"{victims[0]}.wav").unlink()  # lost file
    damaged = root / "audio" / f"{victims[1]}.wav"
    damaged.write_bytes(damaged.read_bytes()[:-100])  # truncated file
    layout = Layout.at(root)
    rows = [r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS) if r["track_id"] != victims[2]]
    write_table(layout.table_path(DOWNLOADS), DOWNLOADS, rows)  # killed before its row was flushed
    summary = _write(root)
    assert (summary.rendered, summary.kept) == (3, 33)
    assert _shas(root) == before
    assert _tables(root) == _tables(corpus)


def test_a_real_collection_is_never_overwritten(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    real = [{"track_id": "t0000000000000a", "title": "Song", "artists": ["Band"], "origin": "spotify"}]
    write_table(layout.table_path(TRACKS), TRACKS, real)
    before = layout.table_path(TRACKS).read_bytes()
    with pytest.raises(CorpusError, match="real collection"):
        _write(tmp_path)
    assert layout.table_path(TRACKS).read_bytes() == before
    assert not layout.audio.exists() or not any(layout.audio.iterdir())


@pytest.mark.parametrize(("kw", "message"), [
    ({"tracks_per_genre": 3, "artists_per_genre": 2}, "at least 2 tracks"),
    ({"seconds": 0.5}, "--seconds"),
    ({"genres": ("polka",)}, "unknown synthetic genre 'polka'"),
    ({"blend": 1.5}, "--blend"),
])
def test_bad_sizes_are_refused_with_the_option_named(kw: dict, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        plan(CorpusConfig(**kw))


def test_command_line_writes_a_corpus_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["corpus", "--data", str(tmp_path), "--seed", "5", "--tracks-per-genre", "2", "--artists-per-genre",
            "1", "--seconds", "2", "--genres", "house,techno", "--workers", "1"]
    assert collectors_main(args) == 0
    out = capsys.readouterr().out
    assert "4 tracks by 2 artists in 2 genres" in out and "rendered 4, kept 0" in out
    assert len(list((tmp_path / "audio").glob("*.wav"))) == 4
    assert collectors_main(args) == 0
    assert "rendered 0, kept 4" in capsys.readouterr().out


def test_command_line_rejects_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = collectors_main(["corpus", "--data", str(tmp_path), "--tracks-per-genre", "3"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --tracks-per-genre 3") and "\n" not in err
    assert not (tmp_path / "manifests").exists()
    code = collectors_main(["corpus", "--data", str(tmp_path), "--genres", "rock,polka"])
    assert code == 2 and "polka" in capsys.readouterr().err
