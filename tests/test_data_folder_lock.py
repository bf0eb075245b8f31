"""One writer per data folder: a second writer stops at once and says who holds the folder."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.faults import env

HOLD = """
import sys, time
from manifests.lock import data_folder_lock
with data_folder_lock(sys.argv[1], "labeling audit"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(tmp_path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, "d", str(seconds)], cwd=tmp_path, env=env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    proc = _run(tmp_path, "collectors", "corpus", "--data", "d", "--tracks-per-genre", "2", "--artists-per-genre",
                "1", "--seconds", "4", "--genres", "rock,jazz", "--workers", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    return tmp_path


@pytest.mark.parametrize("command", [["labeling", "resolve"], ["labeling", "audit"], ["collectors", "corpus"],
                                     ["collectors", "download"]])
def test_a_second_writer_stops_at_once_naming_the_holder(folder: Path, command: list[str]) -> None:
    holder = _holder(folder, 60)
    try:
        proc = _run(folder, *command, "--data", "d")
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2
    assert re.fullmatch(rf'error: d/ is in use by "labeling audit" \(pid {holder.pid}, since \d\d:\d\d\); '
                        r"wait for it or pass --wait", proc.stderr.strip().splitlines()[-1]), proc.stderr


def test_readers_need_no_lock(folder: Path) -> None:
    holder = _holder(folder, 60)
    try:
        assert _run(folder, "manifests", "validate", "--data", "d").returncode == 0
        assert _run(folder, "labeling", "taxonomy", "map", "Hip-Hop").returncode == 0
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_holder_is_taken_over(folder: Path) -> None:
    holder = _holder(folder, 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    proc = _run(folder, "labeling", "resolve", "--data", "d", "-q")
    assert proc.returncode == 0, proc.stderr


def test_wait_waits_for_the_holder_then_runs(folder: Path) -> None:
    holder = _holder(folder, 1.5)
    proc = _run(folder, "labeling", "resolve", "--data", "d", "--wait")
    holder.wait()
    assert proc.returncode == 0, proc.stderr
    assert 'd/ is in use by "labeling audit"' in proc.stderr and "waiting for it to finish" in proc.stderr
    assert "resolved" in proc.stdout


def test_two_folders_do_not_block_each_other(folder: Path) -> None:
    holder = _holder(folder, 60)
    try:
        proc = _run(folder, "labeling", "resolve", "--data", "other")
    finally:
        holder.kill()
        holder.wait()
    assert "is in use" not in proc.stderr  # it fails for its own reason: that folder has no tables
    assert "other/manifests/tracks.csv not found" in proc.stderr
    assert not (folder / "other").exists()  # no folder made just for the lock of a failed command


def test_temp_files_of_killed_writers_are_swept_by_the_next_writer(folder: Path) -> None:
    data = folder / "d"
    leftovers = [data / "..lock.json.tmp-abc123", data / "manifests" / ".labels.csv.tmp-x1y2",
                 data / "reports" / "audit" / ".report.md.tmp-zz"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half", encoding="utf-8")
    training_tmp = data / "runs" / "demo" / ".model.keras.tmp-q"  # a training may be writing it right now
    training_tmp.parent.mkdir(parents=True)
    training_tmp.write_text("half", encoding="utf-8")
    assert _run(folder, "labeling", "resolve", "--data", "d", "-q").returncode == 0
    assert not any(p.exists() for p in leftovers)
    assert training_tmp.exists()
