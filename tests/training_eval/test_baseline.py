"""The MFCC + logistic regression baseline: learns what is learnable, and nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.evaluation.baseline import BaselineModel, MfccConfig, mfcc_features
from training.evaluation.evaluate import RunSpec, run_baseline

from .corpus import GENRES, make_corpus, tone

SPEC = RunSpec(labels=GENRES, task="single", threshold=0.5, sample_rate=16000, min_weight=0.5)


def test_mfcc_statistics_have_the_documented_shape() -> None:
    rng = np.random.default_rng(1)
    vector = mfcc_features(tone("chiptune", 1.0, rng))
    assert vector.shape == (80,) and np.isfinite(vector).all()
    # a clip shorter than one FFT window still gives a vector instead of failing
    assert mfcc_features(np.zeros(100, dtype=np.float32)).shape == (80,)
    # the std half is not constant: different sounds give different vectors
    other = mfcc_features(tone("ambient", 1.0, rng))
    assert np.abs(vector - other).max() > 1.0


def test_baseline_separates_distinct_tones_and_caches_features(tmp_path: Path) -> None:
    layout = make_corpus(tmp_path, {"train": 8, "validation": 1, "test": 5}, seconds=1.5, seed=3)
    section, csv_text = run_baseline(SPEC, layout, _rows(layout), "test")
    song = section["song"]
    assert song["n"] == 15 and section["n_train"] == 24
    assert song["accuracy"] >= 0.9
    assert song["macro_f1"] >= 0.9
    assert section["feature_cache"] == {"hits": 0, "computed": 39}
    assert csv_text.splitlines()[0].startswith("track_id,title,artists,true,predicted,correct")
    assert len(csv_text.splitlines()) == 16
    # a rerun reads every vector from the cache (keyed by audio SHA-256) and gives the same numbers
    again, _ = run_baseline(SPEC, layout, _rows(layout), "test")
    assert again["feature_cache"] == {"hits": 39, "computed": 0}
    assert again["song"] == song
    assert len(list((layout.cache).glob("mfcc-*/*.npy"))) == 39


def test_baseline_is_at_chance_on_random_labels(tmp_path: Path) -> None:
    layout = make_corpus(tmp_path, {"train": 20, "validation": 0, "test": 20}, seconds=0.5, seed=5,
                         random_labels=True)
    section, _ = run_baseline(SPEC, layout, _rows(layout), "test")
    # three genres: chance is 1/3; a baseline that "learns" random labels would be leaking
    assert section["song"]["n"] == 60
    assert section["song"]["accuracy"] < 0.55


def test_multi_label_baseline_handles_a_genre_missing_from_train() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 80))
    truth = np.zeros((30, 3), dtype=int)
    truth[:, 0] = x[:, 0] > 0
    truth[:, 1] = 1 - truth[:, 0]  # genre 2 never occurs in train
    model = BaselineModel("multi", 3).fit(x, truth)
    probs = model.predict_proba(x)
    assert probs.shape == (30, 3)
    assert np.all(probs[:, 2] == 0.0)
    assert np.mean((probs[:, 0] >= 0.5) == truth[:, 0].astype(bool)) >= 0.9


def test_single_label_baseline_needs_two_genres() -> None:
    with pytest.raises(ValueError, match="two genres"):
        BaselineModel("single", 3).fit(np.zeros((4, 80)), np.zeros(4, dtype=int))


def _rows(layout):
    from manifests import read_table
    from manifests.schema import TRAINING

    return read_table(layout.table_path("training"), TRAINING)


def test_config_key_changes_with_settings() -> None:
    assert MfccConfig().key() != MfccConfig(n_mfcc=13).key()
    assert MfccConfig().key() == MfccConfig().key()
