"""Splits: no artist and no recording in two splits, stratified over genres, seeded, ratios honoured."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from labeling.splits import (
    ALL_TRACKS,
    DEFAULT_RATIOS,
    artist_key,
    assign_groups,
    balance,
    build_groups,
    make_splits,
    parse_ratios,
    run_split,
)
from manifests import read_table, write_table
from manifests.errors import UserError
from manifests.ids import artist_title_key
from manifests.layout import Layout
from manifests.schema import DOWNLOADS, LABELS, OVERRIDES, SPLITS_TABLE, TRACKS
from tests.fixtures.catalogue import GENRES, make_catalogue

REPO = Path(__file__).resolve().parents[2]


def _write(root: Path, tracks: list[dict], labels: list[dict]) -> Layout:
    layout = Layout(root)
    write_table(layout.table_path("tracks"), TRACKS, tracks)
    write_table(layout.table_path("labels"), LABELS, labels)
    return layout


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labeling", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def catalogue() -> tuple[list[dict], list[dict]]:
    return make_catalogue()


def assert_no_leakage(tracks: list[dict], split_of: dict[str, str]) -> None:
    """Every artist, ISRC and artist+title key lives in exactly one split."""
    seen: dict[str, set[str]] = defaultdict(set)
    for t in tracks:
        split = split_of.get(t["track_id"])
        if split is None:
            continue
        keys = [f"artist:{artist_key(a)}" for a in t["artists"]]
        keys.append(f"recording:{artist_title_key(t['artists'], t['title'])}")
        if t.get("isrc"):
            keys.append(f"isrc:{t['isrc']}")
        for key in keys:
            seen[key].add(split)
    leaks = {k: v for k, v in seen.items() if len(v) > 1}
    assert not leaks, f"keys in several splits: {sorted(leaks.items())[:5]}"


def test_catalogue_is_the_hard_case(catalogue):
    """The generated catalogue really has what the split must cope with."""
    tracks, labels = catalogue
    artists = {a for t in tracks for a in t["artists"]}
    assert len({artist_key(a) for a in artists}) >= 200
    by_artist = defaultdict(set)
    for t, lb in zip(tracks, labels, strict=True):
        by_artist[t["artists"][0]].add(lb["top_genre"])
    assert sum(1 for g in by_artist.values() if len(g) > 1) >= 20  # artists with tracks in several genres
    assert sum(1 for t in tracks if len(t["artists"]) > 1) >= 20  # featuring credits
    assert sum(1 for t in tracks if t["artists"][0].startswith("Alias")) == 12  # same ISRC, other credit


def test_split_cli_writes_a_leak_free_table(tmp_path, catalogue):
    tracks, labels = catalogue
    layout = _write(tmp_path, tracks, labels)
    result = _cli("split", "--data", str(tmp_path), "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert "max dev" in result.stdout and "wrote" in result.stdout
    rows = read_table(layout.table_path("splits"), SPLITS_TABLE)
    split_of = {r["track_id"]: r["split"] for r in rows}
    assert set(split_of) == {t["track_id"] for t in tracks}  # every usable track is assigned
    assert {r["seed"] for r in rows} == {5}
    assert_no_leakage(tracks, split_of)
    # the planted duplicates (other IDs, other artist spelling or only the same ISRC) share a split
    by_isrc = defaultdict(set)
    for t in tracks:
        if t.get("isrc"):
            by_isrc[t["isrc"]].add(split_of[t["track_id"]])
    assert all(len(s) == 1 for s in by_isrc.values())
    # a group is the unit: all of its tracks share one split
    by_group = defaultdict(set)
    for r in rows:
        by_group[r["group"]].add(r["split"])
    assert all(len(s) == 1 for s in by_group.values())
    report = (tmp_path / "reports" / "splits.md").read_text(encoding="utf-8")
    for genre in GENRES:
        assert f"| {genre} |" in report


def test_same_seed_same_file_other_seed_other_file(tmp_path, catalogue):
    tracks, labels = catalogue
    layout = _write(tmp_path, tracks, labels)
    path = layout.table_path("splits")
    run_split(layout, seed=11)
    first = path.read_bytes()
    run_split(layout, seed=11)
    assert path.read_bytes() == first
    # the input order does not matter either
    _write(tmp_path, tracks[::-1], labels[::-1])
    run_split(layout, seed=11)
    assert path.read_bytes() == first
    run_split(layout, seed=12)
    other = path.read_bytes()
    assert other != first
    a = {r["track_id"]: r["split"] for r in read_table(path, SPLITS_TABLE)}
    assert_no_leakage(tracks, a)


@pytest.mark.parametrize("ratios", ["0.7,0.15,0.15", "0.5,0.25,0.25", "8,1,1"])
def test_ratios_honoured_and_genres_stratified(catalogue, ratios):
    tracks, labels = catalogue
    wanted = parse_ratios(ratios)
    result = make_splits(tracks, labels, ratios=wanted, seed=3)
    n = len(result.rows)
    for split, count in result.counts.items():
        assert abs(count / n - wanted[split]) < 0.02, (split, count, n)
    by_genre = {b.genre: b for b in result.balance}
    assert set(by_genre) == {ALL_TRACKS, *GENRES}
    for genre, b in by_genre.items():
        assert b.deviations == pytest.approx({s: b.shares[s] - wanted[s] for s in wanted})
        if b.tracks >= 60:  # common genres land within a few points of every target
            assert b.max_abs_deviation < 0.04, (genre, b.shares)
    text = result.table_text()
    assert all(genre in text for genre in GENRES)


def test_stratification_beats_random_group_assignment(catalogue):
    """The greedy assignment spreads genres far better than throwing whole groups at random."""
    tracks, labels = catalogue
    result = make_splits(tracks, labels, ratios=DEFAULT_RATIOS, seed=1)
    common = [b.genre for b in result.balance if b.tracks >= 60 and b.genre != ALL_TRACKS]
    ours = statistics.mean(b.max_abs_deviation for b in result.balance if b.genre in common)
    groups = result.groups
    genres_of = {lb["track_id"]: lb["genres"] for lb in labels}
    random_scores = []
    for seed in range(5):
        rng = random.Random(seed)
        split_of = {}
        for g in groups:
            split = rng.choices(list(DEFAULT_RATIOS), list(DEFAULT_RATIOS.values()))[0]
            split_of.update(dict.fromkeys(g.track_ids, split))
        rows = [{"track_id": tid, "genres": genres_of[tid]} for tid in split_of]
        random_scores.append(statistics.mean(b.max_abs_deviation for b in balance(rows, split_of, DEFAULT_RATIOS)
                                             if b.genre in common))
    assert ours < 0.5 * statistics.median(random_scores), (ours, random_scores)


def test_dropped_unlabeled_and_unknown_tracks_are_not_assigned(tmp_path, catalogue):
    tracks, labels = [list(x) for x in catalogue]
    labels = [dict(lb) for lb in labels]
    labels[0].update(status="dropped", reason="override")
    labels[1].update(status="unlabeled", genres={}, top_genre=None, sources={})
    labels[2].update(status="ambiguous", top_genre=None)
    overridden = labels[3]["track_id"]
    no_labels = tracks[4]["track_id"]
    labels = [lb for lb in labels if lb["track_id"] != no_labels]
    layout = _write(tmp_path, tracks, labels)
    write_table(layout.overrides, OVERRIDES, [{"track_id": overridden, "action": "drop"}])
    result = run_split(layout, seed=1)
    assigned = {r["track_id"] for r in read_table(layout.table_path("splits"), SPLITS_TABLE)}
    assert labels[0]["track_id"] not in assigned
    assert labels[1]["track_id"] not in assigned
    assert labels[2]["track_id"] in assigned  # ambiguous tracks keep their multi-label view
    assert overridden not in assigned
    assert no_labels not in assigned
    assert result.skipped == {"dropped": 2, "unlabeled": 1, "without a labels row": 1}
    assert any("no labels row" in w for w in result.warnings)


def test_giant_component_is_kept_whole_and_reported(catalogue, caplog):
    """A producer featured on a third of the tracks links their artists into one group."""
    tracks = [dict(t) for t in catalogue[0]]
    for i, t in enumerate(tracks):
        if i % 3 == 0:
            t["artists"] = [*t["artists"], "Omnipresent Producer"]
    result = make_splits(tracks, catalogue[1], ratios=DEFAULT_RATIOS, seed=2)
    giant = max(result.groups, key=lambda g: g.size)
    assert giant.size > 0.3 * len(tracks)
    assert "omnipresent producer" in giant.artists
    warning = next(w for w in result.warnings if w.startswith("giant group"))
    assert "omnipresent producer" in warning and f"{giant.size} tracks" in warning
    assert "giant group" in caplog.text
    split_of = {r["track_id"]: r["split"] for r in result.rows}
    assert {split_of[t] for t in giant.track_ids} == {"train"}  # only train has room for it
    assert_no_leakage(tracks, split_of)
    assert all(result.counts[s] > 0 for s in DEFAULT_RATIOS)  # the others still get the rest


def test_zero_ratio_leaves_a_split_empty(catalogue):
    result = make_splits(*catalogue, ratios=parse_ratios("0.8,0.2,0"), seed=1)
    assert result.counts["test"] == 0 and result.counts["validation"] > 0
    assert not any("empty" in w for w in result.warnings)


def test_parse_ratios():
    assert parse_ratios("8,1,1") == pytest.approx({"train": 0.8, "validation": 0.1, "test": 0.1})
    for bad in ("0.7,0.3", "a,b,c", "0.7,-0.1,0.4", "0,0,0", "0,0.5,0.5", "nan,1,1"):
        with pytest.raises(UserError):
            parse_ratios(bad)


def test_groups_link_featuring_isrc_and_artist_spelling():
    tracks = [
        {"track_id": "a1", "title": "One", "artists": ["Beyoncé"], "genres": {"pop": 1.0}},
        {"track_id": "a2", "title": "Two", "artists": ["Jay-Z", "BEYONCE"], "genres": {"hip hop": 1.0}},
        {"track_id": "a3", "title": "Three", "artists": ["JAY Z"], "genres": {"hip hop": 1.0}},
        {"track_id": "b1", "title": "Song", "artists": ["Someone"], "isrc": "USAAA0000001", "genres": {"rock": 1}},
        {"track_id": "b2", "title": "Song (Live)", "artists": ["Other Name"], "isrc": "USAAA0000001",
         "genres": {"rock": 1}},
        {"track_id": "c1", "title": "Alone", "artists": ["!!!"], "genres": {"rock": 1.0}},
        {"track_id": "c2", "title": "Alone 2", "artists": ["???"], "genres": {"rock": 1.0}},
    ]
    groups = {frozenset(g.track_ids) for g in build_groups(tracks)}
    assert groups == {frozenset({"a1", "a2", "a3"}), frozenset({"b1", "b2"}), frozenset({"c1"}),
                      frozenset({"c2"})}
    names = [g.name for g in build_groups(tracks)]
    assert "beyonce" in names or "jay z" in names
    assert assign_groups([], DEFAULT_RATIOS, 1) == {}


def test_cli_errors_are_one_line(tmp_path, catalogue):
    result = _cli("split", "--data", str(tmp_path), "--ratios", "0.7,0.3")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--ratios" in result.stderr
    result = _cli("split", "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "tracks.csv" in result.stderr
    assert not (tmp_path / "manifests" / "splits.csv").exists()


def test_identical_audio_links_tracks(tmp_path):
    """Two IDs whose downloads are byte-identical are one recording, even with unrelated tags."""
    tracks, labels = make_catalogue(n_artists=30, seed=2)
    a, b = tracks[0]["track_id"], tracks[-30]["track_id"]
    layout = _write(tmp_path, tracks, labels)
    write_table(layout.table_path("downloads"), DOWNLOADS, [
        {"track_id": tid, "status": "ok", "sha256": "ab" * 32} for tid in (a, b)])
    for seed in range(4):
        run_split(layout, seed=seed)
        rows = {r["track_id"]: r for r in read_table(layout.table_path("splits"), SPLITS_TABLE)}
        assert rows[a]["group"] == rows[b]["group"]
