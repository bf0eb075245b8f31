"""Classification metrics for genre predictions, single- and multi-label.

Everything is computed from a truth array and a probability matrix so the CNN, the
MFCC baseline and the crop-level view share one implementation and one JSON shape.

Genres absent from the evaluated split are handled explicitly instead of letting
scikit-learn warn or fail: their recall, F1, ROC-AUC and PR-AUC are ``None`` (JSON
``null``), and the macro averages run over the genres that do occur (support > 0),
so one missing genre does not drag every macro number down to a meaningless value.
Macro ROC-AUC is the mean of one-vs-rest AUCs, which equals scikit-learn's
``roc_auc_score(..., multi_class="ovr", average="macro")`` when every genre occurs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DECIMALS = 4

#: Headline numbers per task, in report order; the baseline comparison uses the same keys.
HEADLINE: dict[str, tuple[str, ...]] = {
    "single": ("accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "roc_auc_macro", "pr_auc_macro"),
    "multi": ("subset_accuracy", "top1_accuracy", "micro_f1", "macro_f1", "hamming_loss", "roc_auc_macro",
              "pr_auc_macro"),
}

#: Metrics where a lower value is better (the comparison table flips the sign of "better").
LOWER_IS_BETTER = frozenset({"hamming_loss"})


def rounded(value: Any, decimals: int = DECIMALS) -> Any:
    """Round floats (recursively) for stable, diff-friendly JSON; NaN/inf become None."""
    if isinstance(value, dict):
        return {k: rounded(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, decimals) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return None
        out = round(value, decimals)
        return 0.0 if out == 0 else out
    return value


def rounded_object(data: dict[str, Any], decimals: int = DECIMALS) -> dict[str, Any]:
    """:func:`rounded` for a JSON object (keys kept in order)."""
    return {k: rounded(v, decimals) for k, v in data.items()}


def _safe_div(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _mean_defined(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _binary_scores(truth: np.ndarray, scores: np.ndarray) -> tuple[float | None, float | None]:
    """ROC-AUC and PR-AUC (average precision) of one genre; None where undefined."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    positives = int(truth.sum())
    roc = float(roc_auc_score(truth, scores)) if 0 < positives < truth.size else None
    pr = float(average_precision_score(truth, scores)) if positives > 0 else None
    return roc, pr


