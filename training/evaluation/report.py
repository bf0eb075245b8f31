"""report.md and its plots, drawn from a run's saved ``metrics.json`` and ``history.csv``.

Kept apart from evaluation so ``python -m training report RUN`` can redraw everything
in a second without loading the model or any audio (after editing a plot, or on a
machine without TensorFlow).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from manifests import atomic_write_text

from ..runs.rundir import JSONObject, RunDir
from . import metrics as M

log = logging.getLogger(__name__)

_NAMES = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1",
    "top2_accuracy": "top-2 accuracy", "roc_auc_macro": "ROC-AUC (macro)", "pr_auc_macro": "PR-AUC (macro)",
    "subset_accuracy": "subset accuracy (exact set)", "top1_accuracy": "top-1 in true genres",
    "micro_f1": "micro-F1", "hamming_loss": "Hamming loss (lower is better)",
}


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def draw_plots(run: RunDir, metrics: JSONObject) -> dict[str, Path]:
    """(Re)draw the PNGs of a run; returns the ones that exist afterwards, by role."""
    from . import plots

    labels = metrics["labels"]
    song = metrics["song"]
    drawn: dict[str, Path] = {}
    if metrics["task"] == "single":
        drawn["confusion"] = plots.confusion_matrix_png(
            song["confusion_matrix"], labels, run.confusion_png,
            title=f"Confusion matrix, song level, {metrics['split']} split (rows normalised)")
    else:
        drawn["confusion"] = plots.per_genre_confusion_png(
            song["confusion_per_genre"], run.confusion_png,
            title=f"Per-genre confusion, song level, {metrics['split']} split (rows normalised)")
    if run.history_file.is_file():
        curves = plots.curves_png(run.read_history(), run.curves_png, source=str(run.history_file))
        if curves is not None:
            drawn["curves"] = curves
    else:
        log.warning("%s not found: the report has no training curves", run.history_file)
    series = {"CNN": song["per_genre"]}
    if metrics.get("baseline"):
        series["MFCC baseline"] = metrics["baseline"]["song"]["per_genre"]
    drawn["f1"] = plots.per_genre_f1_png(labels, series, run.f1_png,
                                         title=f"F1 per genre, song level, {metrics['split']} split")
    return drawn


def _confused_pairs(metrics: JSONObject, top: int = 3) -> list[str]:
    """The most frequent mistakes ('true → predicted', share of the true genre)."""
    if metrics["task"] != "single":
        return []
    labels, counts = metrics["labels"], metrics["song"]["confusion_matrix"]
    pairs = []
    for i, row in enumerate(counts):
        total = sum(row)
        for j, n in enumerate(row):
            if i != j and n:
                pairs.append((n / total, n, labels[i], labels[j]))
    pairs.sort(reverse=True)
    return [f"{a} → {b}: {n} track(s), {share:.0%} of {a}" for share, n, a, b in pairs[:top]]


def render_report(metrics: JSONObject, run: RunDir, plots_drawn: dict[str, Path],
                  present: set[str] | None = None) -> str:
    """The Markdown text of report.md; the file list names only files in ``present`` when given."""
    task, split = metrics["task"], metrics["split"]
    song, crop = metrics["song"], metrics.get("crop") or {}
    base = (metrics.get("baseline") or {}).get("song")
    labels = metrics["labels"]
    kind = "single-label (one genre per track)" if task == "single" else \
        f"multi-label (a genre is predicted at probability ≥ {metrics.get('threshold')})"
    lines = [f"# Evaluation of run `{metrics['run']}`", ""]
    model = f"model `{metrics['model']}`, " if metrics.get("model") else ""
    lines.append(f"{model}{kind}, {len(labels)} genres. Evaluated on the **{split}** split of "
                 f"`{metrics.get('manifest', 'the training manifest')}`: {metrics['n_tracks']} tracks, "
                 "checked artist-disjoint from train and validation (no artist and no audio file in both). "
                 f"Song level = mean of the model's probabilities over evenly spaced "
                 f"{metrics.get('crop_seconds', '?')} s crops covering each whole track "
                 f"({metrics.get('n_crops', '?')} crops in all); crop level = every crop scored on its own. "
                 f"Evaluated {metrics.get('evaluated_at', '')}.")
    lines.append("")
    lines.append("## Headline numbers")
    lines.append("")
    header = ["metric", "CNN, song level", "CNN, crop level"]
    if base:
        header += ["MFCC baseline, song level", "CNN − baseline (points)"]
    comparison = {row["metric"]: row for row in metrics.get("comparison") or []}
    rows = []
    for key in M.HEADLINE[task]:
        row = [_NAMES.get(key, key), _num(song.get(key)), _num(crop.get(key))]
        if base:
            row += [_num(base.get(key)), _points(comparison.get(key, {}).get("difference_points"))]
        rows.append(row)
    lines += _table(header, rows)
    lines.append("")
    if base:
        acc_key = "accuracy" if task == "single" else "subset_accuracy"
        diff = comparison.get(acc_key, {}).get("difference_points")
        if diff == 0:
            lines.append(f"The CNN and the MFCC baseline have the same {_NAMES[acc_key]}.")
        elif diff is not None:
            verdict = "better" if diff > 0 else "worse"
            lines.append(f"The CNN is {abs(diff):.1f} points {verdict} than the MFCC baseline in "
                         f"{_NAMES[acc_key]}.")
        else:
            lines.append("The CNN and baseline accuracies cannot be compared (undefined on this split).")
        lines.append(f"Baseline: {metrics['baseline']['name']}; {metrics['baseline']['features']}; "
                     f"trained on {metrics['baseline']['n_train']} train tracks.")
        lines.append("")
    else:
        lines.append("No baseline in this evaluation (run `python -m training baseline RUN` to add it).")
        lines.append("")
    lines.append("## Per genre (song level)")
    lines.append("")
    header = ["genre", "support", "precision", "recall", "F1", "ROC-AUC", "PR-AUC"]
    if base:
        header.append("baseline F1")
    rows = []
    for genre in labels:
        g = song["per_genre"][genre]
        row = [genre, str(g["support"]), _num(g["precision"]), _num(g["recall"]), _num(g["f1"]),
               _num(g["roc_auc"]), _num(g["pr_auc"])]
        if base:
            row.append(_num(base["per_genre"].get(genre, {}).get("f1")))
        rows.append(row)
    lines += _table(header, rows)
    lines.append("")
    notes = []
    if song.get("genres_absent"):
        notes.append(f"Genres with no {split} track (left out of the macro averages): "
                     f"{', '.join(song['genres_absent'])}.")
    if metrics.get("not_scored"):
        notes.append("Tracks not scored: " + ", ".join(f"{n} {why}" for why, n in metrics["not_scored"].items())
                     + ".")
    confused = _confused_pairs(metrics)
    if confused:
        notes.append("Most frequent confusions: " + "; ".join(confused) + ".")
    if task == "multi":
        notes.append(f"On average {song.get('mean_labels_true')} true and {song.get('mean_labels_predicted')} "
                     "predicted genres per track.")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["## Plots", ""]
    captions = {"confusion": "Confusion matrix (song level, rows normalised)",
                "curves": "Training curves (train and validation per epoch)",
                "f1": "F1 per genre, CNN and baseline"}
    for role, caption in captions.items():
        if role in plots_drawn:
            lines += [f"![{caption}]({plots_drawn[role].name})", ""]
    lines += ["## Files in this run folder", ""]
    files: list[tuple[list[Path], str]] = [
        ([run.metrics_file], "every number above, plus the per-genre details and confusion counts"),
        ([run.predictions_file], "one row per evaluated track: truth, prediction, probabilities per genre"),
        ([run.baseline_predictions_file], "the same for the MFCC baseline"),
        (list(plots_drawn.values()), "the plots"),
        ([run.config_file, run.labels_file, run.model_file], "the trained model bundle "
         "(`python -m training predict FILE --run <this folder>`)"),
        ([run.history_file], "loss and metrics per epoch")]
    if present is not None:  # list only what is really there
        files = [(paths, what) for paths, what in files if paths and paths[0].name in present]
    lines += _table(["file", "what"], [[", ".join(f"`{p.name}`" for p in paths), what] for paths, what in files])
    lines += ["", "Regenerate this report and its plots with `python -m training report "
              f"{metrics['run']}`.", ""]
    return "\n".join(lines)


def write_report(run: RunDir) -> Path:
    """Draw the plots and write report.md from the run's metrics.json."""
    metrics = run.read_metrics()
    drawn = draw_plots(run, metrics)
    path = run.report_file
    present = run.files() | {path.name}
    atomic_write_text(path, render_report(metrics, run, drawn, present))
    log.info("report written to %s", path)
    return path
