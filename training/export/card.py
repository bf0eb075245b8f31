"""The model card (``model_card.json``) and README.md written beside an exported model.

The card is what someone without the toolkit needs to use the model correctly: the
label order, how to decide (argmax, or a threshold per label), what audio goes in (rate,
channels, range, crop length) and what the graph does to it, how to get a song-level
score, how good the model is (the run's evaluation, if there was one), what it was trained
on, which run and toolkit version made it, and the licence of any pretrained part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from manifests.config import DISTRIBUTION

from ..models.pretrained.registry import WEIGHTS_DIR, PretrainedSpec
from ..runs.rundir import JSONObject, RunDir

CARD_FILE = "model_card.json"
README_FILE = "README.md"
#: The pretrained parts' licence file, copied into an export that carries their weights.
PRETRAINED_LICENCE_FILE = "LICENSE-musicnn.txt"
CARD_VERSION = 1


@dataclass
class Entry:
    """One way into the exported model: a SavedModel signature or an ONNX file."""

    name: str
    file: str
    level: str
    input_shape: list[int | None]
    description: str


@dataclass
class CardFacts:
    """What the exporter knows; :func:`build_card` turns it into the card."""

    run: RunDir
    kind: str  # "cnn" or "probe"
    fmt: str  # "savedmodel" or "onnx"
    labels: list[str]
    task: str
    threshold: float
    sample_rate: int
    crop_samples: int | None
    preprocessing: JSONObject
    entries: list[Entry]
    trained_file_sha256: str
    toolkit_version: str
    exported_at: str
    pretrained: PretrainedSpec | None = None
    verification: JSONObject = field(default_factory=dict)
    probe: JSONObject | None = None


def _scalars(section: Any) -> JSONObject | None:
    """The number and text values of a metrics section (per-genre tables and confusion counts left out)."""
    if not isinstance(section, dict):
        return None
    return {k: v for k, v in section.items() if isinstance(v, (int, float, str)) or v is None}


def metrics_summary(run: RunDir) -> JSONObject | None:
    """The headline of the run's ``metrics.json`` (None when it was never evaluated)."""
    if not run.has_metrics:
        return None
    data = run.read_metrics()
    song = data.get("song") if isinstance(data.get("song"), dict) else {}
    per_genre = song.get("per_genre") if isinstance(song, dict) else None
    out: JSONObject = {key: data.get(key) for key in ("split", "evaluated_at", "n_tracks", "n_crops",
                                                      "artist_disjoint", "manifest") if key in data}
    out["song"] = _scalars(song)
    out["crop"] = _scalars(data.get("crop"))
    out["per_genre_song"] = per_genre if isinstance(per_genre, dict) else None
    baseline = data.get("baseline")
    out["mfcc_baseline_song"] = _scalars(baseline.get("song")) if isinstance(baseline, dict) else None
    out["source"] = run.metrics_file.name
    return out


def training_summary(run: RunDir) -> JSONObject:
    """What the model learned from, as the trainer recorded it (``run.json`` and ``config.json``)."""
    summary = run.read_summary()
    config = run.read_config()
    return {
        "manifest": summary.get("manifest"),
        "tracks_per_split": summary.get("tracks"),
        "skipped_rows": summary.get("skipped"),
        "dropped_genres": summary.get("dropped_genres"),
        "target": "top_genre (single-label)" if config.task == "single"
        else f"every genre whose manifest weight is at least {config.label_threshold:g} (multi-label)",
        "validation_song_accuracy": summary.get("val_song_accuracy"),
        "splits": "artist-disjoint train / validation / test splits of the training manifest",
    }


def run_identity(run: RunDir, facts: CardFacts) -> JSONObject:
    summary = run.read_summary()
    return {"name": run.name, "path": str(run.path.resolve()), "model": run.read_config().model,
            "trained_file": run.trained_file.name, "trained_file_sha256": facts.trained_file_sha256,
            "status": summary.get("status"), "finished_at": summary.get("finished_at"),
            "epochs_done": summary.get("epochs_done"), "best_epoch": summary.get("best_epoch"),
            "config": run.read_config().to_dict()}


