"""Convert musicnn's TF1 checkpoints (from its PyPI wheel) into the weight files the toolkit ships.

    .venv/bin/python tools/musicnn/convert.py                 # downloads the wheel with pip
    .venv/bin/python tools/musicnn/convert.py --wheel musicnn-0.1.0-py3-none-any.whl

The musicnn package cannot be a dependency (it pins ``numpy<1.17`` and turns eager
execution off for the whole process), but its wheel carries the checkpoints
(``musicnn/MTT_musicnn/``, ``musicnn/MSD_musicnn/``), and current TensorFlow reads
their variables.  This script reads them by the folder prefix (the ``checkpoint``
file inside names the author's old path), maps each TF1 variable onto the layer of
our Keras rebuild (``training.models.pretrained.musicnn``) that plays its part,
writes ``training/models/pretrained/weights/<model>.npz`` with the ISC licence beside
it, and loads each file back into the Keras model to check that every variable is
filled.  The equivalence with the original code is the test in ``tests/pretrained``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WHEEL = "musicnn==0.1.0"
#: sha256 of musicnn-0.1.0-py3-none-any.whl as PyPI serves it (checked when downloaded here)
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
CHECKPOINTS = {"musicnn-MTT": "MTT_musicnn", "musicnn-MSD": "MSD_musicnn"}

#: TF1 scope (in the order musicnn's ``build_musicnn`` creates them) -> our Keras layer.
CONV_LAYERS = {
    "conv2d": "timbral_74_conv", "conv2d_1": "timbral_77_conv",
    "conv2d_2": "temporal_128_conv", "conv2d_3": "temporal_64_conv", "conv2d_4": "temporal_32_conv",
    "conv2d_5": "midend1_conv", "conv2d_6": "midend2_conv", "conv2d_7": "midend3_conv",
    "dense": "penultimate_dense", "dense_1": "logits",
}
BN_LAYERS = {
    "batch_normalization": "input_bn", "batch_normalization_1": "timbral_74_bn",
    "batch_normalization_2": "timbral_77_bn", "batch_normalization_3": "temporal_128_bn",
    "batch_normalization_4": "temporal_64_bn", "batch_normalization_5": "temporal_32_bn",
    "batch_normalization_6": "midend1_bn", "batch_normalization_7": "midend2_bn",
    "batch_normalization_8": "midend3_bn", "batch_normalization_9": "backend_bn",
    "batch_normalization_10": "penultimate",
}
BN_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")
#: The mid end's Conv2D kernels [7, C, 1, F] become Conv1D kernels [7, C, F].
CONV1D_LAYERS = frozenset({"midend1_conv", "midend2_conv", "midend3_conv"})


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    WHEEL, "-d", str(folder)], check=True)
    wheel = next(folder.glob("musicnn-*.whl"))
    if sha256(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 differs from the wheel these weights were made from")
    return wheel


def read_checkpoint(prefix: str) -> dict[str, object]:
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "Adam" not in name and not name.startswith(("beta1_power", "beta2_power"))}


def convert(variables: dict[str, object]) -> dict[str, object]:
    """TF1 variables -> our keys ``<layer>/<variable>`` (every variable used exactly once)."""
    import numpy as np

    out: dict[str, object] = {}
    used: set[str] = set()
    for scope, layer in CONV_LAYERS.items():
        kernel = np.asarray(variables[f"{scope}/kernel"])
        if layer in CONV1D_LAYERS:
            kernel = kernel.reshape(kernel.shape[0], kernel.shape[1], kernel.shape[3])
        out[f"{layer}/kernel"] = kernel
        out[f"{layer}/bias"] = variables[f"{scope}/bias"]
        used |= {f"{scope}/kernel", f"{scope}/bias"}
    for scope, layer in BN_LAYERS.items():
        for name in BN_VARIABLES:
            out[f"{layer}/{name}"] = variables[f"{scope}/{name}"]
            used.add(f"{scope}/{name}")
    left = sorted(set(variables) - used)
    if left:
        raise SystemExit(f"checkpoint variables not mapped: {', '.join(left)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, default=None, help="musicnn-0.1.0 wheel (default: pip download it)")
    parser.add_argument("--out", type=Path, default=REPO / "training/models/pretrained/weights",
                        help="folder for the weight files (default: the package's)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))

    from training.models.pretrained.registry import PRETRAINED
    from training.models.pretrained.weights import save_weights

    with tempfile.TemporaryDirectory(prefix="musicnn-") as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        wheel_sha = sha256(wheel)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        for name, folder in CHECKPOINTS.items():
            spec = PRETRAINED[name]
            prefix = str(unpacked / "musicnn" / folder) + "/"  # the files are '<folder>/.index' etc.
            arrays = convert(read_checkpoint(prefix))
            meta = {"model": name, "source": f"{wheel.name} (sha256 {wheel_sha}), musicnn/{folder}",
                    "licence": spec.licence, "attribution": spec.attribution,
                    "converted_by": "tools/musicnn/convert.py"}
            target = args.out / spec.weights
            save_weights(target, arrays, spec.labels, meta)  # type: ignore[arg-type]
            n_params = sum(int(getattr(a, "size", 0)) for a in arrays.values())
            print(f"{target}: {len(arrays)} arrays, {n_params} parameters, {target.stat().st_size} bytes")
        licence = next(unpacked.glob("musicnn-*.dist-info/LICENSE*"))
        shutil.copyfile(licence, args.out / "LICENSE")
    check(args.out)
    return 0


def check(folder: Path) -> None:
    """Load every converted file into the Keras rebuild: each variable found, each shape right."""
    from training.models.pretrained import registry
    from training.models.pretrained.musicnn import build_musicnn
    from training.models.pretrained.weights import load_weights

    registry.WEIGHTS_DIR = folder
    for name in CHECKPOINTS:
        spec = registry.PRETRAINED[name]
        model = build_musicnn(spec)
        load_weights(model, spec)
        print(f"{name}: loads into the Keras model ({model.count_params()} parameters incl. the mel filterbank)")


if __name__ == "__main__":
    sys.exit(main())
