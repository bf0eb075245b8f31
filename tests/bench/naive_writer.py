"""A deliberately careless writer, for the chaos benchmark's own test: the harness must catch what it leaves.

``python -m tests.bench.naive_writer DATA`` writes ``DATA/manifests/tracks.csv`` in place, a few
bytes at a time (no temporary file, no rename), and a rerun keeps any file it finds, as a stage
that "resumes" by skipping finished outputs would.  Killed mid-write, it leaves a truncated table
that the rerun does not repair: the chaos harness must report it corrupt and not converged.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from manifests.io import render
from manifests.schema import TRACKS
from tests.fixtures.corpus import track_row

CHUNKS = 50
PAUSE_S = 0.03


def main(argv: list[str]) -> int:
    target = Path(argv[0]) / "manifests" / "tracks.csv"
    if target.exists():
        return 0
    text = render(TRACKS, [track_row(f"tnaive{i:05d}", f"Song {i}", ["Band"]) for i in range(60)]).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    step = -(-len(text) // CHUNKS)
    with target.open("wb") as handle:
        for start in range(0, len(text), step):
            handle.write(text[start:start + step])
            handle.flush()
            time.sleep(PAUSE_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
