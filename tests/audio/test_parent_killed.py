"""SIGKILL the downloader alone (not its workers): its conversion workers end too, and say nothing.

``test_download_crash`` kills the whole process group, as a terminal or a batch system
would.  Here only the parent dies, as when it is killed by the out-of-memory killer or a
``kill -9 PID``: nobody kills the forkserver, the conversion workers or their ffmpeg, so
they must notice on their own and end quietly, without the ``BrokenPipeError`` or
``EOFError`` tracebacks a worker prints when it finds its parent gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from manifests import Layout, read_table
from manifests.schema import DOWNLOADS
from tests.audio.helpers import video_id_for, write_tracks
from tests.fixtures.processes import kill_leader_and_wait, session_processes
from tests.fixtures.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
N_TRACKS = 8


def _ok_rows(path: Path) -> int:
    try:
        return sum(1 for r in read_table(path, DOWNLOADS, missing_ok=True) if r["status"] == "ok")
    except Exception:  # the table is rewritten atomically, but be patient with a half-seen rename
        return 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the session's processes from /proc")
def test_killing_the_downloader_alone_ends_its_workers_without_a_traceback(tmp_path, media, clips) -> None:
    layout = Layout.at(tmp_path / "data")
    media.slow_chunk, media.slow_pause_s = 4096, 0.03  # each download takes a moment: the kill lands mid-run
    plan, tracks = {}, []
    for index in range(N_TRACKS):
        clip = clips[["mp3_stereo_44k", "opus_webm_stereo_48k"][index % 2]]
        vid = video_id_for(index, "orphan")
        url = media.add(f"{vid}{clip.path.suffix}", clip.data, "slow")
        track_id = f"torphan{index:05d}"
        plan[track_id] = [vid, url, clip.seconds]
        tracks.append({"track_id": track_id, "title": f"Song {track_id}", "artists": ["Band"], "seconds": clip.seconds})
    write_tracks(layout, tracks)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")

    table = layout.table_path(DOWNLOADS)
    err_file = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(err_file, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tests.audio.crash_runner", str(layout.root), str(plan_file)],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        wait_until(lambda: _ok_rows(table) >= 1 or proc.poll() is not None, timeout=60, interval=0.02,
                   what="a converted track")
        assert proc.poll() is None, f"the run ended before it could be killed: {err_file.read_text()}"
        workers = [p for p in session_processes(proc.pid) if p.pid != proc.pid]
        assert workers, "no worker process to leave behind"
        left = kill_leader_and_wait(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert left == [], f"still running after the downloader was killed: {left}"
    stderr = err_file.read_text(errors="replace")
    for noise in ("Traceback", "BrokenPipeError", "EOFError", "KeyboardInterrupt"):
        assert noise not in stderr, stderr
