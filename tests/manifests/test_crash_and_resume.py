"""A killed writer never leaves a half-written manifest; a rerun resumes without losing rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from manifests import TABLES, TableStore, read_table, write_table
from manifests.overrides import Overrides
from tests.fixtures.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]

# The child writes a big table; os.fsync is patched to announce that the temporary file is
# fully written and then hang, so the parent kills it at the worst moment: before the rename.
KILL_BEFORE_RENAME = r"""
import os, sys, time
from pathlib import Path
from manifests import TABLES, write_table
target, flag = Path(sys.argv[1]), Path(sys.argv[2])
def hang(fd):
    flag.write_text("temp file written")
    time.sleep(60)
os.fsync = hang
rows = [{"track_id": f"t{i:06d}", "title": "new " * 50, "artists": ["X"], "origin": "csv"}
        for i in range(20000)]
write_table(target, TABLES["tracks"], rows)
"""

# The child flushes a growing TableStore as fast as it can until it is killed.
KILL_WHILE_FLUSHING = r"""
import sys
from manifests import TABLES, TableStore
store = TableStore(sys.argv[1], TABLES["tracks"], flush_every=1)
i = len(store)
while True:
    store.put({"track_id": f"t{i:06d}", "title": "song " * 40, "artists": ["A", "B"], "origin": "csv"})
    i += 1
"""


def _spawn(script: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env, cwd=REPO)


def test_kill_before_rename_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "tracks.csv"
    old = [{"track_id": "t000old", "title": "old", "artists": ["A"], "origin": "csv"}]
    write_table(target, TABLES["tracks"], old)
    before = target.read_bytes()
    flag = tmp_path / "flag"
    child = _spawn(KILL_BEFORE_RENAME, str(target), str(flag))
    wait_until(flag.exists, what="the child to write its temporary file")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert target.read_bytes() == before
    assert [r["title"] for r in read_table(target, TABLES["tracks"])] == ["old"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".tracks.csv.tmp-")]
    assert leftovers, "the simulated crash should leave its temporary file behind"
    # The next writer sweeps the stale temporary file away.
    with TableStore(target, TABLES["tracks"]) as store:
        assert len(store) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tracks.csv.tmp-")]


def test_kill_while_flushing_leaves_a_valid_prefix_and_resume_continues(tmp_path: Path) -> None:
    target = tmp_path / "tracks.csv"
    child = _spawn(KILL_WHILE_FLUSHING, str(target))
    # kill it in the middle of a stream of rewrites: after the file has been replaced many times
    wait_until(lambda: target.exists() and target.stat().st_size > 40000, what="the child to flush many rows")
    child.send_signal(signal.SIGKILL)
    child.wait()
    rows = read_table(target, TABLES["tracks"])  # valid, not torn
    ids = sorted(r["track_id"] for r in rows)
    assert ids == [f"t{i:06d}" for i in range(len(ids))], "flushed rows are a gap-free prefix"
    # Resume: a new run skips what is done and adds the rest.
    with TableStore(target, TABLES["tracks"], flush_every=10) as store:
        done = len(store)
        for i in range(done + 5):
            key = f"t{i:06d}"
            if key in store:
                continue
            store.put({"track_id": key, "title": "song", "artists": ["A"], "origin": "csv"})
    assert len(read_table(target, TABLES["tracks"])) == done + 5


def test_store_flushes_on_error(tmp_path: Path) -> None:
    target = tmp_path / "tracks.csv"
    try:
        with TableStore(target, TABLES["tracks"], flush_every=100) as store:
            store.put({"track_id": "t001abc", "title": "kept", "artists": ["A"], "origin": "csv"})
            raise RuntimeError("network went away")
    except RuntimeError:
        pass
    assert [r["title"] for r in read_table(target, TABLES["tracks"])] == ["kept"]


def test_overrides_file_is_parsed_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(
        "track_id,action,value,note\n"
        "t001abc,drop,,live bootleg\n"
        "t002abc,set_genres,rock=1; blues=0.5,\n"
        "t003abc,pin_video,dQw4w9WgXcQ,official audio\n"
        "t003abc,forbid_video,9bZkp7q5f_w,\n"
        "t004abc,add_genre,jazz,\n", encoding="utf-8")
    over = Overrides.load(path, known_genres={"rock", "blues", "jazz"})
    assert over.is_dropped("t001abc") and over.get("t001abc").drop_note == "live bootleg"
    assert over.get("t002abc").set_genres == {"rock": 1.0, "blues": 0.5}
    assert over.get("t003abc").pinned_video == "dQw4w9WgXcQ"
    assert over.get("t003abc").forbidden_videos == {"9bZkp7q5f_w"}
    assert over.get("t004abc").add_genres == ["jazz"]
    assert not over.is_dropped("t999zzz")
    path.write_text("track_id,action,value,note\nt001abc,add_genre,polka,\n", encoding="utf-8")
    try:
        Overrides.load(path, known_genres={"rock"})
    except ValueError as exc:
        assert "row 1, column 'value': unknown genre 'polka'" in str(exc)
    else:
        raise AssertionError("an unknown genre in overrides must be refused")


def test_written_manifests_get_ordinary_permissions(tmp_path: Path) -> None:
    """Temporary files are private (0600); the renamed manifest must not stay that way."""
    target = tmp_path / "tracks.csv"
    old = os.umask(0o022)
    try:
        write_table(target, TABLES["tracks"], [])
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644
    target.chmod(0o664)
    write_table(target, TABLES["tracks"], [])
    assert target.stat().st_mode & 0o777 == 0o664, "an existing file keeps its mode"
