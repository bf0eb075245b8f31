"""Collecting, labeling and auditing run without any deep-learning framework.

The base install (no ``[train]`` extra) has no TensorFlow, so these commands must
never import it, not even indirectly. Each command runs for real in a fresh
interpreter, and the modules it loaded are listed at exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("tensorflow", "keras", "jax", "torch")

_PROBE = "FRAMEWORKS = " + repr(FRAMEWORKS) + """
import atexit, runpy, sys
def report():
    loaded = sorted({m.split('.')[0] for m in sys.modules} & set(FRAMEWORKS))
    sys.stderr.write('FRAMEWORKS=' + ','.join(loaded) + chr(10))
atexit.register(report)
sys.argv = ['python -m ' + sys.argv[1]] + sys.argv[2:]
runpy.run_module(sys.argv[0].split()[-1], run_name='__main__', alter_sys=True)
"""


def _loaded_frameworks(args: list[str], cwd: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GENRE_ENV_FILE": ""}
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("FRAMEWORKS=")), None)
    assert line is not None, proc.stderr[-2000:]
    return [m for m in line.removeprefix("FRAMEWORKS=").split(",") if m], proc


@pytest.fixture(scope="module")
def small_collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collection")
    _, proc = _loaded_frameworks(["collectors", "corpus", "--data", "d", "--tracks-per-genre", "2",
                                  "--artists-per-genre", "1", "--seconds", "4", "--genres", "rock,jazz",
                                  "--workers", "1", "-q"], root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root


@pytest.mark.parametrize("command", [
    ["collectors", "corpus", "--data", "d", "--tracks-per-genre", "2", "--artists-per-genre", "1",
     "--seconds", "4", "--genres", "rock,jazz", "--workers", "1", "-q"],
    ["labeling", "resolve", "--data", "d"],
    ["labeling", "split", "--data", "d"],
    ["labeling", "build", "--data", "d"],
    ["labeling", "audit", "--data", "d"],
    ["manifests", "validate", "--data", "d"],
    ["collectors", "collect", "--help"],
    ["collectors", "labels", "--help"],
    ["collectors", "download", "--help"],
    ["collectors", "doctor", "--data", "d"],
], ids=lambda c: " ".join(c[:2]))
def test_command_imports_no_deep_learning_framework(small_collection: Path, command: list[str]) -> None:
    loaded, proc = _loaded_frameworks(command, small_collection)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # doctor exits 1 when e.g. no cookies are set
    assert loaded == [], f"{' '.join(command)} imported {loaded}"


def test_the_probe_does_see_a_framework_when_one_is_imported(tmp_path: Path) -> None:
    """The check above can fail: a command that imports Keras (as training does) is caught."""
    (tmp_path / "uses_keras.py").write_text("import keras\n", encoding="utf-8")
    loaded, proc = _loaded_frameworks(["uses_keras"], tmp_path)
    assert "keras" in loaded, proc.stderr[-2000:]
