"""The run folder: its documented files, choosing a run, what can be resumed, and holding a run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from manifests.errors import UserError
from manifests.layout import Layout
from training.config import TrainConfig
from training.runs.rundir import RunDir, TrainState


def _finished(layout: Layout, name: str, mtime: float) -> RunDir:
    run = RunDir.named(layout, name)
    run.prepare()
    run.write_config(TrainConfig())
    run.write_labels(["jazz", "rock"])
    run.model_file.write_bytes(b"model")
    os.utime(run.model_file, (mtime, mtime))
    return run


def test_every_file_of_a_run_is_where_the_readme_says(tmp_path: Path) -> None:
    run = RunDir.named(Layout.at(tmp_path), "cnn_bn-single")
    assert run.path == tmp_path / "runs" / "cnn_bn-single" and run.name == "cnn_bn-single"
    inside = {p.relative_to(run.path).as_posix() for p in (
        run.config_file, run.labels_file, run.model_file, run.history_file, run.summary_file, run.state_file,
        run.best_weights_file, run.checkpoint(7), run.tensorboard, run.metrics_file, run.baseline_file,
        run.predictions_file, run.baseline_predictions_file, run.report_file, run.confusion_png,
        run.curves_png, run.f1_png)}
    assert inside == {
        "config.json", "labels.json", "model.keras", "history.csv", "run.json", "checkpoints/state.json",
        "checkpoints/best.weights.h5", "checkpoints/last-0007.keras", "tensorboard", "metrics.json",
        "baseline.json", "predictions.csv", "predictions-baseline.csv", "report.md", "confusion.png",
        "curves.png", "f1-per-genre.png"}
    for bad in ("../elsewhere", "", "a b", "-x"):
        with pytest.raises(UserError, match="use letters, digits"):
            RunDir.named(Layout.at(tmp_path), bad)


def test_runs_are_listed_and_the_newest_finished_one_is_the_default(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    with pytest.raises(UserError, match="no trained run found"):
        RunDir.newest(layout)
    old = _finished(layout, "zzz-old", 1_000_000_000)
    new = _finished(layout, "aaa-new", 2_000_000_000)
    unfinished = RunDir.named(layout, "unfinished")
    unfinished.prepare()
    unfinished.write_config(TrainConfig())  # trained for no epoch yet: listed, never the default
    (layout.runs / "notes").mkdir()  # not a run
    assert [r.name for r in RunDir.all(layout)] == ["aaa-new", "unfinished", "zzz-old"]
    assert RunDir.newest(layout) == new
    assert RunDir.resolve("zzz-old", layout) == old  # by name under <data>/runs ...
    assert RunDir.resolve(str(old.path), Layout.at(tmp_path / "other")) == old  # ... or as a folder
    with pytest.raises(UserError, match="not a run folder"):
        RunDir.resolve("notes", layout)


def test_what_a_run_folder_holds_decides_whether_it_can_be_resumed(tmp_path: Path) -> None:
    run = RunDir.named(Layout.at(tmp_path), "r")
    assert run.is_empty and run.read_state() is None and not run.is_finished
    run.prepare()
    run.write_config(TrainConfig())
    assert run.started_without_epoch and run.read_state() is None  # killed in its first epoch: start over
    state = TrainState(epoch=3, best_value=0.8, best_epoch=2, wait=1, checkpoint=run.checkpoint(3).name, lr=5e-4,
                       mixed_precision=False)
    run.write_state(state)
    assert not run.started_without_epoch
    assert run.read_state() == state
    assert run.resume_checkpoint(state) is None  # the state names a checkpoint that is not there
    run.checkpoint(3).write_bytes(b"keras")
    assert run.resume_checkpoint(state) == run.checkpoint(3)
    run.state_file.write_text("{not json")
    with pytest.raises(UserError, match="unreadable.*--fresh"):
        run.read_state()


def test_history_round_trips_with_numbers_as_numbers(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.prepare()
    assert run.read_history() == []
    run.write_history([{"epoch": 1, "loss": 1.25, "lr": 0.001}, {"epoch": 2, "loss": 0.5, "lr": 0.0005}])
    assert run.history_file.read_text().splitlines()[0] == "epoch,loss,lr"
    assert run.read_history() == [{"epoch": 1, "loss": 1.25, "lr": 0.001}, {"epoch": 2, "loss": 0.5, "lr": 0.0005}]


def test_a_run_is_held_by_one_command_at_a_time(tmp_path: Path) -> None:
    run = RunDir.named(Layout.at(tmp_path), "busy")
    with run.lock():
        with pytest.raises(UserError, match=r"busy is in use by \"python -m training\" \(pid \d+, since \d\d:\d\d\); wait for it to finish or use another --run"):
            with RunDir.named(Layout.at(tmp_path), "busy").lock():
                pass
        with RunDir.named(Layout.at(tmp_path), "other").lock():  # another run is free
            pass
        run.prepare()
        run.clear()  # --fresh empties the run while holding it: the lock lives beside the folder
        assert not run.path.exists()
    with run.lock():  # released at the end of the command
        pass
