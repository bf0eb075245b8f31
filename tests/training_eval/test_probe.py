"""`training embed` and `training train --model probe`: the embedding cache, the probe run, evaluate, predict, report.

One tiny corpus (three tone genres, 5 s tracks: two half-overlapping musicnn patches each)
is embedded once by the real musicnn-MSD; the tests copy the probe run before changing it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from manifests import Layout, read_table
from manifests.errors import INTERRUPTED_EXIT, UserError
from manifests.schema import TRAINING
from training.cli import main
from training.config import ProbeConfig, TrainConfig
from training.data.embeddings import EmbeddingCache, EmbeddingSettings, pool
from training.runs import embed as embed_module
from training.runs.probe import LinearProbe, fit_probe, is_probe_run, load_probe
from training.runs.rundir import RunDir

from .conftest import make_run
from .corpus import GENRES, make_corpus

SECONDS = 5.0
SETTINGS = EmbeddingSettings()


def _embed_json(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["embed", "--data", str(root), "--json", "-q", *extra]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


@pytest.fixture(scope="module")
def probe_corpus(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    return make_corpus(tmp_path_factory.mktemp("probe-data"), {"train": 6, "validation": 2, "test": 4},
                       seconds=SECONDS, seed=5)


@pytest.fixture(scope="module")
def probe_run(probe_corpus: Layout) -> Path:
    """A probe run trained with the real command (embeddings computed on the way)."""
    assert main(["train", "--model", "probe", "--data", str(probe_corpus.root), "--run", "probe", "-q"]) == 0
    return probe_corpus.runs / "probe"


def _copy_corpus(layout: Layout, tmp_path: Path) -> Layout:
    """The corpus and its embedding cache without any run (runs beside each other get compared)."""
    root = tmp_path / "data"
    shutil.copytree(layout.root, root, ignore=shutil.ignore_patterns("runs", ".*.lock*"))
    return Layout.at(root)


# ---------------------------------------------------------------- the cache


def test_embed_is_resumable_and_a_rerun_computes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    layout = make_corpus(tmp_path / "data", {"train": 3, "validation": 1, "test": 1}, seconds=SECONDS, seed=2)
    n_tracks = len(read_table(layout.table_path("training"), TRAINING))
    folder = layout.cache / "embeddings" / SETTINGS.key
    assert SETTINGS.key == "musicnn-MSD-penultimate-mean-o50-all"

    # a pass that dies after 6 decoded tracks (as Ctrl-C would) keeps what was finished before it
    # (batches of 4 patches: two tracks per batch, so every finished track has been written)
    real_decode = embed_module.decode_wave
    decoded: list[Path] = []

    def dying_decode(path: Path, rate: int) -> np.ndarray:
        if len(decoded) == 6:
            raise KeyboardInterrupt
        decoded.append(path)
        return real_decode(path, rate)

    monkeypatch.setattr(embed_module, "decode_wave", dying_decode)
    assert main(["embed", "--data", str(layout.root), "--batch-size", "4", "-q"]) == INTERRUPTED_EXIT
    assert "interrupted: finished work was saved" in capsys.readouterr().err
    kept = sorted(folder.glob("*.npy"))
    assert 0 < len(kept) <= 6 and not list(folder.glob(".*tmp*"))
    monkeypatch.setattr(embed_module, "decode_wave", real_decode)

    calls: list[int] = []
    real_run = embed_module.Embedder._run

    def counted(self: embed_module.Embedder, windows: np.ndarray) -> np.ndarray:
        calls.append(windows.shape[0])
        return real_run(self, windows)

    monkeypatch.setattr(embed_module.Embedder, "_run", counted)
    result = _embed_json(layout.root, capsys)
    assert result["computed"] == n_tracks - len(kept) and result["cached"] == len(kept)
    assert sum(calls) == 2 * (n_tracks - len(kept))  # two half-overlapping patches per 5-s track
    assert len(list(folder.glob("*.npy"))) == n_tracks
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["layer"] == "penultimate" and settings["size"] == 200
    assert result["real_time_factor"] is not None

    # the rerun computes nothing and never even loads the model
    import training.models.pretrained.tagger as tagger

    def no_model(*_: object) -> None:
        raise AssertionError("the model was loaded although every embedding is cached")

    monkeypatch.setattr(tagger, "load_pretrained", no_model)
    calls.clear()
    result = _embed_json(layout.root, capsys)
    assert result["computed"] == 0 and result["cached"] == n_tracks and calls == []

    # a damaged or foreign vector counts as missing and is computed again
    victim = sorted(folder.glob("*.npy"))[0]
    victim.write_bytes(b"not an npy file")
    monkeypatch.undo()
    assert _embed_json(layout.root, capsys)["computed"] == 1
    cache = EmbeddingCache(layout.cache, SETTINGS, 200)
    assert cache.get(victim.stem) is not None and cache.get(victim.stem).dtype == np.float32  # type: ignore[union-attr]

    # another layer is another cache, with its own size; the first one is untouched
    result = _embed_json(layout.root, capsys, "--layer", "mean_pool", "--max-patches", "1")
    assert result["computed"] == n_tracks and result["size"] == 753
    other = layout.cache / "embeddings" / "musicnn-MSD-mean_pool-mean-o50-n1"
    assert Path(str(result["folder"])) == other and len(list(other.glob("*.npy"))) == n_tracks
    assert len(list(folder.glob("*.npy"))) == n_tracks

    assert main(["embed", "--data", str(layout.root), "--layer", "nope", "-q"]) == 2
    assert "musicnn-MSD has no embedding layer 'nope'" in capsys.readouterr().err


def test_cache_keys_differ_with_every_setting() -> None:
    base = EmbeddingSettings()
    variants = [EmbeddingSettings(model="musicnn-MTT"), EmbeddingSettings(layer="max_pool"),
                EmbeddingSettings(pooling="max"), EmbeddingSettings(overlap=0.0), EmbeddingSettings(max_patches=10)]
    keys = {base.key, *(v.key for v in variants)}
    assert len(keys) == 1 + len(variants)
    assert EmbeddingSettings.of(ProbeConfig(pretrained="musicnn-MTT", max_patches=3)).key == \
        "musicnn-MTT-penultimate-mean-o50-n3"
    patches = np.array([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(pool(patches, "mean"), [2.0, 4.0])
    np.testing.assert_allclose(pool(patches, "max"), [3.0, 6.0])
    np.testing.assert_allclose(pool(patches, "meanstd"), [2.0, 4.0, 1.0, 2.0])
    assert EmbeddingSettings(pooling="meanstd").size(200) == 400


# ---------------------------------------------------------------- the probe itself


def _sklearn_probability(features: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000,
                                                                  random_state=0)).fit(features, y)
    return np.asarray(pipeline.predict_proba(features))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_linear_probe_arrays_give_scikit_learns_probabilities(n_classes: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(n_classes)
    y = np.repeat(np.arange(n_classes), 15)
    x = rng.standard_normal((y.size, 12)) + y[:, None] * 0.7
    probe, info = fit_probe(x, y, "single", n_classes + 1, ProbeConfig(cv_folds=3), seed=0)
    assert info["C"] in ProbeConfig().c_grid and info["cv_folds"] == 3 and len(info["cv_scores"]) == 9
    path = tmp_path / "probe.npz"
    path.write_bytes(probe.to_bytes())
    loaded = LinearProbe.load(path)
    probs = loaded.predict_proba(x)
    assert probs.shape == (y.size, n_classes + 1) and not probs[:, n_classes].any()  # a label absent from train
    np.testing.assert_allclose(probs[:, :n_classes], _sklearn_probability(x, y, info["C"]), atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_multi_label_probe_fits_one_regression_per_genre() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 6))
    truth = np.zeros((40, 3), dtype=int)
    truth[:, 0] = x[:, 0] > 0
    truth[:, 1] = x[:, 1] > 0.3
    # genre 2 never occurs in train: a constant 0
    probe, info = fit_probe(x, truth, "multi", 3, ProbeConfig(cv_folds=3))
    probs = probe.predict_proba(x)
    assert probs.shape == (40, 3) and (probs[:, 2] == 0).all()
    assert info["per_genre"]["2"] == {"C": None, "constant": 0.0}
    for j in (0, 1):
        c = info["per_genre"][str(j)]["C"]
        np.testing.assert_allclose(probs[:, j], _sklearn_probability(x, truth[:, j], c)[:, 1], atol=1e-6)
        assert ((probs[:, j] >= 0.5) == truth[:, j]).mean() > 0.85


def test_probe_run_folder_holds_the_standard_files(probe_run: Path, probe_corpus: Layout,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = RunDir(probe_run)
    assert is_probe_run(run)
    names = run.files()
    assert {"config.json", "labels.json", "run.json", "probe.npz", "probe.json"} <= names
    assert "model.keras" not in names
    config = json.loads(run.config_file.read_text())
    assert config["model"] == "probe" and config["probe"]["pretrained"] == "musicnn-MSD"
    assert config["probe"]["layer"] == "penultimate" and config["probe"]["overlap"] == 0.5
    assert run.read_labels() == list(GENRES)
    info = json.loads((probe_run / "probe.json").read_text())
    assert info["cv_scoring"] == "balanced_accuracy" and info["n_train"] == 18 and info["cv_folds"] == 5
    assert info["embedding"]["size"] == 200 and "50%-overlapping" in info["embedding"]["description"]
    summary = run.read_summary()
    assert summary["status"] == "finished" and summary["tracks"] == {"train": 18, "validation": 6, "test": 12}
    assert summary["val_song_accuracy"] >= 0.8  # three tone genres: chance is 1/3
    with np.load(probe_run / "probe.npz", allow_pickle=False) as data:  # plain arrays, no pickle
        assert data["coef"].shape == (3, 200) and data["mean"].shape == (200,)

    # the same command again: nothing to do; other settings are refused, not mixed in
    stamp = (probe_run / "probe.npz").stat().st_mtime_ns
    root = str(probe_corpus.root)
    assert main(["train", "--model", "probe", "--data", root, "--run", "probe", "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(probe_run)
    assert (probe_run / "probe.npz").stat().st_mtime_ns == stamp
    assert main(["train", "--model", "probe", "--data", root, "--run", "probe", "--layer", "max_pool", "-q"]) == 2
    assert "other settings (probe.layer: 'penultimate' -> 'max_pool')" in capsys.readouterr().err
    assert main(["train", "--data", root, "--run", "x", "--max-patches", "3", "-q"]) == 2
    assert "--max-patches is a setting of the linear probe: add --model probe" in capsys.readouterr().err


def test_config_json_of_a_cnn_has_no_probe_section(tmp_path: Path) -> None:
    cnn = TrainConfig()
    assert "probe" not in cnn.to_dict()
    probe = TrainConfig(model="probe", probe=ProbeConfig(layer="max_pool", max_patches=4))
    path = tmp_path / "config.json"
    probe.save(path)
    loaded = TrainConfig.load(path)
    assert loaded.probe == probe.probe and loaded.differences(probe) == []
    loaded.probe.pooling = "median"
    with pytest.raises(Exception, match="pooling 'median'"):
        loaded.validate()


# ---------------------------------------------------------------- evaluate, predict, report


def test_evaluate_predict_and_the_comparison_table(probe_run: Path, probe_corpus: Layout, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    layout = _copy_corpus(probe_corpus, tmp_path)
    probe = Path(shutil.copytree(probe_run, layout.runs / "probe"))
    root = str(layout.root)
    assert main(["evaluate", str(probe), "--data", root, "-q"]) == 0
    printed = capsys.readouterr().out
    assert "song-level accuracy" in printed and "crop-level" not in printed
    metrics = json.loads((probe / "metrics.json").read_text())
    assert metrics["model"] == "probe" and metrics["crop"] is None and metrics["n_tracks"] == 12
    assert metrics["pretrained"]["layer"] == "penultimate" and metrics["pretrained"]["size"] == 200
    assert metrics["song"]["accuracy"] >= 0.8 and metrics["baseline"]["song"]["accuracy"] is not None
    assert {row["metric"] for row in metrics["comparison"]} >= {"accuracy", "macro_f1"}
    report = (probe / "report.md").read_text()
    assert "| metric | probe, song level | MFCC baseline, song level | probe − baseline (points) |" in report
    assert "linear probe on musicnn-MSD `penultimate`" in report and "`probe.npz`" in report
    assert "Models on the same test tracks" not in report  # nothing to compare with yet
    assert main(["evaluate", str(probe), "--data", root, "--crops", "3", "-q"]) == 2
    assert "--crops applies to CNN runs" in capsys.readouterr().err

    # predict on a probe run: embed the file, apply the probe
    rows = [r for r in read_table(layout.table_path("training"), TRAINING) if r["split"] == "test"]
    files = [str(layout.resolve(r["audio_path"])) for r in rows]
    assert main(["predict", *files, "--run", str(probe), "--data", root, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["errors"] == [] and payload["labels"] == list(GENRES)
    right = sum(res["predicted"] == [r["top_genre"]] for res, r in zip(payload["results"], rows, strict=True))
    assert right >= 0.8 * len(rows)
    first = payload["results"][0]
    assert first["n_crops"] == 2 and sum(first["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert main(["predict", files[0], "--run", str(probe), "--data", root]) == 0
    assert "linear probe on musicnn-MSD penultimate" in capsys.readouterr().out

    # a CNN run on the same data: each report compares CNN, probe and MFCC on the same tracks
    cnn = make_run(layout.runs / "cnn", layout)
    assert main(["evaluate", str(cnn), "--data", root, "-q"]) == 0
    capsys.readouterr()
    for run, this in ((cnn, "CNN `cnn_bn`"), (probe, "linear probe on musicnn-MSD `penultimate`")):
        report = (run / "report.md").read_text()
        section = report[report.index("## Models on the same test tracks"):]
        section = section[:section.index("\n## ")]
        assert f"| {this} | `{run.name}` (this report) |" in section, run
        assert "| CNN `cnn_bn` |" in section and "| linear probe on musicnn-MSD `penultimate` |" in section
        assert "| MFCC baseline |" in section and "exactly these 12 test tracks" in section

    # a run scored on another split is not compared
    other = Path(shutil.copytree(probe_run, layout.runs / "probe-val"))
    assert main(["evaluate", str(other), "--data", root, "--split", "validation", "-q"]) == 0
    capsys.readouterr()
    assert "probe-val" not in (cnn / "report.md").read_text()
    assert "Models on the same test tracks" not in (other / "report.md").read_text()

    # `report` redraws the table from the saved files alone
    (cnn / "report.md").unlink()
    assert main(["report", str(cnn), "--data", root, "-q"]) == 0
    assert "| linear probe on musicnn-MSD `penultimate` | `probe` |" in (cnn / "report.md").read_text()


def test_probe_bundle_refuses_a_probe_of_another_size(probe_run: Path, tmp_path: Path) -> None:
    run = RunDir(Path(shutil.copytree(probe_run, tmp_path / "probe")))
    config = run.read_config()
    config.probe.pooling = "meanstd"  # 400 values per track; the probe reads 200
    run.write_config(config)
    with pytest.raises(UserError, match="the probe reads 200 values"):
        load_probe(run)
    (run.path / "probe.npz").unlink()
    with pytest.raises(UserError, match="no fitted probe"):
        load_probe(run)


def test_predict_without_run_finds_the_newest_probe_run(probe_run: Path, probe_corpus: Layout) -> None:
    from training.runs.rundir import RunDir

    run = RunDir.newest(probe_corpus)
    assert run.path == probe_run and run.is_finished and run.trained_file == run.probe_file


def test_embed_shards_split_the_tracks_and_together_fill_the_cache(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--shard 1/2 and 2/2 (two machines) embed every track exactly once between them."""
    layout = make_corpus(tmp_path / "data", {"train": 3, "validation": 1, "test": 2}, seconds=SECONDS, seed=3)
    n_tracks = len(read_table(layout.table_path("training"), TRAINING))
    first = _embed_json(layout.root, capsys, "--shard", "1/2", "--max-patches", "1")
    second = _embed_json(layout.root, capsys, "--shard", "2/2", "--max-patches", "1")
    assert first["computed"] and second["computed"]
    assert first["computed"] + second["computed"] == first["tracks"] + second["tracks"] == n_tracks
    assert _embed_json(layout.root, capsys, "--max-patches", "1")["computed"] == 0  # nothing left to do
