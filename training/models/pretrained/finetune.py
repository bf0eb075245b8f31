"""A pretrained musicnn turned into a genre classifier and fine-tuned (``train --model musicnn``).

Transfer learning by the usual recipe: keep the pretrained network up to its
``penultimate`` layer (the one the linear probe reads), put a new output layer for our
genres on it, and train in two phases:

1. **frozen**: the front end and mid end (the convolutions, with their batch-norm
   statistics) stay exactly as pretrained; only the back end (pooling batch norm, the
   200-unit dense layer and its batch norm) and the new output layer learn, at the run's
   ``learning_rate``;
2. **unfrozen** (the last ``finetune.unfreeze_epochs`` epochs, optional): every layer
   learns, at the much lower ``finetune.fine_tune_lr``, with a fresh optimizer.

The model takes the pretrained model's own input (musicnn: 16 kHz waveform windows of one
3-s patch, 96-band ``log10(1 + 10000 mel)``), and the run's feature settings are set from
the registry (:func:`input_features`), never from the CNN's defaults: the audio cache is
decoded at the model's rate, and :func:`check_input` refuses a config whose features
differ, so a model of another rate never receives our audio silently.  The trainer's
augmentations apply as for the CNN: time stretch, noise and mixup on the waveform,
pitch shift in the log-mel layer (training only).

Only standard Keras layers and the registered ``LogMel`` are used, so the saved
``model.keras`` loads in ``evaluate`` and ``predict`` exactly like a CNN run's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from manifests.errors import UserError

from ...config import FINETUNE, FeatureConfig, TrainConfig
from .registry import PretrainedSpec, get_pretrained

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

#: The layer the new output layer sits on (after the pretrained penultimate's dropout).
BASE_OUTPUT = "penultimate_dropout"
#: Layers that learn in the frozen phase: the back end and the new head.  Every other
#: layer holding weights (input batch norm, front end, mid end) is frozen.
HEAD_LAYERS = frozenset({"backend_bn", "penultimate_dense", "penultimate", "genre_logits"})
#: The feature settings that must equal the model's input (what :func:`check_input` compares).
INPUT_FIELDS = ("sample_rate", "n_fft", "hop_length", "n_mels", "crop_samples")


def spec_of(config: TrainConfig) -> PretrainedSpec:
    """The registry entry a fine-tune run starts from; only musicnn architectures can be fine-tuned."""
    spec = get_pretrained(config.finetune.pretrained)
    if spec.architecture != "musicnn":
        raise UserError(f"{spec.name}: fine-tuning supports musicnn models, not {spec.architecture!r}")
    return spec


def input_features(spec: PretrainedSpec) -> FeatureConfig:
    """The feature settings that give the pretrained model its own input: its rate, STFT, bands and patch."""
    sg = spec.spectrogram
    return FeatureConfig(sample_rate=sg.sample_rate, n_fft=sg.n_fft, hop_length=sg.hop_length, n_mels=sg.n_mels,
                         standardize=False, crop_seconds=sg.patch_samples / sg.sample_rate)


def check_input(config: TrainConfig, spec: PretrainedSpec | None = None) -> None:
    """One-line UserError when ``config.features`` would feed the model other audio than it was trained on."""
    spec = spec or spec_of(config)
    wanted = input_features(spec)
    for name in INPUT_FIELDS:
        mine, theirs = getattr(config.features, name), getattr(wanted, name)
        if mine != theirs:
            raise UserError(f"{spec.name} takes {spec.spectrogram.describe()}: the run's {name} is {mine}, "
                            f"not {theirs}; leave the feature options out with --model {FINETUNE}")


def apply_input_spec(config: TrainConfig, given: dict[str, object]) -> None:
    """Set ``config.features`` from the pretrained model's input; options the user gave must agree with it.

    ``given`` maps the feature options on the command line (``--n-mels`` ...) to their values.
    """
    spec = spec_of(config)
    wanted = input_features(spec)
    for option, value in given.items():
        field = option.removeprefix("--").replace("-", "_")
        if getattr(wanted, field) != value:
            raise UserError(f"{option} {value}: {spec.name} takes {spec.spectrogram.describe()}; "
                            f"leave {option} out with --model {FINETUNE}")
    config.features = wanted


def build_finetune(config: TrainConfig, n_labels: int, *, pretrained: bool = True) -> keras.Model:
    """The pretrained network with a new ``n_labels`` output, uncompiled, every layer trainable.

    ``pretrained=False`` skips reading the weight file (the caller loads trained weights next).
    """
    import keras

    from .musicnn import build_musicnn
    from .weights import load_weights

    spec = spec_of(config)
    check_input(config, spec)
    if pretrained:
        spec.check_weights()  # a missing file is one line, before anything is built
    aug = config.augment
    base = build_musicnn(spec, pitch_semitones=aug.pitch_semitones if aug.enabled else 0,
                         pitch_prob=aug.pitch_prob, seed=config.seed)
    if pretrained:
        load_weights(base, spec)
    x = keras.layers.Dense(n_labels, name="genre_logits")(base.get_layer(BASE_OUTPUT).output)
    activation = "softmax" if config.task == "single" else "sigmoid"
    outputs = keras.layers.Activation(activation, dtype="float32", name="probabilities")(x)
    return keras.Model(base.input, outputs, name=f"{spec.name.replace('-', '_')}_finetuned")


def frozen_epochs(config: TrainConfig) -> int:
    """Epochs of the frozen phase (the first ones of the run)."""
    return config.epochs - config.finetune.unfreeze_epochs


def is_unfrozen(config: TrainConfig, epoch: int) -> bool:
    """Whether epoch ``epoch`` (0-based) trains every layer."""
    return config.finetune.unfreeze_epochs > 0 and epoch >= frozen_epochs(config)


def unfreezes_at(config: TrainConfig, epoch: int) -> bool:
    """Whether the unfrozen phase begins with epoch ``epoch`` (0-based): recompile before it."""
    return config.model == FINETUNE and config.finetune.unfreeze_epochs > 0 and epoch == frozen_epochs(config)


def stop_allowed(config: TrainConfig, epoch: int) -> bool:
    """Early stopping after epoch ``epoch``: not in a frozen phase that an unfrozen one follows."""
    return config.model != FINETUNE or config.finetune.unfreeze_epochs == 0 or is_unfrozen(config, epoch)


def set_phase(model: keras.Model, config: TrainConfig, epoch: int) -> float:
    """Freeze or unfreeze the pretrained layers for epoch ``epoch`` (0-based); returns that phase's learning rate.

    A frozen batch-norm layer also runs in inference mode (Keras), so its statistics stay
    the pretrained ones.  Call before compiling: the optimizer tracks the trainable variables.
    """
    unfrozen = is_unfrozen(config, epoch)
    for layer in model.layers:
        if layer.weights and layer.name not in HEAD_LAYERS and layer.name != "logmel":  # logmel: constants
            layer.trainable = unfrozen
    return config.finetune.fine_tune_lr if unfrozen else config.learning_rate


def frozen_layers(model: keras.Model) -> list[str]:
    """Names of the layers with weights that are frozen (for logs and tests)."""
    return [layer.name for layer in model.layers if layer.weights and not layer.trainable]
