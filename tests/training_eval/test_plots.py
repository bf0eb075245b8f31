"""Plots: the right panels from a trainer's history.csv, and robust to empty rows and missing files."""

from __future__ import annotations

from pathlib import Path

from training.evaluation import plots
from training.runs.rundir import RunDir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRAINER_COLUMNS = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "lr", "crops_per_s", "steps_per_s",
                   "seconds"]


def test_history_columns_are_grouped_into_panels_loss_first_bookkeeping_last() -> None:
    groups = plots.curve_groups(TRAINER_COLUMNS)
    assert list(groups) == ["loss", "accuracy", "crops_per_s", "lr"]
    assert groups["loss"] == ["loss", "val_loss"] and groups["accuracy"] == ["accuracy", "val_accuracy"]


def test_curves_png_from_a_trainer_history(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    rows = [",".join(TRAINER_COLUMNS)] + [f"{e},{0.5 + e / 10},{1.5 - e / 10},{0.4 + e / 10},{1.6 - e / 10},"
                                          f"0.001,40,1.2,2.0" for e in range(1, 5)]
    run.history_file.write_text("\n".join(rows) + "\n")
    out = plots.curves_png(run.read_history(), run.curves_png)
    assert out is not None and out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 5000
    run.history_file.write_text(",".join(TRAINER_COLUMNS) + "\n")
    assert plots.curves_png(run.read_history(), tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_confusion_matrix_with_a_genre_absent_from_the_split(tmp_path: Path) -> None:
    counts = [[3, 1, 0], [0, 0, 0], [1, 0, 2]]  # the middle genre has no track: its row stays empty
    out = plots.confusion_matrix_png(counts, ["rock", "jazz", "folk"], tmp_path / "c.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no temporary left behind
