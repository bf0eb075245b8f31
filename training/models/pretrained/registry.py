"""The registry of pretrained models the toolkit ships: what each is, where it came from, what it takes.

A :class:`PretrainedSpec` is plain data (no Keras import), so ``python -m training models``
lists the registry instantly and a missing weight file can be named before any framework
starts.  Each entry says how its weights were made and how to make them again, its licence
and attribution, the audio it expects (sample rate, patch length) and what comes out
(tags per patch, and the layers whose activations serve as embeddings).  The builder of
each ``architecture`` lives beside this module; a new model family adds a spec here and a
builder there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests.errors import UserError

log = logging.getLogger(__name__)

#: The weight files shipped with the package (with their licence and attribution).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The command that regenerates the shipped weight files from the original checkpoints.
REGENERATE = "python tools/musicnn/convert.py (see tools/musicnn/README.md)"

# The tag vocabularies, in the order of the taggers' outputs (musicnn/configuration.py, ISC licence).
MTT_LABELS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
    "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
    "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
    "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral")
MSD_LABELS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
    "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy")


@dataclass(frozen=True)
class Spectrogram:
    """The log-mel input a model was trained on (librosa conventions, see ``LogMel``)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    #: ``"log10_1p"``: ``log10(1 + gain * mel)``; ``"db"``: decibels
    compression: str
    gain: float
    #: frames per patch the model sees at once
    patch_frames: int

    @property
    def patch_samples(self) -> int:
        """Samples of one patch window: its frames taken without centring (``n_fft - hop`` more than the hops)."""
        return (self.patch_frames - 1) * self.hop_length + self.n_fft

    @property
    def patch_hop_samples(self) -> int:
        """Samples from one patch to the next (non-overlapping patches of frames)."""
        return self.patch_frames * self.hop_length

    @property
    def patch_seconds(self) -> float:
        return self.patch_hop_samples / self.sample_rate

    def describe(self) -> str:
        log_text = f"log10(1 + {self.gain:g}·mel)" if self.compression == "log10_1p" else "dB"
        return (f"mono {self.sample_rate} Hz; {self.n_mels}-band mel, n_fft {self.n_fft}, hop {self.hop_length}, "
                f"{log_text}; patches of {self.patch_frames} frames ({self.patch_seconds:.3f} s)")


@dataclass(frozen=True)
class PretrainedSpec:
    """One pretrained model: provenance, licence, input, outputs and weight file."""

    name: str
    architecture: str
    description: str
    source: str
    url: str
    licence: str
    attribution: str
    weights: str
    spectrogram: Spectrogram
    labels: tuple[str, ...]
    #: the layer whose activation is the default embedding, and the sizes of all embedding layers
    embedding_layer: str
    embedding_layers: tuple[tuple[str, int], ...]
    #: keyword arguments of the architecture's builder
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def sample_rate(self) -> int:
        return self.spectrogram.sample_rate

    @property
    def embedding_size(self) -> int:
        return dict(self.embedding_layers)[self.embedding_layer]

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.weights

    def size_on_disk(self) -> int | None:
        """Bytes of the weight file, None when it is missing."""
        try:
            return self.weights_path.stat().st_size
        except OSError:
            return None

    def check_weights(self) -> Path:
        """The weight file, or a one-line UserError saying how to regenerate it."""
        path = self.weights_path
        if not path.is_file():
            raise UserError(f"{self.name}: weight file {path} is missing; regenerate it with {REGENERATE}")
        return path

    def outputs(self) -> str:
        return f"{len(self.labels)} tag probabilities (sigmoid) per {self.spectrogram.patch_seconds:.3f}-s patch"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "architecture": self.architecture, "description": self.description,
                "source": self.source, "url": self.url, "licence": self.licence,
                "attribution": self.attribution, "sample_rate": self.sample_rate,
                "inputs": self.spectrogram.describe(), "outputs": self.outputs(),
                "labels": list(self.labels), "embedding_layer": self.embedding_layer,
                "embedding_size": self.embedding_size, "embedding_layers": dict(self.embedding_layers),
                "weights": str(self.weights_path), "size_on_disk": self.size_on_disk()}


#: musicnn's input: librosa.feature.melspectrogram(sr=16000, n_fft=512, hop_length=256, n_mels=96),
#: then log10(10000 * mel + 1); 3-second patches of 187 frames.
MUSICNN_INPUT = Spectrogram(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, compression="log10_1p",
                            gain=10000.0, patch_frames=187)
#: The layers of musicnn that serve as embeddings (names as the original's ``extractor`` features).
MUSICNN_LAYERS: tuple[tuple[str, int], ...] = (
    ("timbral", 408), ("temporal", 153), ("cnn1", 64), ("cnn2", 64), ("cnn3", 64),
    ("mean_pool", 753), ("max_pool", 753), ("penultimate", 200))
_MUSICNN_ATTRIBUTION = ("Jordi Pons and Xavier Serra, musicnn: pre-trained convolutional neural networks for "
                        "music audio tagging (ISMIR 2019 LBD); (c) Music Technology Group, Universitat Pompeu "
                        "Fabra 2019")

PRETRAINED: dict[str, PretrainedSpec] = {spec.name: spec for spec in (
    PretrainedSpec(
        name="musicnn-MTT", architecture="musicnn",
        description="musicnn tagger trained on MagnaTagATune (instruments, voice, moods, a few genres)",
        source="musicnn 0.1.0 wheel on PyPI, checkpoint musicnn/MTT_musicnn, converted to Keras",
        url="https://github.com/jordipons/musicnn", licence="ISC", attribution=_MUSICNN_ATTRIBUTION,
        weights="musicnn-MTT.npz", spectrogram=MUSICNN_INPUT, labels=MTT_LABELS,
        embedding_layer="penultimate", embedding_layers=MUSICNN_LAYERS),
    PretrainedSpec(
        name="musicnn-MSD", architecture="musicnn",
        description="musicnn tagger trained on the Million Song Dataset (Last.fm tags: genres, eras, moods)",
        source="musicnn 0.1.0 wheel on PyPI, checkpoint musicnn/MSD_musicnn, converted to Keras",
        url="https://github.com/jordipons/musicnn", licence="ISC", attribution=_MUSICNN_ATTRIBUTION,
        weights="musicnn-MSD.npz", spectrogram=MUSICNN_INPUT, labels=MSD_LABELS,
        embedding_layer="penultimate", embedding_layers=MUSICNN_LAYERS),
)}


def pretrained_names() -> list[str]:
    return list(PRETRAINED)


def get_pretrained(name: str) -> PretrainedSpec:
    """The spec of ``name`` (case-insensitive), or a one-line UserError listing the known ones."""
    found = PRETRAINED.get(name) or next((s for n, s in PRETRAINED.items() if n.lower() == name.lower()), None)
    if found is None:
        raise UserError(f"no pretrained model named {name!r}; known: {', '.join(PRETRAINED)}")
    return found
