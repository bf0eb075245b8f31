"""Weight files of the pretrained models: ``.npz`` archives of named arrays, loaded by layer name.

Why not Keras' own ``.weights.h5``: that format follows the order in which layers
were created and changes with Keras versions, while a name-keyed archive stays
readable (``numpy.load``), is checked array by array against the model it is loaded
into, and can be written by a converter that never builds a Keras model.  Keys are
``"<layer>/<variable>"`` (``"timbral_74_conv/kernel"``); ``__labels__`` holds the tag
names in output order and ``__meta__`` a JSON note (source, licence, converter).
Layers whose weights are constants computed from their settings (the log-mel front
end's filterbank and window) are not stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from manifests.errors import UserError

from .registry import REGENERATE, PretrainedSpec

log = logging.getLogger(__name__)

LABELS_KEY = "__labels__"
META_KEY = "__meta__"
#: Layers rebuilt from their settings, never stored.
COMPUTED_LAYERS = frozenset({"logmel"})


def weight_key(layer_name: str, variable_name: str) -> str:
    return f"{layer_name}/{variable_name}"


def model_weight_keys(model: Any) -> dict[str, Any]:
    """Every stored variable of ``model`` by its key (Keras variables; the constants excluded)."""
    keys: dict[str, Any] = {}
    for layer in model.layers:
        if layer.name in COMPUTED_LAYERS:
            continue
        for variable in layer.weights:
            keys[weight_key(layer.name, variable.name)] = variable
    return keys


def save_weights(path: Path, arrays: dict[str, np.ndarray], labels: tuple[str, ...] | list[str],
                 meta: dict[str, Any]) -> None:
    """Write a weight archive (float32 arrays, the labels, the note); used by the converter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, np.ndarray] = {key: np.asarray(value, dtype=np.float32) for key, value in arrays.items()}
    payload[LABELS_KEY] = np.asarray(list(labels), dtype=np.str_)
    payload[META_KEY] = np.asarray(json.dumps(meta, sort_keys=True), dtype=np.str_)
    save: Callable[..., None] = np.savez_compressed  # its stubs read a key 'allow_pickle' into **payload
    save(path, **payload)


def read_meta(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as archive:
        meta: dict[str, Any] = json.loads(str(archive[META_KEY])) if META_KEY in archive.files else {}
    return meta


def load_weights(model: Any, spec: PretrainedSpec) -> None:
    """Fill ``model`` from the spec's weight file, every variable checked; one-line UserError otherwise."""
    path = spec.check_weights()
    stale = f"regenerate it with {REGENERATE}"
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"{spec.name}: weight file {path} is unreadable ({exc}); {stale}") from None
    with archive:
        stored = {key for key in archive.files if key not in (LABELS_KEY, META_KEY)}
        if LABELS_KEY in archive.files and tuple(str(t) for t in archive[LABELS_KEY]) != spec.labels:
            raise UserError(f"{spec.name}: weight file {path} has other tags than the registry; {stale}")
        variables = model_weight_keys(model)
        missing = sorted(set(variables) - stored)
        extra = sorted(stored - set(variables))
        if missing or extra:
            detail = f"missing {', '.join(missing[:3])}" if missing else f"unknown {', '.join(extra[:3])}"
            raise UserError(f"{spec.name}: weight file {path} does not fit the model ({detail}); {stale}")
        for key, variable in variables.items():
            value = archive[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise UserError(f"{spec.name}: weight file {path}: {key} has shape {value.shape}, the model "
                                f"wants {tuple(variable.shape)}; {stale}")
            variable.assign(value)
    log.debug("%s: %d arrays loaded from %s", spec.name, len(variables), path)
