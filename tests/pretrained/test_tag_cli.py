"""`python -m training models` and `python -m training tag`: the registry, real tags, and every bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("keras")

from manifests.errors import UserError
from training.cli import main
from training.models.pretrained import registry
from training.models.pretrained.tagger import PretrainedModel, load_pretrained, tag_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CLASSICAL = ("Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
             "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg")
#: MagnaTagATune tags a listener would accept for a string orchestra or a ballet
CLASSICAL_TAGS = {"classical", "classic", "strings", "violin", "cello", "harp", "harpsichord", "flute",
                  "orchestra", "choral", "opera", "piano", "slow", "quiet", "soft"}
#: ffmpeg's resampler is not librosa's soxr: how far `tag`'s taggram means may drift from the original's
DECODER_DRIFT = 0.03


def _tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def test_models_lists_both_taggers_with_their_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert {"musicnn-MTT", "musicnn-MSD"} <= set(models)
    for entry in (models["musicnn-MTT"], models["musicnn-MSD"]):
        assert entry["licence"] == "ISC" and "Pons" in entry["attribution"]
        assert "musicnn" in entry["source"] and entry["sample_rate"] == 16000
        assert "96-band mel" in entry["inputs"] and "187 frames" in entry["inputs"]
        assert entry["outputs"].startswith("50 tag probabilities")
        assert entry["embedding_layer"] == "penultimate" and entry["embedding_size"] == 200
        assert entry["embedding_layers"]["max_pool"] == 753
        assert 1_000_000 < entry["size_on_disk"] < 6_000_000 and len(entry["labels"]) == 50
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for needle in ("musicnn-MTT", "musicnn-MSD", "ISC licence", "inputs:", "outputs:", "embedding:", "MB"):
        assert needle in text


def test_tag_names_classical_tags_for_the_classical_excerpts(shared_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    files = [shared_dir / "real-audio" / name for name in CLASSICAL]
    plots = tmp_path / "plots"
    assert main(["tag", *map(str, files), "--pretrained", "musicnn-MTT", "--json", "--plot", str(plots), "-q"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["errors"] == [] and [m["name"] for m in payload["models"]] == ["musicnn-MTT"]
    note = json.loads((FIXTURES / "musicnn_reference.json").read_text(encoding="utf-8"))
    with np.load(FIXTURES / "musicnn_reference.npz") as reference:
        for result in payload["results"]:
            name = Path(result["file"]).name
            mtt = result["models"]["musicnn-MTT"]
            top3 = [t["tag"] for t in mtt["top"][:3]]
            assert top3[0] == "classical" and set(top3) <= CLASSICAL_TAGS, (name, top3)
            assert not result["padded"] and result["warning"] is None
            # the same patches as the original, and the same tags within the decoders' difference
            assert mtt["n_patches"] == note["models"]["MTT_musicnn"]["files"][name]["n_patches"]
            expected = reference[f"MTT_musicnn/{name}/taggram"].mean(axis=0)
            ours = np.array(list(mtt["mean"].values()))
            assert np.abs(ours - expected).max() < DECODER_DRIFT
            png = plots / f"{Path(name).stem}.taggram.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_file_shorter_than_a_patch_is_padded_and_flagged(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    short = _tone(tmp_path / "short.wav", 1.0)
    assert main(["tag", str(short), "--pretrained", "musicnn-MTT", "--json"]) == 0
    captured = capsys.readouterr()
    (result,) = json.loads(captured.out)["results"]
    assert result["padded"] is True and result["models"]["musicnn-MTT"]["n_patches"] == 1
    assert result["duration_s"] == 1.0 and "padded with silence" in result["warning"]
    assert f"warning: {short}: shorter than one 2.99-s patch" in captured.err
    assert main(["tag", str(short), "--pretrained", "musicnn-MTT"]) == 0
    assert "warning: shorter than one" in capsys.readouterr().out


def test_unreadable_files_get_one_line_each_and_the_others_are_tagged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00this is not audio at all" * 20)
    missing = tmp_path / "missing.ogg"
    good = _tone(tmp_path / "good.wav", 3.5, rate=44100)
    code = main(["tag", str(broken), str(missing), str(good), "--pretrained", "musicnn-MTT", "--top", "3"])
    captured = capsys.readouterr()
    assert code == 2
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {broken}: ffmpeg could not decode it")
    assert errors[1] == f"error: {missing}: no such file"
    assert "Traceback" not in captured.err
    assert f"{good}  (3.5 s, 1 patch of 2.99 s)" in captured.out
    assert captured.out.count("musicnn-MTT") == 1


def test_a_missing_weight_file_says_how_to_regenerate_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path / "no-weights")
    good = _tone(tmp_path / "good.wav", 3.5)
    assert main(["tag", str(good)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: musicnn-MTT: weight file ") and "is missing" in err[0]
    assert "regenerate it with python tools/musicnn/convert.py" in err[0]
    assert main(["models"]) == 0
    assert "(missing)" in capsys.readouterr().out


def test_a_weight_file_that_does_not_fit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.models.pretrained.musicnn import build_musicnn
    from training.models.pretrained.weights import load_weights, save_weights

    spec = registry.get_pretrained("musicnn-MTT")
    save_weights(tmp_path / spec.weights, {"logits/kernel": np.zeros((200, 50))}, spec.labels, {})
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match=r"does not fit the model \(missing .*regenerate it with"):
        load_weights(build_musicnn(spec), spec)


class _Recording(PretrainedModel):
    """A stand-in model of another sample rate: records what it is fed (the real checks still run)."""

    def __init__(self, sample_rate: int) -> None:
        base = registry.get_pretrained("musicnn-MTT")
        spec = replace(base, name=f"fake-{sample_rate}",
                       spectrogram=replace(base.spectrogram, sample_rate=sample_rate))
        super().__init__(spec, model=None)
        self.fed: list[tuple[int, int]] = []

    def head(self, layers: object) -> object:
        outer = self

        class _Head:
            def predict_on_batch(self, windows: np.ndarray) -> np.ndarray:
                return np.zeros((windows.shape[0], len(outer.labels)), dtype=np.float32)

        return _Head()

    def predict(self, windows: np.ndarray, sample_rate: int, layers: object = ("taggram",)) -> dict[str, np.ndarray]:
        self.fed.append((sample_rate, windows.shape[0]))
        return super().predict(windows, sample_rate)


def test_a_model_of_another_sample_rate_never_gets_our_audio(tmp_path: Path) -> None:
    tagger = load_pretrained("musicnn-MTT")
    windows = np.zeros((1, tagger.spec.spectrogram.patch_samples), dtype=np.float32)
    with pytest.raises(UserError, match="musicnn-MTT takes 16000 Hz audio, not 22050 Hz"):
        tagger.predict(windows, 22050)
    # a 22.05 kHz model in the registry: `tag` decodes the file at 22.05 kHz for it, and 16 kHz for ours
    other = _Recording(22050)
    song = _tone(tmp_path / "song.wav", 7.0)
    result = tag_file([other, tagger], song)
    # 7 s: 603 frames of 256 samples at 22.05 kHz (3 patches of 187), 438 frames at 16 kHz (2 patches)
    assert other.fed == [(22050, 3)]
    assert result.n_patches("fake-22050") == 3 and result.n_patches("musicnn-MTT") == 2
    with pytest.raises(UserError, match="fake-22050 takes 22050 Hz audio, not 16000 Hz"):
        other.predict(windows, 16000)
