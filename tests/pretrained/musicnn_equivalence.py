"""How far our musicnn rebuild is from the original's reference outputs, on the backend of this process.

Shared by ``test_equivalence.py``: the test compares in its own process (the suite's
backend) and runs this module as a script for each other installed Keras backend,
because Keras fixes its backend once per process::

    KERAS_BACKEND=jax python -m tests.pretrained.musicnn_equivalence --shared ../shared

The script prints one JSON object: the backend, and per model the patch counts and
maximum absolute differences per excerpt; :func:`check` is the one assertion both use.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: our registry name -> the original's model name (the fixture's keys)
ORIGINAL = {"musicnn-MTT": "MTT_musicnn", "musicnn-MSD": "MSD_musicnn"}
TOLERANCE = 1e-3
EMBEDDING = "penultimate"
#: patches per model call, as ``training tag`` (the last batch of a file is smaller)
BATCH = 8


@functools.cache
def reference() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The original's outputs (npz) and the note on how they were made (json)."""
    with np.load(FIXTURES / "musicnn_reference.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    note = json.loads((FIXTURES / "musicnn_reference.json").read_text(encoding="utf-8"))
    return arrays, note


@functools.cache
def decoded(path: Path) -> np.ndarray:
    """The samples the original saw: librosa.load at 16 kHz (soundfile + soxr_hq)."""
    import librosa

    audio, _ = librosa.load(str(path), sr=16000)
    return np.asarray(audio, dtype=np.float32)


def excerpts(shared_dir: Path) -> list[Path]:
    """The four real excerpts, each checked to be the file the reference was made from."""
    _, note = reference()
    files = [shared_dir / "real-audio" / name for name in note["files"]]
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == note["files"][path.name]["sha256"], (
            f"{path.name} is not the file the reference was made from; regenerate the fixture "
            "(tools/musicnn/README.md)")
    return files


def differences(name: str, shared_dir: Path) -> dict[str, Any]:
    """Our whole pipeline (patch windows, log-mel layer, network, weights) on each excerpt, against the reference.

    Per file: sample and patch counts (ours and the original's), whether the stream padded,
    and the maximum absolute differences of the taggram and of the mean ``penultimate``.
    """
    from training.models.pretrained.patches import PatchStream, batched
    from training.models.pretrained.tagger import TAGGRAM, load_pretrained

    arrays, note = reference()
    model = load_pretrained(name)
    original = note["models"][ORIGINAL[name]]
    files: dict[str, Any] = {}
    for path in excerpts(shared_dir):
        audio = decoded(path)
        stream = PatchStream(model.spec.spectrogram)
        rows, embeddings = [], []
        for batch in batched(stream.windows([audio]), BATCH):
            n = batch.shape[0]  # padded to one shape: JAX then compiles each model once (patches are independent)
            out = model.predict(np.pad(batch, ((0, BATCH - n), (0, 0))), 16000, layers=(TAGGRAM, EMBEDDING))
            rows.append(out[TAGGRAM][:n])
            embeddings.append(out[EMBEDDING][:n])
        taggram = np.concatenate(rows)
        expected = arrays[f"{ORIGINAL[name]}/{path.name}/taggram"]
        entry: dict[str, Any] = {
            "n_samples": int(audio.size), "expected_n_samples": original["files"][path.name]["n_samples"],
            "patches": int(taggram.shape[0]), "expected_patches": int(expected.shape[0]), "padded": stream.padded}
        if taggram.shape == expected.shape:
            entry["taggram"] = float(np.max(np.abs(taggram - expected)))
            entry[EMBEDDING] = float(np.max(np.abs(np.concatenate(embeddings).mean(axis=0)
                                                   - arrays[f"{ORIGINAL[name]}/{path.name}/{EMBEDDING}_mean"])))
        files[path.name] = entry
    return {"labels_match": list(model.labels) == original["labels"], "files": files}


def check(name: str, result: dict[str, Any], backend: str) -> str:
    """Assert one model's :func:`differences` are within :data:`TOLERANCE`; returns the report."""
    assert result["labels_match"], f"{name} ({backend}): tag labels differ from the original's"
    report = []
    for file, entry in result["files"].items():
        assert entry["n_samples"] == entry["expected_n_samples"], f"{file}: decoded differently from the original"
        assert entry["patches"] == entry["expected_patches"], f"{file}: patching differs from the original's"
        assert not entry["padded"]
        report.append(f"{file}: taggram {entry['taggram']:.2e}, {EMBEDDING} {entry[EMBEDDING]:.2e}")
    text = f"{name} on {backend}, max abs difference from the original:\n  " + "\n  ".join(report)
    worst = max(max(e["taggram"], e[EMBEDDING]) for e in result["files"].values())
    assert worst < TOLERANCE, text
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, required=True, help="the shared folder with real-audio/")
    args = parser.parse_args(argv)
    from training.runtime import quiet_tensorflow

    quiet_tensorflow(0)
    import keras

    result = {"backend": keras.backend.backend(),
              "models": {name: differences(name, args.shared) for name in sorted(ORIGINAL)}}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
