"""Where the model runs and how quietly: step compilation per backend, TensorFlow's start-up noise filtered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training.runtime import NOISE

REPO = Path(__file__).resolve().parents[2]

#: What TensorFlow 2.21 printed on this project's CPU machine before each command's own output.
TF_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796113224.947747   14587 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "I0000 00:00:1796113224.948054   14587 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "I0000 00:00:1796113224.995768   14587 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "E0000 00:00:1796113228.269296   14587 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1724.123   81 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register "
    "factory for plugin cuDNN when one has already been registered",
]
#: Lines that must always reach the user, even while the filter is on.
REAL = [
    "E0000 00:00:1796113228.3   14587 op_kernel.cc:1857] OP_REQUIRES failed: out of memory",
    "error: data/manifests/training.csv not found: run make manifest first",
    "Traceback (most recent call last):",
]


def test_the_noise_pattern_knows_tensorflows_start_up_lines_and_nothing_else() -> None:
    assert all(NOISE.match(line.encode()) for line in TF_NOISE)
    assert not any(NOISE.match(line.encode()) for line in REAL)


@pytest.mark.parametrize("verbosity", [0, 2])
def test_start_up_noise_written_to_fd_2_is_dropped_unless_vv(verbosity: int) -> None:
    """C++ writes to file descriptor 2 directly, so the filter works there; -vv turns it off."""
    code = (
        "import os, sys\n"
        "from training.runtime import quiet_tensorflow, startup_noise_filter\n"
        f"quiet_tensorflow({verbosity})\n"
        "with startup_noise_filter():\n"
        "    for line in sys.argv[1:]:\n"
        "        os.write(2, line.encode() + b'\\n')\n"
        "    print('from Python', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    lines = [TF_NOISE[0], REAL[0], TF_NOISE[2], TF_NOISE[5], REAL[1]]
    done = subprocess.run([sys.executable, "-c", code, *lines], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    shown = done.stderr.splitlines()
    if verbosity < 2:
        assert shown == [REAL[0], REAL[1], "from Python", "after"]
    else:
        assert shown == [*lines, "from Python", "after"]


@pytest.mark.parametrize(("backend", "device", "expected"), [
    ("tensorflow", None, False),          # XLA compile time outweighs its gain on CPU
    ("tensorflow", "GPU:0", True),
    ("jax", None, True),                  # uncompiled JAX is slow
    ("jax", "gpu:0", True),
    ("torch", None, False),               # torch.compile recompiles per batch shape
    ("torch", "cuda:0", False),
])
def test_jit_setting_per_backend(monkeypatch: pytest.MonkeyPatch, backend: str, device: str | None,
                                 expected: bool) -> None:
    """Step compilation is an explicit bool per backend: never the "auto" string Keras keeps as true."""
    keras = pytest.importorskip("keras")
    from training.runtime import jit_setting

    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    assert jit_setting(device) is expected
