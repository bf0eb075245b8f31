"""Step compilation is an explicit bool per backend: never the "auto" string Keras keeps as true."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")

from training.runtime import jit_setting  # noqa: E402


@pytest.mark.parametrize(("backend", "device", "expected"), [
    ("tensorflow", None, False),          # XLA compile time outweighs its gain on CPU
    ("tensorflow", "GPU:0", True),
    ("jax", None, True),                  # uncompiled JAX is slow
    ("jax", "gpu:0", True),
    ("torch", None, False),               # torch.compile recompiles per batch shape
    ("torch", "cuda:0", False),
])
def test_jit_setting_per_backend(monkeypatch, backend, device, expected) -> None:
    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    value = jit_setting(device)
    assert value is expected
