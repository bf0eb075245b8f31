"""A file system that refuses (read-only, full, permission denied) stops every writing stage with one line.

Each stage runs for real in a fresh interpreter; its writes are refused where the OS would refuse
them (see ``tests.fixtures.faults``). The command must print one ``error:`` line naming the path
and what to do, exit 2 without a traceback, and leave every earlier file byte for byte as it was.
Where mounts are permitted (root, as in CI) the same is shown on a real read-only and a real full
tmpfs, which also covers writers that reach the disk from C.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.faults import env, mounts_permitted, real_fs, run_with_fault, snapshot
from tests.training_core.corpus import make_corpus

ADVICE = {
    "EROFS": "the file system is read-only; use a writable data folder (--data) or remount it",
    "ENOSPC": "no space left on the device; free some space or use a data folder on another disk",
    "EACCES": "permission denied; check the folder's owner and permissions, or use another --data",
}
OUTPUTS = ("manifests", "reports", "cache", "runs", "audio")

STAGES = {
    "corpus": ["collectors", "corpus", "--tracks-per-genre", "2", "--artists-per-genre", "1", "--seconds", "4",
               "--genres", "rock,jazz", "--workers", "1", "--fresh", "-q"],
    "resolve": ["labeling", "resolve", "-q"],
    "split": ["labeling", "split", "--fresh", "-q"],
    "build": ["labeling", "build", "-q"],
    "audit": ["labeling", "audit", "-q"],
}


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small collection on which every stage has run once (so each rerun rewrites files)."""
    root = tmp_path_factory.mktemp("faults")
    for argv in STAGES.values():
        proc = _run([*argv, "--data", "d"], root)
        assert proc.returncode == 0, proc.stderr
    return root


def _assert_one_line_and_nothing_changed(proc: subprocess.CompletedProcess[str], code: str,
                                         before: dict[str, str], after: dict[str, str]) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].endswith(ADVICE[code]), proc.stderr[-3000:]
    named = errors[0].removeprefix("error: ").removesuffix(": " + ADVICE[code])
    assert "/d/" in "/" + named or named.startswith("d"), errors[0]  # it names a path inside the data folder
    assert ".tmp-" not in named  # the file the user knows, not the temporary one beside it
    assert after == before


@pytest.mark.parametrize("code", sorted(ADVICE))
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_writing_stage_stops_in_one_line_and_keeps_earlier_files(
        collection: Path, stage: str, code: str) -> None:
    data = collection / "d"
    before = snapshot(data)
    proc = run_with_fault(code, [data / name for name in OUTPUTS], [*STAGES[stage], "--data", "d"], collection)
    _assert_one_line_and_nothing_changed(proc, code, before, snapshot(data))


@pytest.mark.parametrize("code", sorted(ADVICE))
def test_training_stops_in_one_line_when_its_run_folder_or_cache_cannot_be_written(
        tmp_path: Path, code: str) -> None:
    layout, _ = make_corpus(tmp_path / "d")
    before = snapshot(layout.root)
    proc = run_with_fault(code, [layout.runs, layout.cache],
                          ["training", "train", "--data", "d", "--epochs", "1", "--preset", "cpu", "-q"], tmp_path)
    after = {k: v for k, v in snapshot(layout.root).items() if not k.startswith("runs/.")}  # the run's lock file
    _assert_one_line_and_nothing_changed(proc, code, before, after)


def test_a_read_only_data_folder_is_named_before_any_work(collection: Path) -> None:
    proc = run_with_fault("EROFS", [collection / "d"], ["labeling", "resolve", "--data", "d"], collection)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: d/.lock: {ADVICE['EROFS']}"


def test_a_bug_is_still_a_traceback(collection: Path) -> None:
    """Only file-system faults become one line: an unexpected OSError keeps its traceback."""
    proc = run_with_fault("EIO", [collection / "d" / "manifests"], ["labeling", "resolve", "--data", "d"],
                          collection)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "OSError: [Errno 5]" in proc.stderr


# ---------------------------------------------------------------- real file systems

needs_mounts = pytest.mark.skipif(not mounts_permitted(), reason="needs permission to mount a tmpfs (root)")


@needs_mounts
@pytest.mark.parametrize("how", ["read-only", "full"])
def test_a_real_read_only_or_full_file_system(collection: Path, tmp_path: Path, how: str) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    fill = ("mount -o remount,ro \"$M\"" if how == "read-only"
            else "dd if=/dev/zero of=\"$M/filler\" bs=4k 2>/dev/null || true")
    code = "EROFS" if how == "read-only" else "ENOSPC"
    script = f"""
        M={mount}
        mount -t tmpfs -o size=8m tmpfs "$M"
        cp -a {collection / "d"} "$M/d"
        rm -f "$M/d/audio/"*.wav   # room to spare for the tables only; the audit is told the audio is elsewhere
        cd "$M"
        {sys.executable} -m labeling resolve --data d -q
        sha256sum d/manifests/*.csv > {tmp_path}/before.txt
        {fill}
        set +e
        {sys.executable} -m labeling resolve --data d -q 2> {tmp_path}/err.txt; echo "rc=$?"
        {sys.executable} -m labeling audit --data d -q --no-audio-files 2>> {tmp_path}/err.txt; echo "rc=$?"
        set -e
        cat {tmp_path}/err.txt
        sha256sum -c --quiet {tmp_path}/before.txt && echo unchanged
    """
    proc = real_fs(script)
    assert proc.stdout.count("rc=2") == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and all(e.endswith(ADVICE[code]) for e in errors), proc.stdout
    assert "Traceback" not in proc.stdout and proc.stdout.rstrip().endswith("unchanged")


def test_tools_for_the_real_file_system_tests_are_there_or_skipped_loudly() -> None:
    """The real tests above skip only where mounting is impossible, never silently elsewhere."""
    if shutil.which("unshare") and shutil.which("mount") and mounts_permitted():
        assert real_fs("true").returncode == 0
