"""Kill the downloader mid-run with SIGKILL, rerun: no duplicate, partial or missing file, a valid table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from collectors.audio.pipeline import DownloadStage
from manifests import Layout, read_table
from manifests.hashing import sha256_file
from manifests.schema import DOWNLOADS
from tests.audio.helpers import StaticSearcher, fast_settings, song, video_id_for, write_tracks
from tests.fixtures.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
N_TRACKS = 8


def _ok_rows(path: Path) -> int:
    try:
        return sum(1 for r in read_table(path, DOWNLOADS, missing_ok=True) if r["status"] == "ok")
    except Exception:  # the table is rewritten atomically, but be patient with a half-seen rename
        return 0


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL of a process group is POSIX")
def test_killed_mid_run_then_rerun_leaves_a_complete_consistent_folder(tmp_path, media, clips) -> None:
    layout = Layout.at(tmp_path / "data")
    media.slow_chunk, media.slow_pause_s = 4096, 0.03  # each download takes a moment: the kill lands mid-file
    plan, tracks = {}, []
    for index in range(N_TRACKS):
        clip = clips[["mp3_stereo_44k", "opus_webm_stereo_48k", "aac_m4a_stereo_48k", "vorbis_ogg_mono_48k"][index % 4]]
        vid = video_id_for(index, "crash")
        url = media.add(f"{vid}{clip.path.suffix}", clip.data, "slow")
        track_id = f"tcrash{index:05d}"
        plan[track_id] = [vid, url, clip.seconds]
        tracks.append({"track_id": track_id, "title": f"Song {track_id}", "artists": ["Band"], "seconds": clip.seconds})
    write_tracks(layout, tracks)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")

    table = layout.table_path(DOWNLOADS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.audio.crash_runner", str(layout.root), str(plan_file)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_until(lambda: _ok_rows(table) >= 2 or proc.poll() is not None, timeout=60, interval=0.02,
                   what="two finished rows")
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
        os.killpg(proc.pid, signal.SIGKILL)  # the whole job: stage, worker processes, ffmpeg
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()
    killed_at = _ok_rows(table)
    assert 2 <= killed_at < N_TRACKS

    media.faults.clear()  # full speed for the rerun
    searcher = StaticSearcher({t: [song(v, u, artist="Band", title=f"Song {t}", seconds=s)]
                               for t, (v, u, s) in plan.items()})
    summary = DownloadStage(layout, fast_settings(workers=2), searcher=searcher).run()
    assert summary.already_ok >= killed_at
    assert len(searcher.searched) == N_TRACKS - summary.already_ok

    rows = read_table(table, DOWNLOADS)  # validates every cell, and that no key appears twice
    assert [r["track_id"] for r in rows] == sorted(plan)
    assert all(r["status"] == "ok" for r in rows)
    files = sorted(p.name for p in layout.audio.iterdir())
    assert files == [f"{t}.wav" for t in sorted(plan)]  # nothing partial, nothing missing, nothing twice
    for row in rows:
        path = layout.resolve(row["audio_path"])
        assert sha256_file(path) == row["sha256"]
        info = sf.info(str(path))
        assert (info.samplerate, info.channels) == (16000, 1) and abs(info.duration - row["audio_duration_s"]) < 1e-3
    raw = layout.cache / "youtube" / "raw"
    leftovers = [p.name for p in raw.iterdir()] if raw.is_dir() else []
    assert leftovers == [], leftovers  # sources removed once converted; interrupted .part files resumed
