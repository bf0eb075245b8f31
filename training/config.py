"""Every setting of a training run, with its default, in one place.

A run folder's ``config.json`` is :meth:`TrainConfig.to_dict` of the run, so a
model can always be rebuilt, resumed or compared with another.  The defaults
follow the short-chunk literature (Won et al. 2020): 16 kHz mono, a 512-point
STFT with a 256-sample hop (32 ms window, 16 ms hop), 128 slaney mel bands from
0 Hz to 8 kHz, crops of about four seconds.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

TASKS = ("single", "multi")
BALANCE = ("weights", "sampling", "none")
LR_SCHEDULES = ("plateau", "cosine", "constant")
MIXED_PRECISION = ("auto", "on", "off")
#: how ``--distribute`` scales the learning rate with the number of replicas
LR_SCALINGS = ("linear", "none")
MONITORS = ("val_loss", "val_accuracy", "val_song_accuracy")
#: the model registry's names (training/models.py builds them; kept here so --help needs no Keras)
MODEL_NAMES = ("baseline3", "cnn_bn", "shortchunk")
#: not a CNN: a linear classifier on a pretrained model's embeddings (training/runs/probe.py)
PROBE = "probe"
#: not built from scratch: a pretrained musicnn fine-tuned (training/models/pretrained/finetune.py)
FINETUNE = "musicnn"
#: every value of ``--model``
ALL_MODELS = (*MODEL_NAMES, PROBE, FINETUNE)
#: how a track's patch embeddings become one vector: their mean, maximum, or mean and standard deviation side by side
POOLINGS = ("mean", "max", "meanstd")


class ConfigError(ValueError):
    """A setting outside what the trainer supports; the message names it and the legal range."""


@dataclass
class FeatureConfig:
    """The log-mel front end and crop length: shared by training and predict (stored in the bundle)."""

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 128
    fmin: float = 0.0
    #: None means sample_rate / 2
    fmax: float | None = None
    #: power floor before the log: 10*log10(max(power, amin)), as librosa.power_to_db
    amin: float = 1e-10
    #: standardise each example (zero mean, unit variance over time and frequency)
    standardize: bool = True
    #: model input: crops of this many seconds of raw waveform
    crop_seconds: float = 4.0

    @property
    def crop_samples(self) -> int:
        return int(round(self.crop_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """STFT frames per crop (centered, zero-padded frames, as librosa)."""
        return 1 + self.crop_samples // self.hop_length

    def validate(self) -> None:
        if self.sample_rate < 1000:
            raise ConfigError(f"sample_rate {self.sample_rate}: must be at least 1000 Hz")
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"n_fft {self.n_fft}: must be a power of two, at least 16")
        if not 0 < self.hop_length <= self.n_fft:
            raise ConfigError(f"hop_length {self.hop_length}: must be between 1 and n_fft ({self.n_fft})")
        if not 8 <= self.n_mels <= 512:
            raise ConfigError(f"n_mels {self.n_mels}: must be between 8 and 512")
        top = self.fmax if self.fmax is not None else self.sample_rate / 2
        if not 0 <= self.fmin < top <= self.sample_rate / 2:
            raise ConfigError(f"fmin {self.fmin} / fmax {self.fmax}: need 0 <= fmin < fmax <= sample_rate/2")
        if not 0.5 <= self.crop_seconds <= 30:
            raise ConfigError(f"crop_seconds {self.crop_seconds}: must be between 0.5 and 30 "
                              "(3.7 to 4.2 s is what the literature uses)")


@dataclass
class AugmentConfig:
    """Training-only augmentations, each switchable; none of them touches validation or predict."""

    enabled: bool = True
    #: pitch shift by a whole number of semitones in [-n, n], tempo kept (in the model's front end)
    pitch_semitones: int = 2
    pitch_prob: float = 0.5
    #: time stretch by a factor in [1 - s, 1 + s] (speed change of the waveform crop, numpy)
    time_stretch: float = 0.04
    stretch_prob: float = 0.5
    #: Gaussian noise added to the waveform (before the log), at an SNR drawn in this range (dB)
    noise_snr_db: tuple[float, float] = (20.0, 40.0)
    noise_prob: float = 0.3
    #: mixup of waveforms and targets inside a batch; 0 turns it off
    mixup_alpha: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.pitch_semitones <= 12:
            raise ConfigError(f"pitch_semitones {self.pitch_semitones}: must be between 0 and 12")
        if not 0 <= self.time_stretch <= 0.2:
            raise ConfigError(f"time_stretch {self.time_stretch}: must be between 0 and 0.2 (a few percent)")
        low, high = self.noise_snr_db
        if not low <= high:
            raise ConfigError(f"noise_snr_db {self.noise_snr_db}: lower bound above upper bound")
        for name in ("pitch_prob", "stretch_prob", "noise_prob"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} {value}: must be a probability in [0, 1]")
        if self.mixup_alpha < 0:
            raise ConfigError(f"mixup_alpha {self.mixup_alpha}: must be >= 0 (0 turns mixup off)")


@dataclass
class ProbeConfig:
    """The linear probe (``--model probe``): which pretrained embedding it reads and how it is fitted.

    The defaults are the literature's recipe for musicnn (Pons & Serra 2019; the MARBLE and
    HEAR probes): the MSD model's ``penultimate`` layer averaged over half-overlapping 3-s
    patches, standardised, then an L2 logistic regression whose C is chosen by cross-validation
    on the train split alone (the test split never chooses anything).
    """

    pretrained: str = "musicnn-MSD"
    layer: str = "penultimate"
    pooling: str = "mean"
    #: share of a patch the next one overlaps (0: the original's back-to-back patches, 0.5: half)
    overlap: float = 0.5
    #: at most this many evenly spaced patches per track (None: every patch); bounds the cost of long tracks
    max_patches: int | None = None
    #: inner cross-validation folds on the train split (fewer when a genre has fewer train tracks)
    cv_folds: int = 5
    #: the inverse regularisation strengths tried
    c_grid: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)

    def validate(self) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling {self.pooling!r}: choose one of {', '.join(POOLINGS)}")
        if not 0 <= self.overlap <= 0.9:
            raise ConfigError(f"overlap {self.overlap}: must be between 0 and 0.9 (a share of a patch)")
        if self.max_patches is not None and self.max_patches < 1:
            raise ConfigError(f"max_patches {self.max_patches}: must be at least 1 (or unset for every patch)")
        if self.cv_folds < 2:
            raise ConfigError(f"cv_folds {self.cv_folds}: must be at least 2")
        if not self.c_grid or any(not c > 0 for c in self.c_grid):
            raise ConfigError(f"c_grid {list(self.c_grid)}: needs at least one value, all > 0")


@dataclass
class FineTuneConfig:
    """Fine-tuning a pretrained musicnn (``--model musicnn``): which one, and its two phases.

    The run's ``epochs`` count both phases: the first ``epochs - unfreeze_epochs`` train the
    back end and a new output layer with the front and mid end frozen (at ``learning_rate``),
    the last ``unfreeze_epochs`` train every layer at the lower ``fine_tune_lr`` (0: never unfrozen).
    """

    pretrained: str = "musicnn-MSD"
    unfreeze_epochs: int = 0
    fine_tune_lr: float = 1e-5

    def validate(self, epochs: int) -> None:
        if not 0 <= self.unfreeze_epochs < epochs:
            raise ConfigError(f"unfreeze_epochs {self.unfreeze_epochs}: must be between 0 and epochs - 1 "
                              f"({epochs - 1}): at least one epoch trains the head with the front end frozen")
        if not self.fine_tune_lr > 0:
            raise ConfigError(f"fine_tune_lr {self.fine_tune_lr}: must be > 0")


@dataclass
class TrainConfig:
    """A whole training run. ``python -m training train --help`` maps its options onto these fields."""

    model: str = "cnn_bn"
    task: str = "single"
    #: model size: base number of filters (None: the model's own default)
    width: int | None = None
    dropout: float = 0.3
    epochs: int = 30
    batch_size: int = 32
    #: random training crops drawn per training track and epoch
    crops_per_track: int = 4
    #: evenly spaced validation crops per validation track (fixed across epochs)
    val_crops_per_track: int = 4
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    lr_schedule: str = "plateau"
    lr_patience: int = 3
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    monitor: str = "val_loss"
    early_stopping_patience: int = 8
    #: how to counter class imbalance: loss weights, balanced sampling, or nothing
    balance: str = "weights"
    #: multi-label: a genre is a positive target when its manifest weight is at least this
    label_threshold: float = 0.5
    #: multi-label: a predicted probability at or above this counts as the genre being present
    threshold: float = 0.5
    #: genres with fewer tracks than this (all splits together) are an error (or dropped with drop_rare)
    min_tracks: int = 5
    drop_rare: bool = False
    seed: int = 1234
    mixed_precision: str = "auto"
    #: background threads preparing batches (1 = none: batches are made on the training thread)
    workers: int = 1
    #: data-parallel training on every device (training/runs/distribute.py): ``batch_size`` is then per
    #: replica, the global batch ``batch_size x replicas``
    distribute: bool = False
    #: with ``distribute``: the learning rate times the replicas (``linear``, Goyal et al. 2017) or as given
    lr_scaling: str = "linear"
    #: with ``distribute`` and a scaled rate: epochs over which it rises linearly, step by step, to its peak
    warmup_epochs: int = 2
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    #: only a probe run uses (and saves) these
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    #: only a fine-tuned musicnn run uses (and saves) these
    finetune: FineTuneConfig = field(default_factory=FineTuneConfig)

    def validate(self) -> None:
        """Raise ``ConfigError`` for the first setting the trainer cannot honour."""
        if self.model not in ALL_MODELS:
            raise ConfigError(f"model {self.model!r}: unknown; choose one of {', '.join(ALL_MODELS)}")
        checks = (("task", TASKS), ("balance", BALANCE), ("lr_schedule", LR_SCHEDULES),
                  ("mixed_precision", MIXED_PRECISION), ("monitor", MONITORS), ("lr_scaling", LR_SCALINGS))
        for name, allowed in checks:
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} {getattr(self, name)!r}: choose one of {', '.join(allowed)}")
        positive = ("epochs", "batch_size", "crops_per_track", "val_crops_per_track", "workers",
                    "min_tracks")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} {getattr(self, name)}: must be at least 1")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs {self.warmup_epochs}: must be at least 0")
        if self.width is not None and self.width < 1:
            raise ConfigError(f"width {self.width}: must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout {self.dropout}: must be in [0, 1)")
        if not self.learning_rate > 0 or self.weight_decay < 0:
            raise ConfigError("learning_rate must be > 0 and weight_decay >= 0")
        for name in ("label_threshold", "threshold"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} {getattr(self, name)}: must be in (0, 1]")
        self.features.validate()
        self.augment.validate()
        if self.model == PROBE:
            self.probe.validate()
        if self.model == FINETUNE:
            self.finetune.validate(self.epochs)

    # ------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["augment"]["noise_snr_db"] = list(self.augment.noise_snr_db)
        out["features"]["crop_samples"] = self.features.crop_samples  # derived, for readers
        if self.model == PROBE:
            out["probe"]["c_grid"] = list(self.probe.c_grid)
        else:  # a CNN's config.json stays as it always was
            del out["probe"]
        if self.model != FINETUNE:
            del out["finetune"]
        if not self.distribute:  # a single-device run's config.json stays as it always was
            for key in ("distribute", "lr_scaling", "warmup_epochs"):
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from ``to_dict`` output; unknown keys (from a newer toolkit) are an error."""
        data = dict(data)
        feats = dict(data.pop("features", {}) or {})
        feats.pop("crop_samples", None)
        aug = dict(data.pop("augment", {}) or {})
        if "noise_snr_db" in aug:
            aug["noise_snr_db"] = tuple(float(v) for v in aug["noise_snr_db"])
        probe = dict(data.pop("probe", {}) or {})
        finetune = dict(data.pop("finetune", {}) or {})
        if "c_grid" in probe:
            probe["c_grid"] = tuple(float(v) for v in probe["c_grid"])
        try:
            return cls(features=_build(FeatureConfig, feats), augment=_build(AugmentConfig, aug),
                       probe=_build(ProbeConfig, probe), finetune=_build(FineTuneConfig, finetune),
                       **_known(cls, data))
        except TypeError as exc:
            raise ConfigError(f"config does not fit this toolkit: {exc}") from None

    def save(self, path: Path | str) -> None:
        from manifests.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path | str) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: unreadable config: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: config must be a JSON object")
        return cls.from_dict(data)

    def differences(self, other: TrainConfig) -> list[str]:
        """Settings that differ (``name: mine -> theirs``), ignoring ones that do not change the model."""
        ignore = {"epochs", "workers", "mixed_precision"}
        mine, theirs = _flatten(self.to_dict()), _flatten(other.to_dict())
        return [f"{k}: {mine.get(k)!r} -> {theirs.get(k)!r}" for k in sorted(set(mine) | set(theirs))
                if k not in ignore and mine.get(k) != theirs.get(k)]


