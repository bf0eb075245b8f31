"""The exported computations, as plain TensorFlow functions of a waveform.

Everything a run does between 16 kHz mono samples and label probabilities is traced
into one graph, so the export needs neither this toolkit nor Keras to run:

* :func:`crop_scores`: the CNN on crops ``[batch, crop_samples]`` (its log-mel front end
  included), the run's crop-level output;
* :func:`song_scores`: the CNN on whole clips ``[batch, samples]`` of any length: the
  evenly spaced crops of :func:`training.data.crops.song_crop_starts` cut inside the graph
  (a clip shorter than a crop zero-padded at the end), the mean of their probabilities,
  exactly what ``predict`` and ``evaluate`` report as song level;
* :class:`ProbeGraph`: a linear probe run end to end: the pretrained model's patches
  (:func:`training.models.pretrained.patches.patch_starts`), its embedding layer, the
  pooling over patches, the standardisation and the logistic regression, in float64 like
  :class:`~training.runs.probe.LinearProbe`.

ONNX has no complex numbers and tf2onnx converts TensorFlow's RFFT only when ``|X|`` follows
it directly, so for ONNX :func:`portable_front_end` computes the power spectrum of every
``LogMel`` layer as a product with a constant windowed DFT matrix (``[n_fft, 2 * bins]``, cos
and sin) instead: the same numbers to float32 rounding, and a plain MatMul in any runtime.  ONNX
has no Log1p either: musicnn's ``log10(1 + 10000 mel)`` is taken as ``log(1 + x)`` there.
"""

from __future__ import annotations

import logging
import math
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ..models.features import LogMel, hann_window

if TYPE_CHECKING:
    import keras

    from ..models.pretrained.registry import Spectrogram
    from ..runs.probe import LinearProbe

log = logging.getLogger(__name__)

#: A TensorFlow tensor (TensorFlow ships no type information that mypy reads here).
TFTensor = Any


def dft_basis(n_fft: int) -> np.ndarray:
    """``[n_fft, 2 * (n_fft // 2 + 1)]`` float32: periodic-Hann-windowed cos and -sin of the real DFT."""
    bins = n_fft // 2 + 1
    k = (np.arange(n_fft)[:, None] * np.arange(bins)[None, :]) % n_fft  # exact phases, no large angles
    angle = 2.0 * np.pi * k / n_fft
    window = hann_window(n_fft).astype(np.float64)[:, None]
    return np.concatenate([window * np.cos(angle), -window * np.sin(angle)], axis=1).astype(np.float32)


def _matmul_power(layer: LogMel, waves: TFTensor) -> TFTensor:
    """``LogMel.power_spectrogram`` without an FFT: frames times the windowed DFT matrix."""
    import tensorflow as tf

    frames = layer.frames(tf.cast(waves, tf.float32))
    spectrum = tf.matmul(frames, tf.constant(dft_basis(layer.n_fft)))
    real, imag = spectrum[..., : layer.n_bins], spectrum[..., layer.n_bins:]
    return real * real + imag * imag


def _log1p_free_scale(layer: LogMel, mel: TFTensor) -> TFTensor:
    """``LogMel.log_scale`` with ``log(1 + x)`` for ``log1p(x)`` (ONNX has no Log1p; x >= 0, so the same to ~1e-7)."""
    import tensorflow as tf

    if layer.compression == "log10_1p":
        logged = tf.math.log(1.0 + layer.gain * mel) / math.log(10.0)
    else:
        logged = 10.0 * tf.math.log(tf.maximum(mel, layer.amin)) / math.log(10.0)
    if not layer.standardize:
        return logged
    mean = tf.reduce_mean(logged, axis=(1, 2), keepdims=True)
    std = tf.math.reduce_std(logged, axis=(1, 2), keepdims=True)
    return (logged - mean) / (std + 1e-5)


def logmel_layers(model: keras.Model) -> list[LogMel]:
    """Every ``LogMel`` layer of ``model``, nested models included."""
    found: list[LogMel] = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, LogMel):
            found.append(layer)
        else:
            found.extend(logmel_layers(layer))
    return found


@contextmanager
def portable_front_end(*models: keras.Model) -> Iterator[None]:
    """While inside, the models' ``LogMel`` layers use only ops ONNX has: a DFT matrix for the FFT, log for log1p."""
    layers = [layer for model in models for layer in logmel_layers(model)]
    for layer in layers:
        layer.power_spectrogram = types.MethodType(_matmul_power, layer)  # type: ignore[method-assign]
        layer.log_scale = types.MethodType(_log1p_free_scale, layer)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for layer in layers:
            del layer.power_spectrogram, layer.log_scale  # the class's own methods again


def _single_output(value: Any) -> TFTensor:
    return value[0] if isinstance(value, (list, tuple)) else value


def evenly_spaced(count: TFTensor, num: TFTensor) -> TFTensor:
    """``np.round(np.linspace(0, count - 1, num))`` as int32, computed as numpy does (float64, half to even)."""
    import tensorflow as tf

    index = tf.range(num)
    step = tf.cast(count - 1, tf.float64) / tf.cast(tf.maximum(num - 1, 1), tf.float64)
    values = tf.cast(tf.round(tf.cast(index, tf.float64) * step), tf.int32)
    last = tf.where(num > 1, count - 1, 0)  # numpy sets the end point exactly; linspace(.., 1) is [0]
    return tf.where(index == num - 1, last, values)


