# mypy: allow-subclassing-any
# (Keras ships no type information, so its classes are Any to mypy.)
"""musicnn (Pons & Serra, 2019) rebuilt in Keras 3 from standard layers, to carry the original weights.

The original is TF1 graph code (``tf.compat.v1.layers``) that cannot run beside our
Keras 3 models; this is the same network layer for layer, so the converted checkpoints
(``tools/musicnn/convert.py``) give the same numbers (``tests/pretrained`` proves it
against outputs of the original code).  Only standard layers are used, so the model
runs on every Keras backend, and explicit zero padding replaces TF's ``"same"``
(whose split of an even kernel's padding other backends need not share).

Shapes, for a patch of T = 187 frames and 96 mel bands:

* input: a waveform window of ``(T - 1) * hop + n_fft`` samples, framed without
  centring by :class:`~training.models.features.LogMel` (``log10(1 + 10000 mel)``),
  then batch-normalised (one channel);
* front end: *timbral* convolutions spanning 7 frames and 40 % / 70 % of the bands
  (204 filters each), *temporal* convolutions spanning 128 / 64 / 32 frames in one band
  (51 filters each); each ReLU, batch norm, then max over frequency: ``[T, 561]``;
* mid end: three 7-frame 1-D convolutions of 64 filters (ReLU, batch norm), the last two
  residual; their outputs and the front end's are concatenated: ``[T, 753]``;
* back end: max and mean over time, interleaved (as the original's flatten of
  ``[753, 2]``), batch norm, dropout, dense 200 ReLU, batch norm (``penultimate``),
  dropout, dense to the tags and a sigmoid: the *taggram* row of the patch.

Layer names are stable: the weight files are keyed by them, and the layers the
original's ``extractor`` returns as features keep its names (``timbral``,
``temporal``, ``cnn1``-``cnn3``, ``mean_pool``, ``max_pool``, ``penultimate``), so an
embedding is asked for by layer name.
"""

from __future__ import annotations

import logging

import keras
from keras import layers

from ..features import LogMel, Tensor
from .registry import PretrainedSpec

log = logging.getLogger(__name__)

#: Keras' and TF1's batch-norm epsilon (the checkpoints were trained with it).
BN_EPSILON = 1e-3


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def _freq_max(x: Tensor, name: str) -> Tensor:
    """Max over the whole frequency axis: ``[B, T, F, C]`` to ``[B, T, C]``."""
    _, frames, freq, channels = x.shape
    x = layers.MaxPooling2D(pool_size=(1, freq), name=f"{name}_pool")(x)
    return layers.Reshape((frames, channels), name=f"{name}_squeeze")(x)


def _timbral(x: Tensor, filters: int, bands: int, name: str) -> Tensor:
    """7 frames x ``bands`` mel bands, time padded by 3 on each side ("same" in time, "valid" in frequency)."""
    x = layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, (7, bands), padding="valid", activation="relu", name=f"{name}_conv")(x)
    return _freq_max(_bn(f"{name}_bn")(x), name)


def _temporal(x: Tensor, filters: int, frames: int, name: str) -> Tensor:
    """``frames`` x 1 with TF's "same" padding spelt out: (k - 1) // 2 before, k // 2 after."""
    x = layers.ZeroPadding2D((((frames - 1) // 2, frames // 2), (0, 0)), name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, (frames, 1), padding="valid", activation="relu", name=f"{name}_conv")(x)
    return _freq_max(_bn(f"{name}_bn")(x), name)


def _midend_conv(x: Tensor, filters: int, name: str) -> Tensor:
    """7-frame convolution over all channels (the original's ``[7, C]`` Conv2D on ``[T, C, 1]``)."""
    x = layers.ZeroPadding1D(3, name=f"{name}_pad")(x)
    x = layers.Conv1D(filters, 7, padding="valid", activation="relu", name=f"{name}_conv")(x)
    return _bn(f"{name}_bn")(x)


def build_musicnn(spec: PretrainedSpec, *, num_filt_frontend: float = 1.6, num_filt_midend: int = 64,
                  num_units_backend: int = 200, pitch_semitones: int = 0, pitch_prob: float = 0.5,
                  seed: int | None = None) -> keras.Model:
    """The musicnn tagger of ``spec``: waveform windows ``[B, patch_samples]`` to tag probabilities ``[B, tags]``.

    ``pitch_semitones`` > 0 gives the log-mel layer the trainer's pitch-shift augmentation
    (training only, inert at inference), for fine-tuning.
    """
    sg = spec.spectrogram
    n_mels, frames = sg.n_mels, sg.patch_frames
    waves = keras.Input(shape=(sg.patch_samples,), name="waveform")
    logmel = LogMel(sample_rate=sg.sample_rate, n_fft=sg.n_fft, hop_length=sg.hop_length, n_mels=n_mels,
                    standardize=False, center=False, compression=sg.compression, gain=sg.gain,
                    pitch_semitones=pitch_semitones, pitch_prob=pitch_prob, seed=seed, name="logmel")(waves)
    x = layers.Reshape((frames, n_mels, 1), name="logmel_channel")(logmel)
    x = _bn("input_bn")(x)

    # front end: musically motivated filters
    timbral_filters, temporal_filters = int(num_filt_frontend * 128), int(num_filt_frontend * 32)
    f74 = _timbral(x, timbral_filters, int(0.4 * n_mels), "timbral_74")
    f77 = _timbral(x, timbral_filters, int(0.7 * n_mels), "timbral_77")
    s1 = _temporal(x, temporal_filters, 128, "temporal_128")
    s2 = _temporal(x, temporal_filters, 64, "temporal_64")
    s3 = _temporal(x, temporal_filters, 32, "temporal_32")
    timbral = layers.Concatenate(axis=-1, name="timbral")([f74, f77])
    temporal = layers.Concatenate(axis=-1, name="temporal")([s1, s2, s3])
    frontend = layers.Concatenate(axis=-1, name="frontend")([timbral, temporal])

    # mid end: dense (residual) convolutions
    cnn1 = _midend_conv(frontend, num_filt_midend, "midend1")
    cnn1 = layers.Identity(name="cnn1")(cnn1)
    cnn2 = layers.Add(name="cnn2")([_midend_conv(cnn1, num_filt_midend, "midend2"), cnn1])
    cnn3 = layers.Add(name="cnn3")([_midend_conv(cnn2, num_filt_midend, "midend3"), cnn2])
    midend = layers.Concatenate(axis=-1, name="midend")([frontend, cnn1, cnn2, cnn3])
    channels = midend.shape[-1]

    # back end: temporal pooling, then dense layers
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(midend)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(midend)
    pair = layers.Concatenate(axis=-1, name="pool_pair")([
        layers.Reshape((channels, 1), name="max_pool_column")(max_pool),
        layers.Reshape((channels, 1), name="mean_pool_column")(mean_pool)])
    x = layers.Flatten(name="pooled")(pair)  # [max_0, mean_0, max_1, mean_1, ...] as the original
    x = _bn("backend_bn")(x)
    x = layers.Dropout(0.5, name="backend_dropout")(x)
    x = layers.Dense(num_units_backend, activation="relu", name="penultimate_dense")(x)
    x = _bn("penultimate")(x)
    x = layers.Dropout(0.5, name="penultimate_dropout")(x)
    x = layers.Dense(len(spec.labels), name="logits")(x)
    taggram = layers.Activation("sigmoid", dtype="float32", name="taggram")(x)
    return keras.Model(waves, taggram, name=spec.name.replace("-", "_"))
