"""An import killed with SIGKILL mid-run and rerun continues: finished files kept, the result as if never killed.

The killed run writes its tables after every file (``manifests.config.FLUSH_EVERY_ROWS`` is set
to 1 for it), so the kill lands between flushes with finished work on disk: the rerun must keep
those files (not convert them again), convert the rest, and end with the same tables as an
uninterrupted import; no worker may outlive the killed command, no temporary file may stay.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.cli import main as collectors_main
from tests.fixtures.processes import kill_leader_and_wait
from tests.fixtures.waiting import wait_until
from tests.local import media

REPO = Path(__file__).resolve().parents[2]
N_FILES = 36

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads the session's processes from /proc")


def _args(lib: Path, data: Path) -> list[str]:
    return ["import-audio", str(lib), "--layout", "genre", "--data", str(data), "--min-seconds", "1",
            "--workers", "1", "-q"]


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def _without_time(path: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != "updated_at"} for row in _rows(path)]


def test_kill_and_rerun_continues_to_the_same_result(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for i in range(N_FILES):
        genre = ("rock", "jazz", "pop")[i % 3]
        media.id3(media.tone(lib / genre / f"song{i:02d}.mp3", seconds=3, freq=200 + 20 * i), 4,
                  title=f"Song {i}", artists=[f"Artist {i % 5}"], genres=[genre.title()])
    data, reference = tmp_path / "data", tmp_path / "reference"

    code = ("import sys, manifests.config as c; c.FLUSH_EVERY_ROWS = 1; from collectors.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    err = tmp_path / "stderr.txt"
    with open(err, "wb") as handle:
        proc = subprocess.Popen([sys.executable, "-c", code, *_args(lib, data)], cwd=REPO, stderr=handle,
                                stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)},
                                start_new_session=True)
    downloads = data / "manifests" / "downloads.csv"
    try:
        wait_until(lambda: len(_rows(downloads)) >= 3 or proc.poll() is not None, timeout=120,
                   what="three finished files")
        if proc.poll() is not None:
            pytest.fail(f"the import ended before it could be killed: {err.read_text()}")
        left = kill_leader_and_wait(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert left == [], f"still running after the import was killed: {left}"
    assert "Traceback" not in err.read_text(errors="replace")
    done = {row["track_id"]: row for row in _rows(downloads)}
    assert 3 <= len(done) < N_FILES
    stamps = {tid: (data / row["audio_path"]).stat().st_mtime_ns for tid, row in done.items()}

    assert collectors_main(_args(lib, data)) == 0  # the rerun
    assert collectors_main(_args(lib, reference)) == 0  # never interrupted

    for tid, stamp in stamps.items():  # finished before the kill: kept, not converted again
        assert (data / done[tid]["audio_path"]).stat().st_mtime_ns == stamp
    for name in ("tracks.csv", "claims.csv"):
        assert (data / "manifests" / name).read_bytes() == (reference / "manifests" / name).read_bytes()
    assert _without_time(downloads) == _without_time(reference / "manifests" / "downloads.csv")
    assert len(_rows(downloads)) == N_FILES
    leftovers = [p for p in data.rglob("*") if ".tmp-" in p.name or p.name.endswith(".part")]
    assert leftovers == []
