"""A rerun of ``split`` after the collection grew keeps every earlier track in its split."""

from __future__ import annotations

import subprocess
import sys

from labeling.splits import build_groups, make_splits, run_split
from manifests import read_table
from manifests.ids import make_track_id
from manifests.layout import Layout
from manifests.schema import SPLITS_TABLE
from tests.fixtures.catalogue import make_catalogue

from .test_splits import REPO, _write, assert_no_leakage


def _splits(layout: Layout) -> dict[str, str]:
    return {r["track_id"]: r["split"] for r in read_table(layout.table_path("splits"), SPLITS_TABLE)}


def _grown_catalogue() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """The full catalogue, and its first part: three in five of its artist groups.

    Whole groups, so the tracks added later share no artist or recording with the earlier ones.
    """
    tracks, labels = make_catalogue()
    early = {t for i, g in enumerate(build_groups(tracks)) if i % 5 < 3 for t in g.track_ids}
    first = [(t, lb) for t, lb in zip(tracks, labels, strict=True) if t["track_id"] in early]
    return tracks, labels, [t for t, _ in first], [lb for _, lb in first]


def test_new_tracks_are_balanced_around_the_earlier_split(tmp_path) -> None:
    tracks, labels, early_tracks, early_labels = _grown_catalogue()
    assert 0.4 * len(tracks) < len(early_tracks) < 0.8 * len(tracks)
    layout = _write(tmp_path, early_tracks, early_labels)
    run_split(layout, seed=3)
    before = _splits(layout)

    _write(tmp_path, tracks, labels)
    result = run_split(layout, seed=3)
    after = _splits(layout)
    assert {t: after[t] for t in before} == before  # nothing the earlier run placed has moved
    assert set(after) == {t["track_id"] for t in tracks}
    assert result.kept == len(before) and result.moved == [] and result.placed == len(tracks) - len(before)
    assert_no_leakage(tracks, after)
    # the new tracks fill the splits towards the targets, genre by genre, about as well as a fresh split
    # (genres with a handful of artists cannot be balanced by either, so they are left out here)
    fresh = make_splits(tracks, labels, ratios={"train": 0.7, "validation": 0.15, "test": 0.15}, seed=3)
    fresh_dev = {b.genre: b.max_abs_deviation for b in fresh.balance}
    common = [b for b in result.balance if b.tracks >= 40]
    assert len(common) >= 8
    for b in common:
        assert b.max_abs_deviation <= max(0.03, fresh_dev[b.genre] + 0.015), b.genre
    assert "kept" in (tmp_path / "reports" / "splits.md").read_text(encoding="utf-8")


def test_a_new_credit_joining_two_splits_moves_the_smaller_side_and_says_so(tmp_path, caplog) -> None:
    tracks, labels = make_catalogue()
    layout = _write(tmp_path, tracks, labels)
    first = run_split(layout, seed=3)
    split_of = _splits(layout)
    # two single-artist groups in different splits, the train one bigger
    sizes = {g.name: g for g in first.groups if len(g.artists) == 1}
    big = max((g for g in sizes.values() if first.assignment[g.name] == "train"), key=lambda g: g.size)
    small = min((g for g in sizes.values() if first.assignment[g.name] == "test"), key=lambda g: g.size)
    by_id = {t["track_id"]: t for t in tracks}
    a, b = by_id[big.track_ids[0]]["artists"][0], by_id[small.track_ids[0]]["artists"][0]
    duet = {**by_id[big.track_ids[0]], "track_id": make_track_id("duet", f"{a}|{b}"), "title": "Our Duet",
            "artists": [a, b], "isrc": None}
    duet_label = {**next(lb for lb in labels if lb["track_id"] == big.track_ids[0]), "track_id": duet["track_id"]}
    _write(tmp_path, [*tracks, duet], [*labels, duet_label])

    result = run_split(layout, seed=3)
    after = _splits(layout)
    assert {after[t] for t in big.track_ids + small.track_ids + [duet["track_id"]]} == {"train"}
    assert sorted(t for t, _, _ in result.moved) == sorted(small.track_ids)
    assert all((old, new) == ("test", "train") for _, old, new in result.moved)
    assert result.kept == len(tracks) - small.size
    assert all(after[t] == s for t, s in split_of.items() if t not in small.track_ids)
    assert_no_leakage([*tracks, duet], after)
    assert any("changed split since the earlier run" in r.getMessage() for r in caplog.records)


def test_fresh_or_another_seed_ignores_the_earlier_split(tmp_path) -> None:
    tracks, labels, early_tracks, early_labels = _grown_catalogue()
    layout = _write(tmp_path, early_tracks, early_labels)
    run_split(layout, seed=3)
    _write(tmp_path, tracks, labels)
    fresh = run_split(layout, seed=3, fresh=True)
    assert fresh.kept == 0 and fresh.moved == []
    clean = _write(tmp_path / "clean", tracks, labels)
    run_split(clean, seed=3)
    assert layout.table_path("splits").read_bytes() == clean.table_path("splits").read_bytes()
    run_split(layout, seed=4)  # another seed: another draw, not a continuation
    run_split(clean, seed=4, fresh=True)
    assert layout.table_path("splits").read_bytes() == clean.table_path("splits").read_bytes()


def test_cli_says_what_it_kept(tmp_path) -> None:
    tracks, labels, early_tracks, early_labels = _grown_catalogue()
    _write(tmp_path, early_tracks, early_labels)
    cli = [sys.executable, "-m", "labeling", "split", "--data", str(tmp_path), "-q"]
    assert subprocess.run(cli, cwd=REPO, capture_output=True, text=True, timeout=120).returncode == 0
    _write(tmp_path, tracks, labels)
    out = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"kept {len(early_tracks)} tracks in their earlier split, placed {len(tracks) - len(early_tracks)} new" \
        in out.stdout
