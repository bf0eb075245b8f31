"""A large audit's helper process: the same report, the same errors, only sooner.

The helper starts only from ``HELPER_MIN_*`` sizes (a spawned process costs about half a second),
so these tests lower the thresholds to zero on the planted folder and compare, byte for byte,
with the audit done all in one process.
"""

from __future__ import annotations

import concurrent.futures
import functools
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from labeling.audit import AuditOptions, background, checks, load, run, run_audit
from labeling.audit.load import helper_share
from manifests.io import ManifestError
from manifests.layout import Layout

from . import planted

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = ("report.md", "flagged.csv", "summary.json")


class _CountingPool(concurrent.futures.ProcessPoolExecutor):
    """The real pool, counting the jobs sent to the helper process (each a pickled function and its arguments)."""

    jobs: list[str] = []
    spilled: list[bool] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        packed = args[0]
        _CountingPool.spilled.append(isinstance(packed, str))
        job, _ = pickle.loads(Path(packed).read_bytes() if isinstance(packed, str) else packed)
        _CountingPool.jobs.append(job.func.__name__ if isinstance(job, functools.partial) else job.__name__)
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def helper_always(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every part that can go to the helper goes there, whatever the size; returns the jobs sent."""
    monkeypatch.setattr(load, "HELPER_MIN_BYTES", 0)
    monkeypatch.setattr(load, "HELPER_START_BYTES", 0)
    monkeypatch.setattr(checks, "HELPER_MIN_FILES", 0)
    monkeypatch.setattr(run, "HELPER_MIN_TRACKS", 0)
    _CountingPool.jobs = []
    _CountingPool.spilled = []
    monkeypatch.setattr(background, "ProcessPoolExecutor", _CountingPool)
    return _CountingPool.jobs


def _audit(layout: Layout, out: Path, workers: int) -> dict[str, bytes]:
    run_audit(layout.manifests, out_dir=out, options=AuditOptions(workers=workers, min_seconds=0))
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("spill", [False, True], ids=["through-the-pipe", "through-files"])
def test_two_processes_write_the_very_same_report(tmp_path: Path, helper_always: list[str], spill: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    layout = planted.build(tmp_path / "data")
    alone = _audit(layout, tmp_path / "one", workers=1)
    assert not helper_always
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    answers: list[bool] = []  # for each answer taken here: whether it came through a file
    unspill = background._unspill

    def taken(message: bytes | str) -> bytes:
        answers.append(isinstance(message, str))
        return unspill(message)

    monkeypatch.setattr(background, "_unspill", taken)
    if spill:  # every job and every answer goes through a file, as large ones do
        monkeypatch.setattr(background, "SPILL_BYTES", 0)
    together = _audit(layout, tmp_path / "two", workers=2)
    assert not list(temporary.iterdir())  # the folder the files went through is gone
    assert answers and set(answers) == {spill}
    assert set(_CountingPool.spilled) == {spill}
    # tables, audio headers and plots all went to the helper ...
    assert {"_read_job", "_scan_job", "helper_idle", "check_files", "claim_checks", "draw_plot"} <= set(helper_always)
    assert helper_always.count("_read_job") >= 1 and helper_always.count("draw_plot") >= 4
    # ... and every file came out byte for byte the same, plots included
    assert set(together) == set(alone) and set(OUTPUTS) <= set(alone)
    assert any(name.endswith(".png") for name in alone)
    for name in alone:
        assert together[name] == alone[name], name


@pytest.mark.parametrize("edit, expected", [
    (("rock=1", "rock=1.5"), "above 1"),
    (("rock=1", "rokc=1"), "unknown genre 'rokc'"),
])
def test_an_invalid_table_read_by_the_helper_fails_as_it_would_here(
        tmp_path: Path, helper_always: list[str], monkeypatch: pytest.MonkeyPatch,
        edit: tuple[str, str], expected: str) -> None:
    layout = planted.build(tmp_path / "data")
    path = layout.table_path("labels")
    path.write_text(path.read_text(encoding="utf-8").replace(*edit, 1), encoding="utf-8")
    with pytest.raises(ManifestError) as here:
        run_audit(layout.manifests, options=AuditOptions(workers=1, plots=False))
    monkeypatch.setattr(load, "helper_share", lambda sizes: {"labels", "splits"})
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(background, "SPILL_BYTES", 0)  # the jobs went through files: none is left behind
    with pytest.raises(ManifestError) as away:
        run_audit(layout.manifests, options=AuditOptions(workers=2, plots=False))
    assert "_read_job" in helper_always
    assert not list(temporary.iterdir())
    assert str(away.value) == str(here.value)
    assert expected in str(here.value) and "labels.csv" in str(here.value)
    assert (away.value.line, away.value.row, away.value.column) == (here.value.line, here.value.row,
                                                                     here.value.column)
    assert not (layout.reports / "audit").exists()


def test_the_first_bad_table_is_reported_wherever_it_was_read(tmp_path: Path, helper_always: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    layout = planted.build(tmp_path / "data")
    for name, (old, new) in {"labels": ("rock=1", "rock=2"), "tracks": ("Hey Jude", "Hey\x00Jude")}.items():
        path = layout.table_path(name)
        path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ManifestError) as here:
        run_audit(layout.manifests, options=AuditOptions(workers=1, plots=False))
    # labels (read by the helper) comes after tracks (read here) in the audit's order, and the other way round
    for share in ({"labels"}, {"tracks"}):
        monkeypatch.setattr(load, "helper_share", lambda sizes, share=share: share)
        with pytest.raises(ManifestError) as away:
            run_audit(layout.manifests, options=AuditOptions(workers=2, plots=False))
        assert str(away.value) == str(here.value)


def test_helper_share_balances_the_bytes_and_skips_small_folders() -> None:
    assert helper_share({"tracks": 1000, "claims": 3000}) == set()  # below HELPER_MIN_BYTES: all here
    mb = 1 << 20
    sizes = {"training": 20 * mb, "downloads": 21 * mb, "claims": 17 * mb, "labels": 10 * mb, "tracks": 9 * mb,
             "splits": 4 * mb, "playlists": 1}
    away = helper_share(sizes)
    here = set(sizes) - away
    # the helper takes what this process needs last: claims (not joined), then the view's last tables
    assert "claims" in away and "tracks" in here and "labels" in here
    moved = load.HELPER_START_BYTES + sum(sizes[n] for n in away) * load.HELPER_SHARE_COST
    kept = sum(sizes[n] for n in here)
    assert away and here and abs(moved - kept) <= max(sizes.values())


def test_the_view_joins_tables_in_order_whatever_order_they_arrive() -> None:
    tables = {
        "tracks": {"track_id": ["a", "b"], "title": ["A", "B"], "isrc": ["X1", None]},
        "downloads": {"track_id": ["b", "c"], "status": ["ok", "failed"], "isrc": ["X2", None]},
        "training": {"track_id": ["a"], "title": ["A (edit)"], "isrc": [None]},
    }
    expected = load.join_view(tables)
    for order in (["training", "downloads", "tracks"], ["downloads", "training", "tracks"]):
        view = load.ViewJoin(tables)
        for name in order:
            view.offer(name, tables[name])
        assert view.result() == expected
    assert expected["a"] == {"track_id": "a", "in_tables": ["tracks", "training"], "title": "A (edit)",
                             "isrc": "X1"}  # a later value wins; a later empty one does not
    assert expected["b"]["download_status"] == "ok" and expected["b"]["isrc"] == "X2"
    assert expected["c"]["in_tables"] == ["downloads"] and expected["c"]["isrc"] is None
    unfinished = load.ViewJoin(tables)
    unfinished.offer("training", tables["training"])
    with pytest.raises(RuntimeError, match="waits for tracks, downloads"):
        unfinished.result()


def test_workers_option_on_the_command_line(tmp_path: Path) -> None:
    layout = planted.build(tmp_path / "data")
    result = subprocess.run([sys.executable, "-m", "labeling", "audit", str(layout.manifests), "--workers", "0"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--workers" in result.stderr
    result = subprocess.run([sys.executable, "-m", "labeling", "audit", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert "--workers N" in result.stdout


def test_a_terminal_sees_the_audit_move_and_a_pipe_does_not(tmp_path: Path) -> None:
    """A progress bar on a terminal (the phases of a large audit take seconds), nothing extra in a pipe or a log."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    layout = planted.build(tmp_path / "data")
    argv = [sys.executable, "-m", "labeling", "audit", str(layout.manifests), "--no-plots"]
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    assert "audit:" in text and "step" in text and "Duplicates" in text, text
    piped = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "step" not in piped.stderr

