"""The run folder: one type that owns every path and file of a training run.

A run lives in ``<data>/runs/<name>/``::

    config.json                the full TrainConfig (features, augmentations, task, threshold, seed)
    labels.json                the label list, in the order of the model's outputs
    model.keras                the best model (by the monitored validation value), float32
    history.csv                one row per epoch: losses, metrics, learning rate, crops/s, seconds
    run.json                   summary: status, best epoch, validation accuracy, device, backend, timings
    checkpoints/               last-<epoch>.keras (model + optimizer), best.weights.h5, state.json
    tensorboard/               TensorBoard logs (when TensorFlow is installed)
    metrics.json               evaluation: song- and crop-level metrics, baseline, comparison
    baseline.json              the baseline alone, when the run was never evaluated
    predictions.csv            one row per evaluated track (predictions-baseline.csv: the baseline's)
    confusion.png, curves.png, f1-per-genre.png, report.md

Nothing else in the package builds these paths: training, the bundle, evaluation, the
report and predict all go through a :class:`RunDir`.  Choosing a run (by name or folder,
or the newest finished one), detecting what can be resumed, and holding a run while a
command writes into it (:meth:`RunDir.lock`) are here too.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manifests.errors import UserError
from manifests.io import atomic_write_text
from manifests.layout import Layout

from ..config import ConfigError, TrainConfig

if TYPE_CHECKING:
    import keras

#: A run name: what may follow ``--run`` (it becomes a folder name).
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
#: JSON objects as read from and written to the run's files.
JSONObject = dict[str, Any]
#: One history.csv row: numbers where the cell is one, else the text.
HistoryRow = dict[str, float | int | str]


@dataclass
class TrainState:
    """Where a run's training stands after its last finished epoch (``checkpoints/state.json``)."""

    epoch: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    #: epochs without improvement, for early stopping and for the plateau schedule
    wait: int = 0
    plateau_wait: int = 0
    stopped_early: bool = False
    #: file name of the last checkpoint under checkpoints/
    checkpoint: str | None = None
    lr: float | None = None
    #: whether the run computes in mixed precision (its checkpoints' optimizer depends on it)
    mixed_precision: bool | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> TrainState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> JSONObject:
        out = asdict(self)
        for key in ("lr", "mixed_precision"):  # as the trainer always wrote it: no value before the first epoch
            if out[key] is None:
                del out[key]
        return out