#: Named starting points (``--preset``); options given next to a preset override it.
PRESETS: dict[str, dict[str, Any]] = {
    # Trains the demo corpus (9 genres x 40 tracks) to >= 0.85 song accuracy in about
    # 3 minutes on 2 CPU cores: a narrow cnn_bn on 64 mel bands with a 32 ms hop.
    "cpu": {"model": "cnn_bn", "width": 16, "epochs": 20,
            "features": {"n_mels": 64, "n_fft": 1024, "hop_length": 512},
            "augment": {"mixup_alpha": 0.2}},
    # The short-chunk ResNet at the published size (Won et al. 2020): 128 mels, 512/256, 3.69 s crops.
    "gpu": {"model": "shortchunk", "width": 128, "epochs": 100, "early_stopping_patience": 12,
            "features": {"n_mels": 128, "n_fft": 512, "hop_length": 256, "crop_seconds": 3.69},
            "augment": {"mixup_alpha": 0.2}},
}


def preset(name: str) -> TrainConfig:
    """The defaults with a named preset applied."""
    try:
        changes = PRESETS[name]
    except KeyError:
        raise ConfigError(f"preset {name!r}: unknown; choose one of {', '.join(PRESETS)}") from None
    data = TrainConfig().to_dict()
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    return TrainConfig.from_dict(data)


_Part = TypeVar("_Part", FeatureConfig, AugmentConfig, ProbeConfig, FineTuneConfig)


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}")
    return data


def _build(cls: type[_Part], data: dict[str, Any]) -> _Part:
    return cls(**_known(cls, data))


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
