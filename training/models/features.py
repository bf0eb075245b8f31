# mypy: allow-subclassing-any
# (Keras ships no type information, so its Layer class is Any to mypy.)
"""The log-mel front end, as a Keras layer inside every model.

Training and predict run the same code: the model takes raw mono waveform crops
``[batch, samples]`` at 16 kHz in [-1, 1] and this layer turns them into
standardised log-mel spectrograms ``[batch, frames, n_mels]``.  The filterbank is
``librosa.filters.mel`` (slaney scale and norm) stored as a constant weight, the
STFT follows ``librosa.stft`` conventions (periodic Hann window, centred frames,
zero padding of ``n_fft // 2`` on both sides), and the log is
``10 * log10(max(power, amin))`` as ``librosa.power_to_db``.  Only ``keras.ops``
is used, so the layer runs on TensorFlow, JAX or PyTorch.

Two settings exist for models trained by others on librosa's spectrograms (the
pretrained musicnn taggers): ``compression="log10_1p"`` gives their
``log10(1 + gain * mel)`` instead of decibels, and ``center=False`` takes frames
from the samples as given, without padding, so a stream cut into overlapping
windows (each ``n_fft - hop`` samples longer than its frames' hops) gives exactly
the frames of the whole, centred signal.  The defaults are those of our own models.

During training only, the layer can also pitch-shift each example by a whole
number of semitones while keeping its tempo: the mel filterbank is read at
frequencies scaled by ``2 ** (k / 12)``, which moves every partial by that ratio
in the spectrum and leaves the frames (time) untouched.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import keras
import numpy as np
from keras import ops

from ..config import FeatureConfig

log = logging.getLogger(__name__)

PACKAGE = "genre_training"
#: A Keras tensor (of whichever backend); Keras ships no type information.
Tensor = Any
#: A Keras shape: dimensions, None where unknown.
Shape = tuple[int | None, ...]
#: How the mel power becomes the features: decibels (ours) or ``log10(1 + gain * mel)`` (musicnn's).
COMPRESSIONS = ("db", "log10_1p")


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """librosa's mel filterbank as ``[n_fft // 2 + 1, n_mels]`` float32 (power spectrum to mel bands)."""
    import librosa

    bank = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                               fmax=fmax if fmax is not None else sample_rate / 2)
    return np.ascontiguousarray(bank.T, dtype=np.float32)


