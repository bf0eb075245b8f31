"""A base install (no ``train`` extra) gets one line saying what to install, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .corpus import make_corpus

REPO = Path(__file__).resolve().parents[2]

# Marking a module None in sys.modules makes importing it fail exactly as when it is not installed.
_WITHOUT_KERAS = """
import sys
for name in ("keras", "tensorflow"):
    sys.modules[name] = None
from training.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_training_without_keras_says_which_extra_to_install(tmp_path: Path) -> None:
    layout, _ = make_corpus(tmp_path / "data")
    data = str(layout.root)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GENRE_ENV_FILE": ""}
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_KERAS, "train", "--data", data, "--epochs", "1", "-q"],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: training needs the 'train' extra (keras is not installed): run pip install -e '.[train]' "
        "(make demo and make test install it)"]
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in layout.root.iterdir()) == ["audio", "manifests"]  # no cache, no run started