@dataclass(frozen=True)
class RunDir:
    """A run folder (which need not exist yet): its files, its state, choosing and holding it."""

    path: Path

    # ------------------------------------------------------------ choosing a run

    @classmethod
    def named(cls, layout: Layout, name: str) -> RunDir:
        """The run called ``name`` under ``<data>/runs``; a name that cannot be a folder is an error."""
        if not RUN_NAME.match(name):
            raise UserError(f"run name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
        return cls(layout.runs / name)

    @classmethod
    def resolve(cls, run: str | Path, layout: Layout) -> RunDir:
        """A run given as a folder path or as a name under ``<data>/runs``."""
        for candidate in (cls(Path(run)), cls(layout.runs / str(run))):
            if candidate.model_file.is_file() or candidate.config_file.is_file():
                return candidate
        raise UserError(f"{run}: not a run folder (no model.keras or config.json there or under {layout.runs})")

    @classmethod
    def all(cls, layout: Layout) -> list[RunDir]:
        """Every run under ``<data>/runs`` (a folder with a config.json), by name."""
        if not layout.runs.is_dir():
            return []
        return [cls(p) for p in sorted(layout.runs.iterdir()) if cls(p).config_file.is_file()]

    @classmethod
    def newest(cls, layout: Layout) -> RunDir:
        """The most recently trained finished run (CNN or probe) under ``<data>/runs``."""
        finished = [run for run in cls.all(layout) if run.is_finished]
        if not finished:
            raise UserError(f"{layout.runs}: no trained run found (no <run>/model.keras or probe.npz); train "
                            "one with `python -m training train` or pass --run RUN_DIR")
        return max(finished, key=lambda run: (run.trained_file.stat().st_mtime, run.name))

    # ------------------------------------------------------------ paths

    @property
    def name(self) -> str:
        return self.path.name

    def __str__(self) -> str:
        return str(self.path)

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def labels_file(self) -> Path:
        return self.path / "labels.json"

    @property
    def model_file(self) -> Path:
        return self.path / "model.keras"

    @property
    def probe_file(self) -> Path:
        """A probe run's fitted probe (plain arrays), written last: its presence means finished."""
        return self.path / "probe.npz"

    @property
    def trained_file(self) -> Path:
        """What a finished run's predictions come from: the CNN's model, else a probe's arrays."""
        return self.model_file if self.model_file.is_file() or not self.probe_file.is_file() else self.probe_file

    @property
    def history_file(self) -> Path:
        return self.path / "history.csv"

    @property
    def summary_file(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def state_file(self) -> Path:
        return self.checkpoints / "state.json"

    @property
    def best_weights_file(self) -> Path:
        return self.checkpoints / "best.weights.h5"

    def checkpoint(self, epoch: int) -> Path:
        """The checkpoint written after ``epoch`` (model and optimizer state)."""
        return self.checkpoints / f"last-{epoch:04d}.keras"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def baseline_file(self) -> Path:
        return self.path / "baseline.json"

    @property
    def predictions_file(self) -> Path:
        return self.path / "predictions.csv"

    @property
    def baseline_predictions_file(self) -> Path:
        return self.path / "predictions-baseline.csv"

    @property
    def report_file(self) -> Path:
        return self.path / "report.md"

    @property
    def confusion_png(self) -> Path:
        return self.path / "confusion.png"

    @property
    def curves_png(self) -> Path:
        return self.path / "curves.png"

    @property
    def f1_png(self) -> Path:
        return self.path / "f1-per-genre.png"

    @property
    def lock_file(self) -> Path:
        """Beside the folder, so starting over (which empties the folder) never touches it."""
        return self.path.parent / f".{self.name}.lock"

    def files(self) -> set[str]:
        """Names of the files now in the folder (not the sub-folders)."""
        return {p.name for p in self.path.iterdir() if p.is_file()} if self.path.is_dir() else set()

    # ------------------------------------------------------------ what the folder holds

    @property
    def is_finished(self) -> bool:
        """A trained model (or probe) and its settings are there: predict and evaluate can use it."""
        return self.trained_file.is_file() and self.config_file.is_file()

    @property
    def is_empty(self) -> bool:
        return not self.path.is_dir() or not any(self.path.iterdir())

    @property
    def started_without_epoch(self) -> bool:
        """Settings saved but no epoch finished and no model: a run killed in its first epoch."""
        return self.config_file.is_file() and not self.state_file.exists() and not self.model_file.exists()

    def read_state(self) -> TrainState | None:
        """The state after the last finished epoch, or None when no epoch has finished."""
        data = _read_json(self.state_file)
        return None if data is None else TrainState.from_dict(data)

    def write_state(self, state: TrainState) -> None:
        _write_json(self.state_file, state.to_dict())

    def resume_checkpoint(self, state: TrainState) -> Path | None:
        """The checkpoint ``state`` names, when it is there to resume from."""
        if not state.checkpoint:
            return None
        path = self.checkpoints / state.checkpoint
        return path if path.is_file() else None

    def read_config(self) -> TrainConfig:
        try:
            return TrainConfig.load(self.config_file)
        except ConfigError as exc:
            raise UserError(str(exc)) from None

    def write_config(self, config: TrainConfig) -> None:
        config.save(self.config_file)

    def read_labels(self) -> list[str]:
        path = self.labels_file
        try:
            labels = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path}: no label list; is this a finished training run?") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: unreadable label list: {exc}") from None
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise UserError(f"{path}: expected a non-empty JSON list of genre names")
        return labels

    def write_labels(self, labels: Sequence[str]) -> None:
        atomic_write_text(self.labels_file, json.dumps(list(labels), indent=1) + "\n")

    def read_summary(self) -> JSONObject:
        """The trainer's run.json (empty when absent or unreadable: it is informative only)."""
        try:
            data = json.loads(self.summary_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_summary(self, summary: JSONObject) -> None:
        _write_json(self.summary_file, summary)

    def read_history(self) -> list[HistoryRow]:
        return read_history(self.history_file)

    def write_history(self, rows: Sequence[HistoryRow]) -> None:
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write_text(self.history_file, out.getvalue())

    @property
    def has_metrics(self) -> bool:
        return self.metrics_file.is_file()

    def read_metrics(self) -> JSONObject:
        path = self.metrics_file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path}: no metrics yet; run `python -m training evaluate {self.path}` first") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); rerun evaluate") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a JSON object; rerun evaluate")
        return data

    def write_metrics(self, metrics: JSONObject) -> None:
        """Keys in the caller's order (metrics.json is read by people)."""
        atomic_write_text(self.metrics_file, json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")

    def write_baseline(self, section: JSONObject) -> None:
        atomic_write_text(self.baseline_file, json.dumps(section, indent=2, ensure_ascii=False) + "\n")

    # ------------------------------------------------------------ writing

    def prepare(self) -> None:
        """Create the folder and its sub-folders; drop what a killed save left behind."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.tensorboard.mkdir(exist_ok=True)
        for partial in [*self.checkpoints.glob(".partial-*"), *self.path.glob(".partial-*")]:
            partial.unlink(missing_ok=True)

    def clear(self) -> None:
        """Delete the run (``--fresh``): the folder and everything in it."""
        if self.path.exists():
            shutil.rmtree(self.path)

    def save_model(self, model: keras.Model, path: Path, *, weights_only: bool = False) -> None:
        """Write a model (or only its weights) atomically; Keras picks the format from the suffix."""
        suffix = ".weights.h5" if weights_only else ".keras"
        tmp = path.with_name(f".partial-{os.getpid()}{suffix}")
        if weights_only:
            model.save_weights(tmp)
        else:
            model.save(tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, model: keras.Model, path: Path) -> None:
        """Load a checkpoint's weights and optimizer state (moments, step count) into a compiled ``model``.

        ``model`` is built and compiled by the trainer as for a new run, rather than loaded whole
        with ``keras.models.load_model``: an optimizer rebuilt from its saved config loses what the
        config does not hold (AdamW's exclusions from weight decay), and a resumed run would then
        train differently from the uninterrupted one.
        """
        model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(path)
        except (ValueError, zipfile.BadZipFile) as exc:
            raise UserError(f"{path}: cannot continue from this checkpoint ({exc}); pass --fresh to start "
                            "the run over") from None

    @contextmanager
    def lock(self, command: str = "python -m training") -> Iterator[None]:
        """Hold the run while a command writes into it; a second command on the same run stops with one line.

        The only place runs are locked: :func:`manifests.lock.exclusive` (an OS lock the kernel
        drops when the process ends, however it ends) on :attr:`lock_file`, which sits beside the
        run folder so ``--fresh`` can delete the folder while it is held.  Two runs of one data
        folder lock independently, so they may train at the same time.
        """
        from manifests.lock import exclusive

        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(self.lock_file, what=str(self.path), command=command,
                       advice="wait for it to finish or use another --run"):
            yield


def read_history(path: Path) -> list[HistoryRow]:
    """history.csv as rows (numbers where a cell is one); no rows when the file does not exist."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> float | int | str:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _read_json(path: Path) -> JSONObject | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable ({exc}); remove the run folder or pass --fresh") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object; remove the run folder or pass --fresh")
    return data


def _write_json(path: Path, data: JSONObject) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