def song_windows(waves: TFTensor, crop_samples: int) -> TFTensor:
    """``[batch, n_crops, crop_samples]``: :func:`training.data.crops.song_crops` of each row, in the graph."""
    import tensorflow as tf

    n = tf.shape(waves)[1]
    length = tf.maximum(n, crop_samples)
    waves = tf.pad(waves, [[0, 0], [0, length - n]])  # a short clip is zero-padded at the end
    n_crops = (length + crop_samples - 1) // crop_samples  # ceil(duration / crop), 1 for a short clip
    starts = evenly_spaced(length - crop_samples + 1, n_crops)
    index = starts[:, None] + tf.range(crop_samples)[None, :]
    return tf.gather(waves, index, axis=1)


def crop_scores(model: keras.Model, waves: TFTensor) -> TFTensor:
    """Label probabilities ``[batch, n_labels]`` of crops ``[batch, crop_samples]``."""
    return _single_output(model(waves, training=False))


def song_scores(model: keras.Model, waves: TFTensor, crop_samples: int) -> TFTensor:
    """Song-level probabilities ``[batch, n_labels]`` of clips ``[batch, samples]``: the mean over their crops."""
    import tensorflow as tf

    windows = song_windows(waves, crop_samples)
    shape = tf.shape(windows)
    scores = crop_scores(model, tf.reshape(windows, [-1, crop_samples]))
    scores = tf.reshape(scores, [shape[0], shape[1], -1])
    return tf.reduce_mean(scores, axis=1)


class ProbeGraph:
    """A probe run as a function of waveforms ``[batch, samples]`` to probabilities ``[batch, n_labels]``.

    ``head`` is the pretrained model cut at the embedding layer (``PretrainedModel.head``);
    the patching follows :class:`~training.runs.embed.Embedder` (librosa's centring pad,
    ``hop_frames`` between patches, at most ``max_patches`` evenly spaced ones, one
    silence-padded patch for a clip shorter than a patch).
    """

    def __init__(self, head: keras.Model, spectrogram: Spectrogram, hop_frames: int, max_patches: int | None,
                 pooling: str, probe: LinearProbe) -> None:
        self.head = head
        self.spectrogram = spectrogram
        self.hop_frames = hop_frames
        self.max_patches = max_patches
        self.pooling = pooling
        self.probe = probe

    def windows(self, waves: TFTensor) -> TFTensor:
        """``[batch, n_patches, patch_samples]`` patch windows of each row."""
        import tensorflow as tf

        sg = self.spectrogram
        half, size, hop = sg.n_fft // 2, sg.patch_samples, self.hop_frames * sg.hop_length
        centred_length = tf.shape(waves)[1] + 2 * half
        extra = tf.maximum(size - centred_length, 0)  # shorter than a patch: one window filled with silence
        centred = tf.pad(waves, [[0, 0], [half, half + extra]])
        count = (centred_length + extra - size) // hop + 1
        if self.max_patches is None:
            index = tf.range(count)
        else:
            index = evenly_spaced(count, tf.minimum(count, self.max_patches))
        return tf.gather(centred, (index * hop)[:, None] + tf.range(size)[None, :], axis=1)

    def pooled(self, waves: TFTensor) -> TFTensor:
        """One float32 embedding per row, pooled over its patches in float64 (as the embedding cache's)."""
        import tensorflow as tf

        windows = self.windows(waves)
        shape = tf.shape(windows)
        values = _single_output(self.head(tf.reshape(windows, [-1, self.spectrogram.patch_samples]),
                                          training=False))
        values = tf.cast(tf.reshape(values, [shape[0], shape[1], -1]), tf.float64)
        if self.pooling == "mean":
            out = tf.reduce_mean(values, axis=1)
        elif self.pooling == "max":
            out = tf.reduce_max(values, axis=1)
        else:  # meanstd
            out = tf.concat([tf.reduce_mean(values, axis=1), tf.math.reduce_std(values, axis=1)], axis=-1)
        return tf.cast(out, tf.float32)

    def scores(self, waves: TFTensor) -> TFTensor:
        """Probabilities ``[batch, n_labels]`` (float32), as ``LinearProbe.predict_proba`` computes them."""
        import tensorflow as tf

        p = self.probe
        x = tf.cast(self.pooled(waves), tf.float64)
        z = (x - tf.constant(p.mean)) / tf.constant(p.scale)
        logits = tf.matmul(z, tf.constant(p.coef.T.astype(np.float64))) + tf.constant(p.intercept)

        def sigmoid(v: TFTensor) -> TFTensor:
            return 0.5 * (1.0 + tf.tanh(0.5 * v))

        if p.task == "single":
            if p.coef.shape[0] == 1:  # two classes: scikit-learn's binary regression
                q = sigmoid(logits[:, 0])
                per_class = tf.stack([1.0 - q, q], axis=1)
            else:
                per_class = tf.nn.softmax(logits, axis=1)
            place = np.zeros((len(p.classes), p.n_labels))  # each trained class to its label's column
            place[np.arange(len(p.classes)), p.classes] = 1.0
            out = tf.matmul(per_class, tf.constant(place))
        else:
            fixed = ~np.isnan(p.constant)
            keep = tf.constant((~fixed).astype(np.float64))
            out = sigmoid(logits) * keep + tf.constant(np.where(fixed, p.constant, 0.0))
        return tf.cast(out, tf.float32)