def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window, as ``scipy.signal.get_window("hann", n, fftbins=True)`` (librosa's)."""
    n = np.arange(n_fft, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)).astype(np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogMel(keras.layers.Layer):
    """Waveform ``[B, N]`` to (standardised) log-mel ``[B, 1 + N // hop, n_mels]``, always in float32."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length: int = 256,
                 n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None, amin: float = 1e-10,
                 standardize: bool = True, pitch_semitones: int = 0, pitch_prob: float = 0.5,
                 seed: int | None = None, center: bool = True, compression: str = "db",
                 gain: float = 10000.0, **kwargs: Any) -> None:
        # The front end stays float32 under mixed precision: power spectra overflow float16.
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self.amin = float(amin)
        self.standardize = bool(standardize)
        self.pitch_semitones = int(pitch_semitones)
        self.pitch_prob = float(pitch_prob)
        self.seed = seed
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, not {compression!r}")
        self.center = bool(center)
        self.compression = compression
        self.gain = float(gain)
        self.n_bins = self.n_fft // 2 + 1
        self.seed_generator = keras.random.SeedGenerator(seed) if self.pitch_semitones else None

    @classmethod
    def from_feature_config(cls, features: FeatureConfig, *, pitch_semitones: int = 0,
                            pitch_prob: float = 0.5, seed: int | None = None, **kwargs: Any) -> LogMel:
        return cls(sample_rate=features.sample_rate, n_fft=features.n_fft, hop_length=features.hop_length,
                   n_mels=features.n_mels, fmin=features.fmin, fmax=features.fmax, amin=features.amin,
                   standardize=features.standardize, pitch_semitones=pitch_semitones,
                   pitch_prob=pitch_prob, seed=seed, **kwargs)

    def build(self, input_shape: Shape) -> None:
        bank = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        self.filterbank = self.add_weight(
            name="mel_filterbank", shape=bank.shape, trainable=False,
            initializer=keras.initializers.Constant(bank), dtype="float32")
        self.window = self.add_weight(
            name="window", shape=(self.n_fft,), trainable=False,
            initializer=keras.initializers.Constant(hann_window(self.n_fft)), dtype="float32")
        super().build(input_shape)

    def _ensure_built(self) -> None:
        """The pieces below may be called on their own (tests, notebooks), before any ``call``."""
        if not self.built:
            self.build((None, None))

    def n_frames(self, n_samples: int) -> int:
        if not self.center:
            return 1 + (n_samples - self.n_fft) // self.hop_length
        return 1 + n_samples // self.hop_length

    # ------------------------------------------------------------ the pieces, usable on their own

    def frames(self, waves: Tensor) -> Tensor:
        """Centred, zero-padded frames ``[B, T, n_fft]`` (T = 1 + N // hop), as ``librosa.stft``.

        With ``center=False`` the samples are framed as given: T = 1 + (N - n_fft) // hop.
        """
        n_samples = waves.shape[-1]
        if n_samples is None:
            raise ValueError("LogMel needs a fixed crop length (the model input has no length)")
        if not self.center and n_samples < self.n_fft:
            raise ValueError(f"LogMel(center=False) needs at least n_fft={self.n_fft} samples, got {n_samples}")
        half = self.n_fft // 2
        padded = ops.pad(waves, [[0, 0], [half, half]]) if self.center else waves
        n_frames = self.n_frames(n_samples)
        if self.n_fft % self.hop_length == 0:
            # Cheap framing: cut into hop-sized chunks and concatenate neighbours.
            ratio = self.n_fft // self.hop_length
            n_chunks = n_frames + ratio - 1
            chunks = ops.reshape(padded[:, : n_chunks * self.hop_length], (-1, n_chunks, self.hop_length))
            if ratio == 1:
                return chunks
            return ops.concatenate([chunks[:, i: i + n_frames, :] for i in range(ratio)], axis=-1)
        index = (np.arange(n_frames)[:, None] * self.hop_length + np.arange(self.n_fft)[None, :])
        return ops.take(padded, index.astype("int32"), axis=1)

    def power_spectrogram(self, waves: Tensor) -> Tensor:
        """|STFT|^2 ``[B, T, n_fft // 2 + 1]`` with a periodic Hann window."""
        self._ensure_built()
        frames = self.frames(ops.cast(waves, "float32")) * self.window
        real, imag = ops.rfft(frames)
        return real * real + imag * imag

    def mel_power(self, power: Tensor, training: bool = False) -> Tensor:
        """Project the power spectrum onto the mel bands (pitch-shifting per example when training)."""
        self._ensure_built()
        if training and self.pitch_semitones > 0 and self.pitch_prob > 0:
            semitones = self.random_semitones(ops.shape(power)[0])
            return ops.einsum("btf,bfm->btm", power, self.shifted_filterbanks(semitones))
        return ops.matmul(power, self.filterbank)

    def log_scale(self, mel: Tensor) -> Tensor:
        if self.compression == "log10_1p":
            logged = ops.log1p(self.gain * mel) / math.log(10.0)
        else:
            logged = 10.0 * ops.log(ops.maximum(mel, self.amin)) / math.log(10.0)
        if not self.standardize:
            return logged
        mean = ops.mean(logged, axis=(1, 2), keepdims=True)
        std = ops.std(logged, axis=(1, 2), keepdims=True)
        return (logged - mean) / (std + 1e-5)

    def random_semitones(self, batch: int | Tensor) -> Tensor:
        """Per example: 0 with probability 1 - pitch_prob, else a whole number in [-n, n]."""
        k = keras.random.randint((batch,), -self.pitch_semitones, self.pitch_semitones + 1,
                                 seed=self.seed_generator)
        keep = keras.random.uniform((batch,), seed=self.seed_generator) < self.pitch_prob
        return ops.where(keep, k, ops.zeros_like(k))

    def shifted_filterbanks(self, semitones: Tensor) -> Tensor:
        """One filterbank per example ``[B, F, n_mels]``, read at bin ``g * 2**(k/12)``.

        Energy at bin g then lands in the band of frequency ``g * 2**(k/12)``: every partial
        moves by the ratio while the frames, and so the tempo, stay where they were.
        """
        self._ensure_built()
        ratio = ops.power(2.0, ops.cast(semitones, "float32") / 12.0)
        bins = ops.arange(self.n_bins, dtype="float32")
        pos = ops.expand_dims(ratio, 1) * ops.expand_dims(bins, 0)  # [B, F] fractional bins
        low = ops.floor(pos)
        frac = ops.expand_dims(pos - low, -1)
        last = self.n_bins - 1
        low_i = ops.cast(ops.minimum(low, last), "int32")
        high_i = ops.cast(ops.minimum(low + 1, last), "int32")
        bank = (1.0 - frac) * ops.take(self.filterbank, low_i, axis=0) + frac * ops.take(
            self.filterbank, high_i, axis=0)
        inside = ops.cast(ops.expand_dims(pos <= last, -1), "float32")
        return bank * inside

    def call(self, waves: Tensor, training: bool = False) -> Tensor:
        power = self.power_spectrogram(waves)
        return self.log_scale(self.mel_power(power, training=bool(training)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n = input_shape[-1]
        return (input_shape[0], None if n is None else self.n_frames(n), self.n_mels)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                      n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax, amin=self.amin,
                      standardize=self.standardize, pitch_semitones=self.pitch_semitones,
                      pitch_prob=self.pitch_prob, seed=self.seed, center=self.center,
                      compression=self.compression, gain=self.gain)
        return config
