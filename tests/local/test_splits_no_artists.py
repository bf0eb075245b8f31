"""Tracks without a known artist in the split: never one giant group, placed as ``--no-artists`` says, with a warning."""

from __future__ import annotations

from typing import Any

import pytest

from labeling.cmd_split import register
from labeling.splits import NO_ARTIST_POLICIES, build_groups, is_unknown_artist, make_splits
from manifests.errors import UserError
from manifests.ids import UNKNOWN_ARTIST

RATIOS = {"train": 0.6, "validation": 0.2, "test": 0.2}


def _catalogue() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tracks, labels = [], []
    for i in range(12):  # GTZAN style: no artist, no album
        tracks.append({"track_id": f"tg{i:03d}", "title": f"blues.{i:05d}", "artists": ["[unknown]"]})
    for i in range(6):  # untagged CD rips: "Unknown Artist", two albums, the same track titles
        tracks.append({"track_id": f"tc{i:03d}", "title": f"Track {i % 3 + 1:02d}", "artists": ["Unknown Artist"],
                       "album": f"Unknown Album {i // 3}"})
    for i in range(6):  # known artists
        tracks.append({"track_id": f"tk{i:03d}", "title": f"Song {i}", "artists": [f"Band {i // 2}"]})
    for n, t in enumerate(tracks):
        labels.append({"track_id": t["track_id"], "status": "ok", "genres": {"blues" if n % 2 else "rock": 1.0}})
    return tracks, labels


def test_the_credit_import_writes_is_unknown_to_the_split() -> None:
    assert is_unknown_artist(UNKNOWN_ARTIST)  # one definition (manifests.ids) for import, splits and audit
    for name in ("[unknown]", "Unknown Artist", "unknown", "Various Artists", "[no artist]"):
        assert is_unknown_artist(name), name
    assert not is_unknown_artist("The Unknown") and not is_unknown_artist("Unknown Mortal Orchestra")


def test_unknown_credits_link_nothing() -> None:
    tracks, _ = _catalogue()
    groups = build_groups(tracks)
    sizes = sorted(g.size for g in groups)
    assert sizes == [1] * 18 + [2, 2, 2]  # the bands' pairs; every anonymous track alone
    by_album = build_groups(tracks, "album")
    assert sorted(g.size for g in by_album) == [1] * 12 + [2, 2, 2, 3, 3]


@pytest.mark.parametrize("policy", NO_ARTIST_POLICIES)
def test_policies_and_their_warning(policy: str) -> None:
    tracks, labels = _catalogue()
    result = make_splits(tracks, labels, ratios=RATIOS, seed=1, no_artists=policy)
    warning = next(w for w in result.warnings if "no known artist" in w)
    assert warning.startswith("18 tracks have no known artist") and f"--no-artists {policy}" in warning
    if policy == "exclude":
        assert len(result.rows) == 6 and "optimistic" not in warning
        assert result.skipped["without a known artist (--no-artists exclude)"] == 18
    else:
        assert len(result.rows) == 24 and "test accuracy may be optimistic" in warning
        assert {r["split"] for r in result.rows if r["track_id"].startswith("tg")} == {"train", "validation", "test"}
    if policy == "album":
        split_of = {r["track_id"]: r["split"] for r in result.rows}
        assert len({split_of[f"tc{i:03d}"] for i in range(3)}) == 1  # one album stays together


def test_an_unknown_policy_is_refused() -> None:
    tracks, labels = _catalogue()
    with pytest.raises(UserError, match="--no-artists"):
        make_splits(tracks, labels, ratios=RATIOS, seed=1, no_artists="guess")


def test_the_command_offers_every_policy() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    action = next(a for a in parser._subparsers._group_actions[0].choices["split"]._actions  # type: ignore[union-attr]
                  if "--no-artists" in a.option_strings)
    assert tuple(action.choices or ()) == NO_ARTIST_POLICIES
