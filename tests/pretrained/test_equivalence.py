"""Our Keras rebuild of musicnn gives the original's numbers, on real music, on every installed backend.

The reference was made once with the original musicnn code (``tools/musicnn/reference_outputs.py``,
see ``fixtures/README.md``).  Here the same decoded samples (``librosa.load`` at 16 kHz, as the
original's ``batch_data``) go through our whole pipeline: the patch windows of
:class:`PatchStream`, our log-mel layer with musicnn's settings, the rebuilt network and the
converted weights.  Every taggram row and the mean ``penultimate`` embedding must agree within
1e-3.  (``training tag`` decodes with ffmpeg instead; ``test_tag_cli`` bounds that difference.)

Keras fixes its backend once per process, so the suite's own backend (TensorFlow unless
``KERAS_BACKEND`` says otherwise) is checked in process, and each other backend in one
subprocess for both models (:mod:`tests.pretrained.musicnn_equivalence`, the same comparison
and assertion).  JAX is installed (the ``jax`` extra); torch is not installed in this
project's environment, so its case is skipped and says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("librosa")

from tests.pretrained.musicnn_equivalence import ORIGINAL, check, differences, reference  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
#: Keras backends and the package each needs
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


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
    """On this process's backend."""
    print(check(name, differences(name, shared_dir), keras.backend.backend()))


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_rebuild_matches_the_original_on_other_backends(backend: str, shared_dir: Path) -> None:
    """Both models on ``backend`` in one subprocess (KERAS_BACKEND set before Keras is imported)."""
    if backend == keras.backend.backend():
        pytest.skip(f"{backend} is this process's backend: test_rebuild_matches_the_original_musicnn covers it")
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"{BACKENDS[backend]} is not installed, so the {backend} backend is not checked")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-m", "tests.pretrained.musicnn_equivalence", "--shared", str(shared_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{backend} run failed:\n{done.stderr[-4000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    assert sorted(result["models"]) == sorted(ORIGINAL)
    for name, differences_ in sorted(result["models"].items()):
        print(check(name, differences_, backend))
