"""Our Keras rebuild of musicnn gives the original's numbers, on real music.

The reference was made once with the original musicnn code (``tools/musicnn/reference_outputs.py``,
see ``fixtures/README.md``).  Here the same decoded samples (``librosa.load`` at 16 kHz, as the
original's ``batch_data``) go through our whole pipeline: the patch windows of
:class:`PatchStream`, our log-mel layer with musicnn's settings, the rebuilt network and the
converted weights.  Every taggram row and the mean ``penultimate`` embedding must agree within
1e-3.  (``training tag`` decodes with ffmpeg instead; ``test_tag_cli`` bounds that difference.)
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
librosa = pytest.importorskip("librosa")

from training.models.pretrained.patches import PatchStream, batched  # noqa: E402
from training.models.pretrained.tagger import TAGGRAM, load_pretrained  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: our registry name -> the original's model name (the fixture's keys)
ORIGINAL = {"musicnn-MTT": "MTT_musicnn", "musicnn-MSD": "MSD_musicnn"}
TOLERANCE = 1e-3
EMBEDDING = "penultimate"


@functools.cache
def reference() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(FIXTURES / "musicnn_reference.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    note = json.loads((FIXTURES / "musicnn_reference.json").read_text(encoding="utf-8"))
    return arrays, note


@functools.cache
def decoded(path: Path) -> np.ndarray:
    """The samples the original saw: librosa.load at 16 kHz (soundfile + soxr_hq)."""
    audio, _ = librosa.load(str(path), sr=16000)
    return np.asarray(audio, dtype=np.float32)


def excerpts(shared_dir: Path) -> list[Path]:
    _, note = reference()
    files = [shared_dir / "real-audio" / name for name in note["files"]]
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == note["files"][path.name]["sha256"], (
            f"{path.name} is not the file the reference was made from; regenerate the fixture "
            "(tools/musicnn/README.md)")
    return files


def test_the_reference_was_made_with_the_trained_weights() -> None:
    """Random weights (the original's silent fallback) would give every file the same top tags."""
    _, note = reference()
    top = {name[:12]: entry["top5"][:3] for name, entry in note["models"]["MTT_musicnn"]["files"].items()}
    assert set(top["Hungarian_Da"]) == {"classical", "violin", "strings"}
    assert set(top["Karissa_Hobb"]) == {"guitar", "female", "vocal"}
    assert top["Kevin_MacLeo"] != top["Karissa_Hobb"]
    assert {"electronic", "techno"} <= set(note["models"]["MTT_musicnn"]["files"]["Kevin_MacLeod_-_Vibe_Ace.ogg"]["top5"])


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_rebuild_matches_the_original_musicnn(name: str, shared_dir: Path) -> None:
    arrays, note = reference()
    model = load_pretrained(name)
    original = ORIGINAL[name]
    assert list(model.labels) == note["models"][original]["labels"]
    report = []
    for path in excerpts(shared_dir):
        audio = decoded(path)
        assert audio.size == note["models"][original]["files"][path.name]["n_samples"]
        stream = PatchStream(model.spec.spectrogram)
        rows, embeddings = [], []
        for batch in batched(stream.windows([audio]), 8):
            out = model.predict(batch, 16000, layers=(TAGGRAM, EMBEDDING))
            rows.append(out[TAGGRAM])
            embeddings.append(out[EMBEDDING])
        taggram = np.concatenate(rows)
        expected = arrays[f"{original}/{path.name}/taggram"]
        assert taggram.shape == expected.shape, f"{path.name}: patching differs from the original's"
        assert not stream.padded
        tag_diff = float(np.max(np.abs(taggram - expected)))
        emb_diff = float(np.max(np.abs(np.concatenate(embeddings).mean(axis=0)
                                       - arrays[f"{original}/{path.name}/{EMBEDDING}_mean"])))
        report.append(f"{path.name}: taggram {tag_diff:.2e}, {EMBEDDING} {emb_diff:.2e}")
        assert tag_diff < TOLERANCE and emb_diff < TOLERANCE, "\n".join(report)
    print(f"{name} max abs difference from the original:\n  " + "\n  ".join(report))
