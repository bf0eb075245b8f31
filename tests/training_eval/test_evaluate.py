"""`python -m training evaluate` and `report` on a tiny real run and a generated corpus."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from manifests import Layout
from manifests.errors import UserError
from training.cli import main
from training.commands.evaluate import _check_expectations
from training.evaluation.evaluate import check_split_disjoint, load_wave, score_tracks

from .corpus import GENRES, make_corpus

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def _png_ok(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 2000 and path.read_bytes()[:8] == PNG_MAGIC


def test_evaluate_writes_metrics_predictions_plots_and_report(corpus: Layout, single_run: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(single_run, tmp_path)
    assert main(["evaluate", str(run), "--data", str(corpus.root), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "song-level accuracy" in printed and str(run / "report.md") in printed

    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics)[:4] == ["run", "task", "split", "labels"]
    assert metrics["split"] == "test" and metrics["labels"] == list(GENRES) and metrics["artist_disjoint"]
    assert metrics["n_tracks"] == 12
    # 2 s tracks, 1 s crops: two crops per track (evenly spaced, covering the track)
    assert metrics["n_crops"] == 24 and metrics["crop"]["n"] == 24
    song = metrics["song"]
    # the tones are easy: the tiny model and the baseline both get them right
    assert song["accuracy"] >= 0.9
    assert song["per_genre"]["ambient"]["support"] == 4
    assert sum(map(sum, song["confusion_matrix"])) == 12
    assert metrics["baseline"]["song"]["accuracy"] >= 0.9
    assert [row["metric"] for row in metrics["comparison"]][:3] == ["accuracy", "balanced_accuracy", "macro_f1"]
    acc = metrics["comparison"][0]
    assert acc["difference_points"] == pytest.approx(100 * (song["accuracy"] - acc["baseline"]), abs=0.01)
    # floats are rounded for stable diffs
    assert all(len(str(v).split(".")[-1]) <= 4 for v in song["per_genre"]["noise"].values() if isinstance(v, float))

    with open(run / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert {"track_id", "true", "predicted", "correct", "n_crops", "prob_ambient"} <= set(rows[0])
    for row in rows:
        probs = [float(row[f"prob_{g}"]) for g in GENRES]
        assert sum(probs) == pytest.approx(1.0, abs=1e-3)
        assert row["predicted"] == GENRES[int(np.argmax(probs))]
    assert len((run / "predictions-baseline.csv").read_text().splitlines()) == 13

    for name in ("confusion.png", "curves.png", "f1-per-genre.png"):
        assert _png_ok(run / name), name
    report = (run / "report.md").read_text()
    assert "| accuracy |" in report and "CNN − baseline (points)" in report
    assert "| ambient | 4 |" in report
    for name in ("confusion.png", "curves.png", "f1-per-genre.png"):
        assert f"]({name})" in report
    assert "artist-disjoint" in report and "predictions.csv" in report

    # the quality bars of --expect-accuracy / --expect-margin (checked after every file is written):
    # accuracy 1.0 meets 0.9; the baseline is perfect too here, so the CNN's margin is 0 points
    _check_expectations(metrics, 0.9, None)
    with pytest.raises(UserError, match=r"beats the MFCC baseline by \+0\.0 points of accuracy, expected at least \+10"):
        _check_expectations(metrics, 0.9, 10)
    with pytest.raises(UserError, match="song-level accuracy 1.0 is below the expected 1.01"):
        _check_expectations(metrics, 1.01, None)


def test_evaluate_refuses_a_split_that_shares_an_artist(tmp_path: Path, single_run: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_corpus(tmp_path / "data", {"train": 2, "validation": 1, "test": 1}, seconds=1.0,
                         shared_artist="Daft Punk")
    run = _copy(single_run, tmp_path)
    assert main(["evaluate", str(run), "--data", str(layout.root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ") and "not artist-disjoint" in err and "artist 'DAFT PUNK!' is in test" in err
    assert not (run / "metrics.json").exists() and not (run / "report.md").exists()


def test_split_check_names_artist_and_catches_same_audio() -> None:
    rows = [
        {"track_id": "t1", "split": "train", "artists": ["Björk"], "sha256": "a" * 64},
        {"track_id": "t2", "split": "validation", "artists": ["Moby"], "sha256": "b" * 64},
        {"track_id": "t3", "split": "test", "artists": ["Air"], "sha256": "c" * 64},
    ]
    check_split_disjoint(rows, "test")  # disjoint: no error
    rows.append({"track_id": "t4", "split": "test", "artists": ["Someone", "bjork"], "sha256": "d" * 64})
    with pytest.raises(UserError, match=r"artist 'bjork' is in test \(track t4\) and train \(track t1\)"):
        check_split_disjoint(rows, "test")
    rows[-1] = {"track_id": "t4", "split": "test", "artists": ["New"], "sha256": "b" * 64}
    with pytest.raises(UserError, match="same audio as validation track t2"):
        check_split_disjoint(rows, "test")
    # evaluating validation is checked against train only
    rows[-1] = {"track_id": "t4", "split": "test", "artists": ["Moby"], "sha256": "d" * 64}
    check_split_disjoint(rows, "validation")


def test_song_level_is_the_mean_over_evenly_spaced_crops_covering_the_track(corpus: Layout,
                                                                           single_run: Path,
                                                                           tmp_path: Path) -> None:
    from training.runs.bundle import load_bundle

    bundle = load_bundle(single_run)
    n = bundle.crop_samples
    rng = np.random.default_rng(0)
    wave = (rng.uniform(-0.5, 0.5, int(3.5 * n))).astype(np.float32)
    path = tmp_path / "audio" / "long.wav"
    path.parent.mkdir()
    sf.write(path, wave, 16000, subtype="PCM_16")
    layout = Layout.at(tmp_path)
    row = {"track_id": "tlong", "audio_path": "audio/long.wav"}
    decoded = load_wave(layout, row, 16000)
    seen: list[np.ndarray] = []
    real_predict = bundle.predict_crops

    def spy(crops: np.ndarray) -> np.ndarray:
        seen.append(np.array(crops))
        return real_predict(crops)

    bundle.predict_crops = spy
    scored = score_tracks(bundle, layout, [row])
    crops = seen[0]
    # ceil(3.5) = 4 crops, first at the start, last ending at the last sample, equal steps
    starts = [int(np.flatnonzero(np.all(np.lib.stride_tricks.sliding_window_view(decoded, n)[:, :64]
                                        == c[:64], axis=1))[0]) for c in crops]
    assert len(crops) == 4 and scored.n_crops == [4]
    assert starts[0] == 0 and starts[-1] + n == decoded.size
    steps = np.diff(starts)
    assert steps.max() - steps.min() <= 1 and steps.max() < n  # no gap: every sample is in some crop
    for start, crop in zip(starts, crops, strict=True):
        np.testing.assert_array_equal(crop, decoded[start: start + n])
    crop_probs = real_predict(crops)
    np.testing.assert_allclose(scored.song_probs[0], crop_probs.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(scored.song_probs[0], bundle.predict_song(decoded), rtol=1e-5)
    assert scored.crop_probs.shape == (4, len(GENRES))


def test_report_is_rebuilt_from_saved_metrics_without_the_model(evaluated_without_baseline: Path,
                                                                tmp_path: Path) -> None:
    run = evaluated_without_baseline
    metrics = json.loads((run / "metrics.json").read_text())
    assert "baseline" not in metrics
    # a folder with only the saved numbers: report needs neither the model nor audio
    bare = tmp_path / "b" / run.name
    bare.mkdir(parents=True)
    for name in ("metrics.json", "history.csv", "config.json"):
        shutil.copy(run / name, bare / name)
    assert main(["report", str(bare), "-q"]) == 0
    report = (bare / "report.md").read_text()
    assert report.startswith(f"# Evaluation of run `{run.name}`")
    assert "No baseline in this evaluation" in report
    assert _png_ok(bare / "confusion.png") and _png_ok(bare / "curves.png")
    assert main(["report", str(tmp_path / "nowhere"), "-q"]) == 2


def test_baseline_command_adds_the_baseline_to_an_evaluated_run(corpus: Layout, evaluated_without_baseline: Path,
                                                                tmp_path: Path) -> None:
    run = _copy(evaluated_without_baseline, tmp_path)
    before = (run / "report.md").read_text()
    assert "MFCC baseline, song level" not in before and "predictions-baseline.csv" not in before
    assert main(["baseline", str(run), "--data", str(corpus.root), "-q"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["baseline"]["song"]["n"] == 12
    assert metrics["comparison"][0]["metric"] == "accuracy"
    after = (run / "report.md").read_text()
    assert "MFCC baseline, song level" in after and "`predictions-baseline.csv`" in after


def test_multi_label_evaluation(corpus: Layout, multi_run: Path, tmp_path: Path) -> None:
    run = _copy(multi_run, tmp_path)
    assert main(["evaluate", str(run), "--data", str(corpus.root), "-q", "--expect-accuracy", "0.5"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    song = metrics["song"]
    assert metrics["task"] == "multi" and metrics["threshold"] == 0.5
    for key in ("subset_accuracy", "hamming_loss", "micro_f1", "macro_f1", "roc_auc_macro", "pr_auc_macro"):
        assert song[key] is not None, key
    assert song["hamming_loss"] <= 0.2 and song["subset_accuracy"] >= 0.5
    assert set(song["confusion_per_genre"]) == set(GENRES)
    assert metrics["baseline"]["song"]["hamming_loss"] is not None
    assert [r["metric"] for r in metrics["comparison"]][0] == "subset_accuracy"
    with open(run / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and all(r["true"] in GENRES for r in rows)
    assert _png_ok(run / "confusion.png")
    assert "Hamming loss" in (run / "report.md").read_text()


def test_crops_of_many_tracks_batched_together_keep_each_song_its_own_mean(corpus: Layout,
                                                                           single_run: Path) -> None:
    from manifests import read_table
    from manifests.schema import TRAINING
    from training.runs.bundle import load_bundle

    bundle = load_bundle(single_run, batch_size=4)  # 12 tracks x 2 crops: several model calls
    rows = [r for r in read_table(corpus.table_path("training"), TRAINING) if r["split"] == "test"]
    scored = score_tracks(bundle, corpus, rows, n_crops=3)
    assert scored.n_crops == [3] * 12 and scored.crop_probs.shape == (36, 3)
    assert scored.crop_owner.tolist() == [i for i in range(12) for _ in range(3)]
    for i, row in enumerate(rows):
        expected = bundle.predict_song(load_wave(corpus, row, 16000), 3)
        np.testing.assert_allclose(scored.song_probs[i], expected, rtol=1e-4, atol=1e-6)