def pretrained_section(spec: PretrainedSpec | None) -> JSONObject | None:
    if spec is None:
        return None
    licence = WEIGHTS_DIR / "LICENSE"
    return {"name": spec.name, "licence": spec.licence, "attribution": spec.attribution, "source": spec.source,
            "url": spec.url, "licence_file": PRETRAINED_LICENCE_FILE,
            "licence_text": licence.read_text(encoding="utf-8").strip() if licence.is_file() else None,
            "note": f"this export contains the weights of {spec.name}; keep the copyright and permission "
                    f"notice ({PRETRAINED_LICENCE_FILE}) with every copy"}


def usage(facts: CardFacts) -> JSONObject:
    """Snippets that run with plain TensorFlow or onnxruntime (and numpy, soundfile for reading audio)."""
    labels = "json.load(open('model_card.json'))['labels']"
    decide = ("top = labels[int(scores.argmax())]" if facts.task == "single"
              else f"present = [l for l, s in zip(labels, scores) if s >= {facts.threshold:g}]")
    song = next(e for e in facts.entries if e.level == "song")
    if facts.fmt == "savedmodel":
        code = (f"import json, numpy as np, soundfile as sf, tensorflow as tf\n"
                f"labels = {labels}\n"
                f"model = tf.saved_model.load('{song.file}')\n"
                f"wave, rate = sf.read('song.wav', dtype='float32')  # mono, {facts.sample_rate} Hz, in [-1, 1]\n"
                f"assert rate == {facts.sample_rate} and wave.ndim == 1\n"
                f"scores = model.signatures['{song.name}'](waveform=tf.constant(wave[None, :]))['scores']"
                f".numpy()[0]\n{decide}\n")
    else:
        code = (f"import json, numpy as np, onnxruntime as ort, soundfile as sf\n"
                f"labels = {labels}\n"
                f"session = ort.InferenceSession('{song.file}')\n"
                f"wave, rate = sf.read('song.wav', dtype='float32')  # mono, {facts.sample_rate} Hz, in [-1, 1]\n"
                f"assert rate == {facts.sample_rate} and wave.ndim == 1\n"
                f"scores = session.run(['scores'], {{'waveform': wave[None, :]}})[0][0]\n{decide}\n")
    return {"python": code, "audio": f"Decode other audio to mono {facts.sample_rate} Hz first, e.g. "
                                     f"`ffmpeg -i in.mp3 -ac 1 -ar {facts.sample_rate} song.wav`"}


def song_level_text(facts: CardFacts) -> str:
    if facts.kind == "probe":
        return ("Every entry is song-level: each row of `waveform` is one whole clip; the graph cuts it into the "
                "pretrained model's patches, averages (pools) their embeddings and applies the probe. Rows of a "
                "batch must have the same length: score clips of different lengths in separate calls.")
    crop = facts.crop_samples or 0
    return (f"`song` takes whole clips [batch, samples] (any length; rows of a batch of equal length) and returns "
            f"the song-level probabilities the toolkit reports: the clip is cut into n = ceil(samples / {crop}) "
            f"crops of {crop} samples starting at round(linspace(0, samples - {crop}, n)) (numpy's rounding, half "
            f"to even; a clip shorter than a crop is zero-padded at the end to one crop) and the crop "
            f"probabilities are averaged. The crop entry gives the probabilities of single crops; averaging them "
            f"over those crops gives the same numbers.")


