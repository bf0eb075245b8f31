"""The embedding cache: one pooled pretrained-model vector per audio file, computed once.

A linear probe is only as cheap as its features: running musicnn over a collection
takes minutes to hours on a CPU, fitting a logistic regression on the result takes
seconds.  So every track's embedding is written to disk the moment it is computed,
keyed by what makes it what it is:

* the audio, by the file's SHA-256 (the manifest's ``sha256`` column): a re-encoded or
  replaced file gets a new vector, a track renamed or moved to another split keeps its own;
* the model, the layer and the pooling over patches, plus the patching (overlap and the
  bound on patches per track), all in the folder name.

Layout::

    <data>/cache/embeddings/<model>-<layer>-<pooling>-o<overlap %>-<all|nN>/
        settings.json          what the vectors are (model, layer, pooling, patching, size)
        <sha256>.npy           float32 [size], written atomically

A killed ``embed`` loses at most the batch in progress; the rerun finds every finished
file and computes only the rest, and a second run computes nothing.  A file that does
not load, or has another size, counts as missing and is computed again.

This module only stores and pools (NumPy): the model that makes the vectors lives in
:mod:`training.runs.embed`.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifests.io import atomic_write_bytes, atomic_write_text, remove_stale_temp_files

from ..config import POOLINGS, ProbeConfig

log = logging.getLogger(__name__)

#: The cache's own folder under ``<data>/cache``.
EMBEDDINGS_DIR = "embeddings"
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class EmbeddingSettings:
    """Everything that decides a track's vector besides its audio; the cache folder is named after it."""

    model: str = "musicnn-MSD"
    layer: str = "penultimate"
    pooling: str = "mean"
    #: share of a patch that the next one overlaps (0.5: half-overlapping patches)
    overlap: float = 0.5
    #: at most this many evenly spaced patches per track (None: all of them)
    max_patches: int | None = None

    @classmethod
    def of(cls, probe: ProbeConfig) -> EmbeddingSettings:
        return cls(model=probe.pretrained, layer=probe.layer, pooling=probe.pooling, overlap=probe.overlap,
                   max_patches=probe.max_patches)

    @property
    def key(self) -> str:
        """The folder name: readable, and different whenever a setting differs."""
        patches = "all" if self.max_patches is None else f"n{self.max_patches}"
        return f"{self.model}-{self.layer}-{self.pooling}-o{round(self.overlap * 100)}-{patches}"

    def size(self, layer_size: int) -> int:
        """The pooled vector's length for a layer of ``layer_size`` values."""
        return 2 * layer_size if self.pooling == "meanstd" else layer_size

    def describe(self) -> str:
        overlap = "back-to-back" if self.overlap == 0 else f"{self.overlap:.0%}-overlapping"
        bound = "every patch of a track" if self.max_patches is None else \
            f"at most {self.max_patches} evenly spaced per track"
        pooled = {"mean": "mean", "max": "maximum", "meanstd": "mean and standard deviation"}[self.pooling]
        return f"{self.model} `{self.layer}`, {pooled} over {overlap} 3-s patches, {bound}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def pool(patches: np.ndarray, pooling: str) -> np.ndarray:
    """One vector from a track's patch embeddings ``[n, d]`` (float32)."""
    patches = np.asarray(patches, dtype=np.float64)
    if patches.ndim != 2 or patches.shape[0] == 0:
        raise ValueError(f"expected patch embeddings [n >= 1, d], got {patches.shape}")
    if pooling == "mean":
        out = patches.mean(axis=0)
    elif pooling == "max":
        out = patches.max(axis=0)
    elif pooling == "meanstd":
        out = np.concatenate([patches.mean(axis=0), patches.std(axis=0)])
    else:
        raise ValueError(f"pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    return np.asarray(out, dtype=np.float32)


class EmbeddingCache:
    """Pooled vectors on disk, one ``<sha256>.npy`` per audio file, in a folder per :class:`EmbeddingSettings`.

    ``root`` is the data folder's cache (``layout.cache``); ``size`` the length of a vector.
    """

    def __init__(self, root: Path, settings: EmbeddingSettings, size: int) -> None:
        self.settings = settings
        self.size = size
        self.folder = root / EMBEDDINGS_DIR / settings.key

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.folder / f"{sha256}.npy"

    def get(self, sha256: str) -> np.ndarray | None:
        """The cached vector, or None when there is none (or it is unreadable or of another size)."""
        try:
            vector: np.ndarray = np.load(self.path(sha256), allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError, EOFError):
            return None
        if vector.shape != (self.size,) or vector.dtype != np.float32 or not np.isfinite(vector).all():
            log.debug("%s: cached embedding of shape %s ignored", self.path(sha256), vector.shape)
            return None
        return vector

    def __contains__(self, sha256: str) -> bool:
        return self.get(sha256) is not None

    def put(self, sha256: str, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.size,):
            raise ValueError(f"embedding of shape {vector.shape}, expected ({self.size},)")
        buffer = io.BytesIO()
        np.save(buffer, vector, allow_pickle=False)
        atomic_write_bytes(self.path(sha256), buffer.getvalue())

    def prepare(self) -> None:
        """Create the folder with its settings.json, and drop what a killed writer left behind."""
        self.folder.mkdir(parents=True, exist_ok=True)
        settings = self.folder / "settings.json"
        text = json.dumps({**self.settings.as_json(), "size": self.size}, indent=2, sort_keys=True) + "\n"
        if not settings.is_file() or settings.read_text(encoding="utf-8") != text:
            atomic_write_text(settings, text)
        for partial in self.folder.glob(".*.npy.tmp-*"):
            remove_stale_temp_files(self.folder / partial.name[1:].split(".tmp-")[0])

    def files(self) -> int:
        """Vectors stored (files, not checked)."""
        return sum(1 for _ in self.folder.glob("*.npy")) if self.folder.is_dir() else 0
