# mypy: allow-subclassing-any
# (Keras ships no type information, so its Layer class is Any to mypy.)
"""The model registry: waveform crops in, genre probabilities out.

Every model starts with the :class:`~training.features.LogMel` front end (so a
saved model predicts from raw audio) and ends in a float32 softmax (single-label)
or sigmoid (multi-label).  ``width`` scales the number of filters, so the same
architecture fits a laptop CPU (small width) or a GPU (the published width).

* ``baseline3``: three Conv-ReLU-MaxPool blocks, the seeds' classic CNN.
* ``cnn_bn``: five Conv-MaxPool-BatchNorm-ReLU blocks, deeper (a receptive field of
  about 1.5 s at the default hop, enough to see a bar of drums) and easier to train.
* ``shortchunk``: the short-chunk ResNet of Won et al. (2020), seven residual
  blocks of two 3x3 convolutions with batch norm; width 128 is the paper's.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers, ops

from ..config import MODEL_NAMES, TrainConfig
from .features import PACKAGE, LogMel, Shape, Tensor

#: batch-norm moving averages follow the weights within an epoch or two (Keras' 0.99 lags on small data,
#: which makes validation scores jump from epoch to epoch)
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package=PACKAGE)
class TimePool(layers.Layer):
    """Mean and max over time, keeping frequency: ``[B, T, F, C]`` to ``[B, 2 * F * C]``.

    Genre lives in which bands are busy (timbre), so frequency position is kept
    while the time axis, whose length depends on the crop, is summarised.
    """

    def call(self, x: Tensor) -> Tensor:
        pooled = ops.concatenate([ops.mean(x, axis=1), ops.max(x, axis=1)], axis=-1)
        return ops.reshape(pooled, (-1, pooled.shape[1] * pooled.shape[2]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        freq, channels = input_shape[2], input_shape[3]
        return (input_shape[0], None if freq is None or channels is None else 2 * freq * channels)


def _conv_bn_relu(x: Tensor, filters: int, name: str) -> Tensor:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _baseline3(x: Tensor, config: TrainConfig) -> Tensor:
    width = config.width or 32
    for i, filters in enumerate((width, 2 * width, 4 * width), start=1):
        # pool before the ReLU: the same result (max commutes with ReLU) on a quarter of the values
        x = layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
    x = TimePool(name="time_pool")(x)
    x = layers.Dropout(config.dropout, name="dropout1")(x)
    x = layers.Dense(4 * width, activation="relu", name="dense")(x)
    return layers.Dropout(config.dropout, name="dropout2")(x)


def _cnn_bn(x: Tensor, config: TrainConfig) -> Tensor:
    width = config.width or 32
    for i, mult in enumerate((1, 2, 4, 4, 8), start=1):
        # conv, pool, then batch norm and ReLU on the pooled map: a third faster on CPU, as accurate
        x = layers.Conv2D(mult * width, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
    x = TimePool(name="time_pool")(x)
    x = layers.Dropout(config.dropout, name="dropout1")(x)
    x = layers.Dense(4 * width, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dense_bn")(x)
    x = layers.ReLU(name="dense_relu")(x)
    return layers.Dropout(config.dropout, name="dropout2")(x)


def _res_block(x: Tensor, filters: int, name: str) -> Tensor:
    shortcut = x
    y = _conv_bn_relu(x, filters, f"{name}_a")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_b_bn")(y)
    if shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
    y = layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))
    return layers.MaxPooling2D(2, padding="same", name=f"{name}_pool")(y)


def _shortchunk(x: Tensor, config: TrainConfig) -> Tensor:
    width = config.width or 128
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="input_bn")(x)
    for i, filters in enumerate([width] * 6 + [2 * width], start=1):
        x = _res_block(x, filters, f"res{i}")
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    x = layers.Dense(2 * width, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dense_bn")(x)
    x = layers.ReLU(name="dense_relu")(x)
    return layers.Dropout(max(config.dropout, 0.5), name="dropout")(x)


#: name -> function building the body between the front end and the output layer
MODELS: dict[str, Callable[[Tensor, TrainConfig], Tensor]] = {"baseline3": _baseline3, "cnn_bn": _cnn_bn, "shortchunk": _shortchunk}
assert tuple(MODELS) == MODEL_NAMES, "keep config.MODEL_NAMES in step with the registry"


def build_model(config: TrainConfig, n_labels: int, *, augment: bool | None = None) -> keras.Model:
    """Build (uncompiled) ``config.model`` for ``n_labels`` outputs.

    ``augment`` (default: ``config.augment.enabled``) puts the training-only pitch
    shift into the front end; it is inert at inference either way.
    """
    if config.model not in MODELS:
        raise KeyError(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")
    feats = config.features
    aug = config.augment
    use_aug = aug.enabled if augment is None else augment
    inputs = keras.Input(shape=(feats.crop_samples,), name="waveform", dtype="float32")
    frontend = LogMel.from_feature_config(
        feats, pitch_semitones=aug.pitch_semitones if use_aug else 0, pitch_prob=aug.pitch_prob,
        seed=config.seed, name="logmel")
    x = frontend(inputs)
    x = layers.Reshape((feats.n_frames, feats.n_mels, 1), name="add_channel")(x)
    x = MODELS[config.model](x, config)
    x = layers.Dense(n_labels, name="logits")(x)
    activation = "softmax" if config.task == "single" else "sigmoid"
    outputs = layers.Activation(activation, dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=config.model)
