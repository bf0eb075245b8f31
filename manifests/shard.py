"""``--shard K/N``: one deterministic share of a collection's work, by track ID (or file path).

N machines (or N IP addresses) that each run a stage with ``--shard 1/N`` ... ``--shard N/N``
do every item exactly once between them, without talking to each other: an item belongs to
shard ``sha1(key) mod N + 1``. A hash, not the row order, decides, so adding tracks to the
manifest later never moves an old track to another shard (a resumed shard finds its own
work again), and the shares are even whatever the IDs look like. ``python -m manifests
merge`` puts the shards' tables back together.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Shard", "add_shard_argument", "parse_shard", "shard_of"]

T = TypeVar("T")
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*\Z")


def shard_of(key: str, count: int) -> int:
    """The shard (1-based) that ``key`` belongs to when the work is cut into ``count`` shares."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, as people count machines: ``1/4`` ... ``4/4``)."""

    index: int = 1
    count: int = 1

    @property
    def everything(self) -> bool:
        return self.count == 1

    def owns(self, key: str) -> bool:
        """Whether ``key`` (a track ID, or a path for work without IDs yet) is this shard's work."""
        return self.everything or shard_of(key, self.count) == self.index

    def select(self, items: Iterable[T], key: Callable[[T], str]) -> Iterator[T]:
        """The items this shard owns, in their order."""
        return (item for item in items if self.owns(key(item)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> ``Shard(2, 4)``; a one-line ``argparse`` error for anything else."""
    match = _SHARD.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard: write K/N, e.g. 1/4 (this machine "
                                         "does the first of 4 shares)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard: K must be between 1 and N (1/{max(count, 1)}"
                                         f" ... {max(count, 1)}/{max(count, 1)})")
    return Shard(index, count)


parse_shard.__name__ = "shard"  # argparse shows it in "invalid shard value" messages


def add_shard_argument(parser: argparse.ArgumentParser, what: str = "tracks", by: str = "the track ID",
                       join: str = "join the results with 'python -m manifests merge'") -> None:
    """The one ``--shard K/N`` option (same name, meaning and default in every command).

    ``by`` names the key hashed (a track ID, or a path where there are no IDs yet) and ``join``
    says how the shards' results come back together.
    """
    parser.add_argument("--shard", type=parse_shard, default=Shard(), metavar="K/N",
                        help=f"do only share K of N of the {what}, chosen by a hash of {by}, "
                             f"so N machines can split one collection (default: 1/1, everything); {join}")