def build_card(facts: CardFacts) -> JSONObject:
    """The card as a JSON object (keys in a fixed order)."""
    run = facts.run
    decision: JSONObject = ({"rule": "argmax: the label with the highest probability", "thresholds": None}
                            if facts.task == "single" else
                            {"rule": "a label is present when its probability is at least its threshold",
                             "thresholds": {label: facts.threshold for label in facts.labels}})
    crop: JSONObject | None = None
    if facts.crop_samples:
        crop = {"samples": facts.crop_samples, "seconds": round(facts.crop_samples / facts.sample_rate, 6)}
    return {
        "card_version": CARD_VERSION,
        "kind": facts.kind,
        "format": facts.fmt,
        "task": facts.task,
        "labels": facts.labels,
        "decision": decision,
        "sample_rate": facts.sample_rate,
        "crop": crop,
        "input": {"name": "waveform", "dtype": "float32", "channels": 1, "range": "[-1, 1]",
                  "sample_rate": facts.sample_rate},
        "output": {"name": "scores", "dtype": "float32",
                   "meaning": "probability per label, in the order of `labels` ("
                              + ("softmax: they sum to 1)" if facts.task == "single" else "sigmoid each)")},
        "entries": [{"name": e.name, "file": e.file, "level": e.level, "input_shape": e.input_shape,
                     "description": e.description} for e in facts.entries],
        "song_level": song_level_text(facts),
        "preprocessing": facts.preprocessing,
        "probe": facts.probe,
        "metrics": metrics_summary(run),
        "training_data": training_summary(run),
        "run": run_identity(run, facts),
        "toolkit": {"name": DISTRIBUTION, "version": facts.toolkit_version},
        "pretrained": pretrained_section(facts.pretrained),
        "licence": ("the trained weights are yours (trained from scratch by this toolkit on your data)"
                    if facts.pretrained is None else
                    ("the probe is yours; the embedded " if facts.kind == "probe" else "the weights are fine-tuned from ")
                    + f"{facts.pretrained.name} weights, under the {facts.pretrained.licence} licence (see `pretrained`)"),
        "usage": usage(facts),
        "verification": facts.verification,
        "exported_at": facts.exported_at,
    }


def render_readme(card: JSONObject) -> str:
    """A short README.md for people: what the model is, how to run it, where the details are."""
    task = "single-label (one genre per song)" if card["task"] == "single" else "multi-label (a set of genres)"
    lines = [f"# {card['run']['name']}: genre classifier ({card['kind']}, {card['format']})", "",
             f"A {task} genre model exported by {card['toolkit']['name']} {card['toolkit']['version']} from the run "
             f"`{card['run']['name']}`. It runs with plain "
             + ("TensorFlow" if card["format"] == "savedmodel" else "onnxruntime")
             + " (no toolkit, no Keras, no custom layers).", "",
             f"* Labels ({len(card['labels'])}, the output order): {', '.join(card['labels'])}",
             f"* Decision: {card['decision']['rule']}"
             + ("" if card["task"] == "single" else f" (threshold {next(iter(card['decision']['thresholds'].values()))}"
                f" for every label)"),
             f"* Input `waveform`: mono float32 in [-1, 1] at {card['sample_rate']} Hz; the log-mel front end is "
             "inside the graph.", "", "| entry | file | level | input shape |", "|---|---|---|---|"]
    for e in card["entries"]:
        lines.append(f"| `{e['name']}` | `{e['file']}` | {e['level']} | {json.dumps(e['input_shape'])} |")
    lines += ["", "## Song-level score", "", card["song_level"], "", "## Usage", "", "```python",
              card["usage"]["python"].rstrip(), "```", "", card["usage"]["audio"] + ".", ""]
    metrics = card.get("metrics")
    if metrics and metrics.get("song"):
        key = "accuracy" if card["task"] == "single" else "subset_accuracy"
        lines += ["## Quality", "",
                  f"On the {metrics.get('split')} split ({metrics.get('n_tracks')} tracks, artists unseen in "
                  f"training): song-level {key} {metrics['song'].get(key)}, macro-F1 "
                  f"{metrics['song'].get('macro_f1')}. More in `model_card.json` (`metrics`).", ""]
    else:
        lines += ["## Quality", "", "The run was not evaluated before export (`python -m training evaluate RUN`).", ""]
    if card.get("pretrained"):
        p = card["pretrained"]
        lines += ["## Licence", "", f"Contains {p['name']} weights: {p['licence']} licence, {p['attribution']}. "
                  f"The notice is in `{p['licence_file']}`; keep it with every copy.", ""]
    lines += ["`model_card.json` holds everything else: preprocessing, training data, the run's settings, and the "
              "check made at export time.", ""]
    return "\n".join(lines)
