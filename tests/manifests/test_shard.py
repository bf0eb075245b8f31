"""--shard K/N: every item lands in exactly one shard, stably, and bad values get one line."""

from __future__ import annotations

import argparse

import pytest

from manifests.shard import Shard, add_shard_argument, parse_shard, shard_of


def test_shards_partition_the_work_evenly_and_exactly_once() -> None:
    ids = [f"t{i:015x}" for i in range(4000)]
    shards = [Shard(k, 4) for k in range(1, 5)]
    owned = [set(s.select(ids, key=str)) for s in shards]
    assert set().union(*owned) == set(ids)
    assert sum(len(o) for o in owned) == len(ids)  # no item in two shards
    assert all(900 < len(o) < 1100 for o in owned)  # even shares


def test_adding_items_never_moves_an_old_item_to_another_shard() -> None:
    before = {i: shard_of(f"track-{i}", 3) for i in range(100)}
    after = {i: shard_of(f"track-{i}", 3) for i in range(200)}
    assert all(after[i] == before[i] for i in before)


def test_default_is_everything() -> None:
    parser = argparse.ArgumentParser()
    add_shard_argument(parser)
    args = parser.parse_args([])
    assert args.shard.everything and args.shard.owns("anything")
    assert str(parser.parse_args(["--shard", "2/5"]).shard) == "2/5"


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "3", "1/-2"])
def test_bad_shard_is_a_one_line_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="x")
    add_shard_argument(parser)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--shard", text])
    assert exc.value.code == 2
    assert "is not a shard" in capsys.readouterr().err


def test_parse_accepts_spaces() -> None:
    assert parse_shard(" 1 / 2 ") == Shard(1, 2)
