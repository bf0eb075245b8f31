"""Per-genre thresholds of the multi-label probe: chosen on validation, stored in the run, used by evaluate and predict."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from training.runs.probe import LinearProbe, choose_thresholds, rescale


def test_each_genre_gets_the_threshold_with_the_best_validation_f1() -> None:
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0], [0, 1]])
    probs = np.array([[0.30, 0.9], [0.25, 0.1], [0.10, 0.8], [0.05, 0.2], [0.12, 0.7]])
    chosen = choose_thresholds(probs, truth, 0.5)
    # genre 0: its positives score 0.25 and 0.30, every negative at most 0.12: a threshold between them
    assert 0.12 < chosen[0] <= 0.25
    # genre 1: 0.5 already separates all but the 0.9 false positive as well as any other: kept
    assert chosen[1] == 0.5
    # a genre validation never shows (or always shows) keeps the run's threshold
    assert choose_thresholds(probs, np.zeros_like(truth), 0.4).tolist() == [0.4, 0.4]


def test_rescaling_puts_each_threshold_on_the_runs_and_keeps_the_order() -> None:
    thresholds = np.array([0.2, 0.7])
    probs = np.array([[0.0, 0.0], [0.1, 0.6], [0.2, 0.7], [0.6, 0.9], [1.0, 1.0]])
    out = rescale(probs, thresholds, 0.5)
    assert np.allclose(out[2], 0.5) and np.allclose(out[0], 0.0) and np.allclose(out[4], 1.0)
    assert ((out >= 0.5) == (probs >= thresholds)).all()
    assert (np.diff(out, axis=0) > 0).all()  # monotone per genre: AUC and AP unchanged


def test_thresholds_survive_the_probe_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    probe = LinearProbe("multi", 3, rng.normal(size=4), np.ones(4), rng.normal(size=(3, 4)), np.zeros(3),
                        np.arange(3), np.full(3, np.nan), np.ones(3), thresholds=np.array([0.2, 0.5, 0.8]),
                        threshold=0.5)
    path = tmp_path / "probe.npz"
    path.write_bytes(probe.to_bytes())
    loaded = LinearProbe.load(path)
    assert loaded.thresholds is not None and loaded.thresholds.tolist() == [0.2, 0.5, 0.8]
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(loaded.predict_proba(x), probe.predict_proba(x))


def test_a_multi_label_probe_run_stores_and_applies_its_thresholds(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    from training.cli import main

    from ..training_eval.corpus import GENRES, make_corpus

    layout = make_corpus(tmp_path / "data", {"train": 4, "validation": 2, "test": 2}, seconds=3.2, seed=6)
    common = ["--data", str(layout.root), "-q"]
    assert main(["train", "--model", "probe", "--task", "multi", "--max-patches", "1", "--run", "pm", *common]) == 0
    run = layout.runs / "pm"
    info = json.loads((run / "probe.json").read_text())
    assert set(info["thresholds"]) == set(GENRES)
    with np.load(run / "probe.npz", allow_pickle=False) as data:
        np.testing.assert_allclose(data["thresholds"], [info["thresholds"][g] for g in GENRES], atol=1e-4)
    assert main(["evaluate", str(run), "--no-baseline", *common]) == 0
    with (run / "predictions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    for row in rows:  # predicted = the genres whose (rescaled) score reaches the run's threshold
        assert row["predicted"] == "; ".join(g for g in GENRES if float(row[f"prob_{g}"]) >= 0.5)
