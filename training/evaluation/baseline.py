"""The classic baseline: MFCC statistics + logistic regression.

It answers the question a reader of any CNN result asks first: how much does the
network add over a twenty-year-old recipe?  Each track becomes one vector (mean and
standard deviation of 20 MFCCs and of their deltas over the whole song, 80 numbers);
a standardised logistic regression (one-vs-rest for multi-label) is fitted on the
train split and scored on the same test split with the same metrics as the CNN.

Features are cached per audio SHA-256 and feature settings in ``cache/mfcc-<key>/``,
so a rerun (another run folder, the ``report`` step, a second evaluation) only fits
the regression, which takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MfccConfig:
    """Feature settings; any change gets a new cache folder (see ``key``)."""

    sample_rate: int = 16000
    n_mfcc: int = 20
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    version: int = 1

    @property
    def dim(self) -> int:
        return 4 * self.n_mfcc

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def describe(self) -> str:
        return (f"mean and std of {self.n_mfcc} MFCCs and their deltas over the whole song "
                f"({self.dim} features; {self.n_mels} mels, FFT {self.n_fft}, hop {self.hop_length}, "
                f"{self.sample_rate} Hz)")


def mfcc_features(wave: np.ndarray, config: MfccConfig = MfccConfig()) -> np.ndarray:
    """One vector per song: mean and standard deviation of the MFCCs and their first deltas."""
    import librosa

    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < config.n_fft:
        wave = np.pad(wave, (0, config.n_fft - wave.size))
    mfcc = librosa.feature.mfcc(y=wave, sr=config.sample_rate, n_mfcc=config.n_mfcc, n_fft=config.n_fft,
                                hop_length=config.hop_length, n_mels=config.n_mels)
    width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
    delta = librosa.feature.delta(mfcc, width=width) if width >= 3 else np.zeros_like(mfcc)
    parts = [mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1), delta.std(axis=1)]
    return np.concatenate(parts).astype(np.float32)


class FeatureCache:
    """MFCC vectors on disk, one ``<sha256>.npy`` per audio file, under a folder per feature setting."""

    def __init__(self, root: Path | None, config: MfccConfig) -> None:
        self.config = config
        self.folder = (root / f"mfcc-{config.key()}") if root is not None else None
        self.hits = 0
        self.misses = 0

    def get(self, sha256: str | None) -> np.ndarray | None:
        if self.folder is None or not sha256:
            return None
        path = self.folder / f"{sha256}.npy"
        try:
            vector: np.ndarray = np.load(path)
        except (FileNotFoundError, ValueError, OSError):
            return None
        if vector.shape != (self.config.dim,):
            return None
        self.hits += 1
        return vector

    def put(self, sha256: str | None, vector: np.ndarray) -> None:
        if self.folder is None or not sha256:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{sha256}.npy"
        tmp = self.folder / f".{sha256}.tmp.npy"
        np.save(tmp, vector)
        tmp.replace(path)


def features_for(items: Sequence[tuple[str | None, Callable[[], np.ndarray]]], cache: FeatureCache,
                 desc: str = "MFCC features") -> np.ndarray:
    """Feature matrix for ``(sha256, load_wave)`` items, computing only what the cache lacks."""
    from tqdm import tqdm

    out = np.zeros((len(items), cache.config.dim), dtype=np.float32)
    for i, (sha, load) in enumerate(tqdm(items, desc=desc, unit="track", leave=False, disable=None)):
        vector = cache.get(sha)
        if vector is None:
            cache.misses += 1
            vector = mfcc_features(load(), cache.config)
            cache.put(sha, vector)
        out[i] = vector
    return out


class BaselineModel:
    """Standardised logistic regression over MFCC statistics; probabilities for every label."""

    def __init__(self, task: str, n_labels: int, seed: int = 0, c: float = 1.0) -> None:
        if task not in ("single", "multi"):
            raise ValueError(f"unknown task {task!r}")
        self.task, self.n_labels, self.seed, self.c = task, n_labels, seed, c
        self.pipeline: Any = None
        self.classes_: np.ndarray | None = None
        self.constant_: dict[int, float] = {}

    def fit(self, features: np.ndarray, truth: np.ndarray) -> BaselineModel:
        """``truth``: label indices (single) or a 0/1 matrix [n, L] (multi)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        def regression() -> Any:
            return LogisticRegression(C=self.c, max_iter=3000, class_weight="balanced",
                                      random_state=self.seed)

        if self.task == "single":
            truth = np.asarray(truth, dtype=int)
            self.classes_ = np.unique(truth)
            if self.classes_.size < 2:
                raise ValueError("the baseline needs at least two genres in the train split")
            self.pipeline = make_pipeline(StandardScaler(), regression()).fit(features, truth)
            return self
        truth = np.asarray(truth, dtype=int)
        self.pipeline = []
        for j in range(self.n_labels):
            column = truth[:, j]
            if column.min() == column.max():  # a genre always or never present in train: predict its rate
                self.constant_[j] = float(column[0])
                self.pipeline.append(None)
                continue
            self.pipeline.append(make_pipeline(StandardScaler(), regression()).fit(features, column))
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """[n, L] probabilities; genres the train split lacked get probability 0 (single-label)."""
        if self.pipeline is None:
            raise RuntimeError("fit the baseline first")
        out = np.zeros((features.shape[0], self.n_labels), dtype=np.float64)
        if self.task == "single":
            out[:, self.classes_] = self.pipeline.predict_proba(features)
            return out
        for j, model in enumerate(self.pipeline):
            out[:, j] = self.constant_[j] if model is None else model.predict_proba(features)[:, 1]
        return out
