"""Metrics on small examples whose numbers were worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from training.evaluation import metrics as M

LABELS = ["a", "b", "c"]
TRUTH = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array([
    [0.7, 0.2, 0.1],  # a -> a
    [0.3, 0.6, 0.1],  # a -> b
    [0.2, 0.7, 0.1],  # b -> b
    [0.1, 0.8, 0.1],  # b -> b
    [0.1, 0.3, 0.6],  # c -> c
    [0.5, 0.1, 0.4],  # c -> a
])


def test_single_label_numbers_match_hand_computation() -> None:
    m = M.single_label_metrics(TRUTH, PROBS, LABELS)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # per genre: a P=1/2 R=1/2 F=1/2; b P=2/3 R=1 F=0.8; c P=1 R=1/2 F=2/3
    a, b, c = (m["per_genre"][g] for g in LABELS)
    assert (a["precision"], a["recall"], a["f1"], a["support"], a["predicted"]) == pytest.approx((0.5, 0.5, 0.5, 2, 2))
    assert (b["precision"], b["recall"], b["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (c["precision"], c["recall"], c["f1"]) == pytest.approx((1.0, 0.5, 2 / 3))
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # genre a: positives score .7 and .3, negatives .2 .1 .1 .5 -> 7 of 8 pairs ranked right
    assert a["roc_auc"] == pytest.approx(7 / 8)
    # ranking .7(P) .5 .3(P): precision 1 at recall .5, 2/3 at recall 1
    assert a["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["top2_accuracy"] == pytest.approx(1.0)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["genres_absent"] == []


def test_single_label_agrees_with_scikit_learn() -> None:
    m = M.single_label_metrics(TRUTH, PROBS, LABELS)
    pred = PROBS.argmax(axis=1)
    assert m["macro_f1"] == pytest.approx(f1_score(TRUTH, pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(TRUTH, pred))
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(TRUTH, PROBS, multi_class="ovr", average="macro"))


def test_genre_absent_from_split_is_null_and_left_out_of_macro() -> None:
    labels = LABELS + ["d"]
    probs = np.hstack([PROBS * 0.9, np.full((6, 1), 0.1)])
    probs[4] = [0.0, 0.1, 0.3, 0.6]  # a c track predicted as the absent genre d
    m = M.single_label_metrics(TRUTH, probs, labels)
    d = m["per_genre"]["d"]
    assert d["support"] == 0 and d["predicted"] == 1
    assert d["precision"] == 0.0 and d["recall"] is None and d["f1"] is None
    assert d["roc_auc"] is None and d["pr_auc"] is None
    assert m["genres_absent"] == ["d"]
    # c now: 0 right of 2 -> F1 0; macro over a, b, c only
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    text = M.compute("single", TRUTH, probs, labels)
    assert text["per_genre"]["d"]["f1"] is None  # JSON null, not NaN


def test_multi_label_numbers_match_hand_computation() -> None:
    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    probs = np.array([[0.9, 0.2, 0.1], [0.6, 0.4, 0.2], [0.3, 0.7, 0.6], [0.1, 0.2, 0.8]])
    m = M.multi_label_metrics(truth, probs, ["x", "y", "z"], threshold=0.5)
    assert m["subset_accuracy"] == pytest.approx(0.5)
    assert m["hamming_loss"] == pytest.approx(2 / 12)
    assert m["micro_f1"] == pytest.approx(0.8)  # tp 4, fp 1, fn 1
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m["top1_accuracy"] == pytest.approx(1.0)
    assert m["per_genre"]["y"]["roc_auc"] == pytest.approx(1.0)
    assert m["per_genre"]["z"]["precision"] == pytest.approx(0.5)
    assert m["confusion_per_genre"]["y"] == [[2, 0], [1, 1]]
    assert m["macro_f1"] == pytest.approx(f1_score(truth, probs >= 0.5, average="macro"))


def test_comparison_reports_points_and_knows_lower_is_better() -> None:
    rows = {r["metric"]: r for r in M.comparison("multi", {"subset_accuracy": 0.9, "hamming_loss": 0.05},
                                                 {"subset_accuracy": 0.75, "hamming_loss": 0.10})}
    assert rows["subset_accuracy"]["difference_points"] == pytest.approx(15.0)
    assert rows["subset_accuracy"]["better"] == "model"
    assert rows["hamming_loss"]["difference_points"] == pytest.approx(-5.0)
    assert rows["hamming_loss"]["better"] == "model"
    assert rows["macro_f1"]["difference_points"] is None


def test_rounding_is_stable_and_json_safe() -> None:
    assert M.rounded({"x": 0.123456789, "y": float("nan"), "z": [np.float32(1 / 3)], "n": np.int64(3)}) == \
        {"x": 0.1235, "y": None, "z": [0.3333], "n": 3}
    with pytest.raises(ValueError, match="shape"):
        M.single_label_metrics([0], np.zeros((1, 2)), LABELS)
