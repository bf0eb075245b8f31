"""Pretrained models shipped with the toolkit (musicnn's taggers now), usable without training anything.

* :mod:`.registry`: what each model is (source, licence, input, outputs, weight file); no Keras.
* :mod:`.musicnn`: the musicnn architecture in Keras 3.
* :mod:`.weights`: the ``.npz`` weight files, loaded by layer name.
* :mod:`.patches`: audio cut into the model's patches, as a stream (NumPy only).
* :mod:`.tagger`: a loaded model, its taggram and embeddings by layer name, and the
  tagging of files in bounded memory.

Only the registry is imported here, so listing the models starts no framework.
"""

from .registry import PRETRAINED, PretrainedSpec, Spectrogram, get_pretrained, pretrained_names

__all__ = ["PRETRAINED", "PretrainedSpec", "Spectrogram", "get_pretrained", "pretrained_names"]
