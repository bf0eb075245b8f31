"""report.md and its plots, drawn from a run's saved ``metrics.json`` and ``history.csv``.

Kept apart from evaluation so ``python -m training report RUN`` can redraw everything
in a second without loading the model or any audio (after editing a plot, or on a
machine without TensorFlow).

The same report serves a CNN run and a linear probe run (``model: probe``: song level
only, no training curves, the probe's files instead of ``model.keras``).  When other
runs beside this one were scored on the same tracks, a table puts them side by side with
the MFCC baseline (:mod:`.compare`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from manifests import atomic_write_text

from ..runs.probe import probe_file, probe_info_file
from ..runs.rundir import JSONObject, RunDir
from . import metrics as M
from .compare import comparable_runs, model_label

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


def _word(metrics: JSONObject) -> str:
    """The model as the report's sentences call it."""
    return "probe" if metrics.get("model") == "probe" else "CNN"


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
    elif metrics.get("model") != "probe":  # a probe has no epochs, so no curves to miss
        log.warning("%s not found: the report has no training curves", run.history_file)
    series = {_word(metrics): song["per_genre"]}
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


def _comparison_section(metrics: JSONObject, others: Sequence[tuple[str, JSONObject]]) -> list[str]:
    """The table of this run, the other runs scored on the same tracks, and the MFCC baseline."""
    task, split = metrics["task"], metrics["split"]
    keys = M.HEADLINE[task]
    header = ["model", "run", *(_NAMES.get(k, k) for k in keys)]
    rows = [[model_label(metrics), f"`{metrics['run']}` (this report)", *(_num(metrics["song"].get(k)) for k in keys)]]
    baseline = (metrics.get("baseline") or {}).get("song")
    for name, other in others:
        rows.append([model_label(other), f"`{name}`", *(_num(other["song"].get(k)) for k in keys)])
        baseline = baseline or (other.get("baseline") or {}).get("song")
    if baseline:
        rows.append(["MFCC baseline", "–", *(_num(baseline.get(k)) for k in keys)])
    lines = ["## Models on the same test tracks", "",
             f"Every evaluated run beside this one scored on exactly these {metrics['n_tracks']} {split} tracks "
             "(same manifest, split, labels and truth), song level:", ""]
    lines += _table(header, rows)
    lines += ["", "Redrawn whenever one of these runs is evaluated; `python -m training report RUN` "
              "redraws it by hand.", ""]
    return lines


def render_report(metrics: JSONObject, run: RunDir, plots_drawn: dict[str, Path],
                  present: set[str] | None = None,
                  others: Sequence[tuple[str, JSONObject]] = ()) -> str:
    """The Markdown text of report.md; the file list names only files in ``present`` when given.

    ``others``: (run name, metrics) of the runs scored on the same tracks, for the comparison table.
    """
    task, split = metrics["task"], metrics["split"]
    song, crop = metrics["song"], metrics.get("crop") or {}
    base = (metrics.get("baseline") or {}).get("song")
    labels = metrics["labels"]
    word = _word(metrics)
    probe = metrics.get("model") == "probe"
    kind = "single-label (one genre per track)" if task == "single" else \
        f"multi-label (a genre is predicted at probability ≥ {metrics.get('threshold')})"
    lines = [f"# Evaluation of run `{metrics['run']}`", ""]
    if probe:
        model = f"{model_label(metrics)}, "
        scoring = ("Song level = the probe's probabilities from one embedding per track ("
                   f"{(metrics.get('pretrained') or {}).get('description', 'a pretrained embedding')}); "
                   "a probe has no crop level. ")
    else:
        model = f"model `{metrics['model']}`, " if metrics.get("model") else ""
        scoring = (f"Song level = mean of the model's probabilities over evenly spaced "
                   f"{metrics.get('crop_seconds', '?')} s crops covering each whole track "
                   f"({metrics.get('n_crops', '?')} crops in all); crop level = every crop scored on its own. ")
    lines.append(f"{model}{kind}, {len(labels)} genres. Evaluated on the **{split}** split of "
                 f"`{metrics.get('manifest', 'the training manifest')}`: {metrics['n_tracks']} tracks, "
                 "checked artist-disjoint from train and validation (no artist and no audio file in both). "
                 f"{scoring}Evaluated {metrics.get('evaluated_at', '')}.")
    lines.append("")
    lines.append("## Headline numbers")
    lines.append("")
    header = [f"{word}, song level"] if probe else [f"{word}, song level", f"{word}, crop level"]
    header = ["metric", *header]
    if base:
        header += ["MFCC baseline, song level", f"{word} − baseline (points)"]
    comparison = {row["metric"]: row for row in metrics.get("comparison") or []}
    rows = []
    for key in M.HEADLINE[task]:
        row = [_NAMES.get(key, key), _num(song.get(key))]
        if not probe:
            row.append(_num(crop.get(key)))
        if base:
            row += [_num(base.get(key)), _points(comparison.get(key, {}).get("difference_points"))]
        rows.append(row)
    lines += _table(header, rows)
    lines.append("")
    if base:
        acc_key = "accuracy" if task == "single" else "subset_accuracy"
        diff = comparison.get(acc_key, {}).get("difference_points")
        if diff == 0:
            lines.append(f"The {word} and the MFCC baseline have the same {_NAMES[acc_key]}.")
        elif diff is not None:
            verdict = "better" if diff > 0 else "worse"
            lines.append(f"The {word} is {abs(diff):.1f} points {verdict} than the MFCC baseline in "
                         f"{_NAMES[acc_key]}.")
        else:
            lines.append(f"The {word} and baseline accuracies cannot be compared (undefined on this split).")
        lines.append(f"Baseline: {metrics['baseline']['name']}; {metrics['baseline']['features']}; "
                     f"trained on {metrics['baseline']['n_train']} train tracks.")
        lines.append("")
    else:
        lines.append("No baseline in this evaluation (run `python -m training baseline RUN` to add it).")
        lines.append("")
    if others:
        lines += _comparison_section(metrics, others)
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
                "f1": f"F1 per genre, {word} and baseline"}
    for role, caption in captions.items():
        if role in plots_drawn:
            lines += [f"![{caption}]({plots_drawn[role].name})", ""]
    lines += ["## Files in this run folder", ""]
    if probe:
        bundle: list[tuple[list[Path], str]] = [
            ([run.config_file, run.labels_file, probe_file(run)], "the fitted probe (plain arrays, no pickle) and "
             "its settings (`python -m training predict FILE --run <this folder>`)"),
            ([probe_info_file(run)], "how the probe was fitted: C chosen by cross-validation on train, "
             "the embedding settings")]
    else:
        bundle = [([run.config_file, run.labels_file, run.model_file], "the trained model bundle "
                   "(`python -m training predict FILE --run <this folder>`)"),
                  ([run.history_file], "loss and metrics per epoch")]
    files: list[tuple[list[Path], str]] = [
        ([run.metrics_file], "every number above, plus the per-genre details and confusion counts"),
        ([run.predictions_file], "one row per evaluated track: truth, prediction, probabilities per genre"),
        ([run.baseline_predictions_file], "the same for the MFCC baseline"),
        (list(plots_drawn.values()), "the plots"),
        *bundle]
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
    others = [(other.name, theirs) for other, theirs in comparable_runs(run, metrics)]
    atomic_write_text(path, render_report(metrics, run, drawn, present, others))
    log.info("report written to %s", path)
    return path