def _per_genre(truth: np.ndarray, pred: np.ndarray, probs: np.ndarray,
               labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Precision/recall/F1/support plus AUCs per genre from binary indicator matrices."""
    out: dict[str, dict[str, Any]] = {}
    for j, genre in enumerate(labels):
        t, p = truth[:, j].astype(bool), pred[:, j].astype(bool)
        tp = int(np.sum(t & p))
        support, predicted = int(t.sum()), int(p.sum())
        precision = _safe_div(tp, predicted)
        recall = _safe_div(tp, support)
        if support == 0:
            f1 = None
            precision = precision if predicted else None
        elif precision is None or recall is None or (precision + recall) == 0:
            f1 = 0.0
            precision = 0.0 if precision is None else precision
        else:
            f1 = 2 * precision * recall / (precision + recall)
        roc, pr = _binary_scores(t.astype(int), probs[:, j])
        out[genre] = {"precision": precision, "recall": recall, "f1": f1, "support": support,
                      "predicted": predicted, "roc_auc": roc, "pr_auc": pr}
    return out


def _check_shapes(probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise ValueError(f"probabilities have shape {probs.shape}, expected (n, {len(labels)})")
    if probs.shape[0] == 0:
        raise ValueError("no predictions to score (empty split?)")
    return probs


def single_label_metrics(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                         labels: Sequence[str]) -> dict[str, Any]:
    """Metrics for one genre per item: ``y_true`` holds label indices, ``probs`` is [n, L]."""
    probs = _check_shapes(probs, labels)
    y_true = np.asarray(y_true, dtype=int)
    n, n_labels = probs.shape
    if y_true.shape != (n,):
        raise ValueError(f"{y_true.shape[0]} truths for {n} predictions")
    y_pred = probs.argmax(axis=1)
    onehot_true = np.eye(n_labels, dtype=int)[y_true]
    onehot_pred = np.eye(n_labels, dtype=int)[y_pred]
    per_genre = _per_genre(onehot_true, onehot_pred, probs, labels)
    present = [g for g in labels if per_genre[g]["support"] > 0]
    # rank of the true genre: 0 = top prediction
    true_scores = probs[np.arange(n), y_true]
    rank = (probs > true_scores[:, None]).sum(axis=1)
    counts = np.zeros((n_labels, n_labels), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return {
        "n": int(n),
        "accuracy": float(np.mean(y_pred == y_true)),
        # mean recall over the genres that occur (scikit-learn's balanced_accuracy_score)
        "balanced_accuracy": _mean_defined([per_genre[g]["recall"] for g in present]),
        "macro_f1": _mean_defined([per_genre[g]["f1"] for g in present]),
        "top2_accuracy": float(np.mean(rank < 2)) if n_labels > 2 else None,
        "roc_auc_macro": _mean_defined([per_genre[g]["roc_auc"] for g in present]),
        "pr_auc_macro": _mean_defined([per_genre[g]["pr_auc"] for g in present]),
        "genres_absent": [g for g in labels if g not in present],
        "per_genre": per_genre,
        "confusion_matrix": counts.tolist(),
    }


def multi_label_metrics(y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str],
                        threshold: float = 0.5) -> dict[str, Any]:
    """Metrics for several genres per item: ``y_true`` is a 0/1 matrix [n, L], ``probs`` sigmoid outputs.

    A genre is predicted when its probability reaches ``threshold``.
    """
    probs = _check_shapes(probs, labels)
    truth = np.asarray(y_true).astype(bool)
    if truth.shape != probs.shape:
        raise ValueError(f"truth has shape {truth.shape}, predictions {probs.shape}")
    n, n_labels = probs.shape
    pred = probs >= threshold
    per_genre = _per_genre(truth, pred, probs, labels)
    present = [g for g in labels if per_genre[g]["support"] > 0]
    tp = int(np.sum(truth & pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    micro_p, micro_r = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    micro_f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    top = probs.argmax(axis=1)
    confusion = {}
    for j, genre in enumerate(labels):
        t, p = truth[:, j], pred[:, j]
        confusion[genre] = [[int(np.sum(~t & ~p)), int(np.sum(~t & p))], [int(np.sum(t & ~p)), int(np.sum(t & p))]]
    from sklearn.metrics import roc_auc_score

    flat_truth = truth.ravel().astype(int)
    micro_roc = (float(roc_auc_score(flat_truth, probs.ravel()))
                 if 0 < flat_truth.sum() < flat_truth.size else None)
    return {
        "n": int(n),
        "threshold": float(threshold),
        "subset_accuracy": float(np.mean(np.all(truth == pred, axis=1))),
        "top1_accuracy": float(np.mean(truth[np.arange(n), top])),
        "hamming_loss": float(np.mean(truth != pred)),
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        "micro_f1": micro_f1 if micro_f1 is not None else 0.0,
        "macro_f1": _mean_defined([per_genre[g]["f1"] for g in present]),
        "roc_auc_macro": _mean_defined([per_genre[g]["roc_auc"] for g in present]),
        "roc_auc_micro": micro_roc,
        "pr_auc_macro": _mean_defined([per_genre[g]["pr_auc"] for g in present]),
        "mean_labels_true": float(truth.sum(axis=1).mean()),
        "mean_labels_predicted": float(pred.sum(axis=1).mean()),
        "genres_absent": [g for g in labels if g not in present],
        "per_genre": per_genre,
        "confusion_per_genre": confusion,
    }


def compute(task: str, truth: np.ndarray, probs: np.ndarray, labels: Sequence[str],
            threshold: float = 0.5) -> dict[str, Any]:
    """Dispatch on the task and round the result for JSON."""
    if task == "single":
        return rounded_object(single_label_metrics(truth, probs, labels))
    if task == "multi":
        return rounded_object(multi_label_metrics(truth, probs, labels, threshold))
    raise ValueError(f"unknown task {task!r}: expected 'single' or 'multi'")


def comparison(task: str, model: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline metrics side by side with the difference in percentage points (model - baseline)."""
    rows = []
    for key in HEADLINE[task]:
        a, b = model.get(key), baseline.get(key)
        diff = None if a is None or b is None else round(100.0 * (a - b), 2)
        better = None
        if diff is not None and diff != 0:
            better = "model" if (diff > 0) != (key in LOWER_IS_BETTER) else "baseline"
        rows.append({"metric": key, "model": a, "baseline": b, "difference_points": diff, "better": better})
    return rows
