"""Reference outputs of the ORIGINAL musicnn code, for the equivalence test of our Keras rebuild.

Run once, in a throwaway environment that has the original package (never the project's):

    python3 -m venv /tmp/musicnn-env
    /tmp/musicnn-env/bin/pip install 'tensorflow==2.21.0' tf_keras 'numpy<2' librosa
    /tmp/musicnn-env/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/musicnn-env/bin/python tools/musicnn/reference_outputs.py \
        ../shared/real-audio/*.ogg --out tests/pretrained/fixtures

It writes ``musicnn_reference.npz`` (per model and excerpt: the taggram, one row per 3-second
patch, and the mean of the ``penultimate`` embedding over the patches) and
``musicnn_reference.json`` (versions, file hashes, patch counts, top tags).

Why not simply ``musicnn.extractor.extractor()``: it restores the checkpoint inside a bare
``except`` and, when that fails, tags with freshly initialised random weights without a
word (every file then gets the same top tags).  So this script builds the graph with the
package's own ``models.define_model`` and spectrogram code (``extractor.batch_data``),
restores the checkpoint strictly, checks that every restored variable equals the
checkpoint's value, and runs the session as ``extractor()`` does (one patch per run,
``is_training`` False).  It then also calls ``extractor()`` itself and checks that it gives
the same taggram, i.e. that the numbers are those of the original tagger.

NumPy must be < 2: ``batch_data`` rounds the mel power to float16 and then computes
``10000 * x``; NumPy 1 promotes that product to float32, NumPy 2 keeps float16 and
overflows to ``inf`` on loud frames.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

MODELS = ("MTT_musicnn", "MSD_musicnn")
EMBEDDING = "penultimate"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_model(model: str, files: list[Path]) -> dict[str, dict[str, object]]:
    import librosa
    import numpy as np
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import extractor as original
    from musicnn import models
    from tensorflow.python.training import py_checkpoint_reader

    labels = config.MTT_LABELS if "MTT" in model else config.MSD_LABELS
    n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
    prefix = os.path.join(os.path.dirname(original.__file__), model) + "/"

    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outputs = models.define_model(x, is_training, model, len(labels))
        y, penultimate = outputs[0], outputs[8]
        normalized_y = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    saver = tf.compat.v1.train.Saver()
    saver.restore(sess, prefix)  # by the folder prefix: the 'checkpoint' file names the author's old path

    reader = py_checkpoint_reader.NewCheckpointReader(prefix)
    variables = tf.compat.v1.global_variables()
    for var in variables:
        name = var.op.name
        stored = reader.get_tensor(name)
        if not np.array_equal(sess.run(var), stored):
            raise SystemExit(f"{model}: variable {name} was not restored from the checkpoint")
    print(f"{model}: {len(variables)} variables restored and checked", file=sys.stderr)

    results: dict[str, dict[str, object]] = {}
    for path in files:
        batch, spectrogram = original.batch_data(str(path), n_frames, n_frames)
        if not np.all(np.isfinite(batch)):
            raise SystemExit(f"{path}: the spectrogram has inf/nan (NumPy >= 2? use NumPy < 2 here)")
        rows, embeddings = [], []
        for i in range(batch.shape[0]):  # one patch per run, as extractor() (BATCH_SIZE = 1)
            tags, emb = sess.run([normalized_y, penultimate], feed_dict={x: batch[i:i + 1], is_training: False})
            rows.append(tags[0])
            embeddings.append(emb[0])
        taggram = np.asarray(rows, dtype=np.float32)
        audio, _ = librosa.load(str(path), sr=config.SR)
        results[path.name] = {"taggram": taggram, "embedding": np.mean(embeddings, axis=0).astype(np.float32),
                              "n_samples": int(audio.size), "n_frames": int(spectrogram.shape[0])}
    sess.close()

    # The same numbers through the package's own entry point (restore included, when it works).
    for path in files:
        taggram, _ = original.extractor(str(path), model=model, extract_features=False)
        ours = results[path.name]["taggram"]
        diff = float(np.max(np.abs(np.asarray(taggram) - ours)))
        if diff > 1e-6:
            raise SystemExit(f"{model} {path.name}: extractor() differs by {diff:g} (did its restore fail?)")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="audio files (the real excerpts)")
    parser.add_argument("--out", type=Path, required=True, help="folder for musicnn_reference.npz/.json")
    args = parser.parse_args()
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("set TF_USE_LEGACY_KERAS=1 (musicnn's tf.compat.v1.layers need tf_keras)")

    import numpy as np

    if int(np.__version__.split(".")[0]) >= 2:
        raise SystemExit(f"NumPy {np.__version__}: use NumPy < 2 (musicnn's float16 spectrogram overflows)")
    import librosa
    import tensorflow as tf
    from musicnn import configuration as config

    files = sorted(args.files, key=lambda p: p.name)
    arrays: dict[str, np.ndarray] = {}
    note: dict[str, object] = {
        "made_by": "tools/musicnn/reference_outputs.py (original musicnn code, strict checkpoint restore)",
        "versions": {"musicnn": "0.1.0", "tensorflow": tf.__version__, "numpy": np.__version__,
                     "librosa": librosa.__version__, "soxr": _version("soxr"),
                     "soundfile": _version("soundfile"), "python": platform.python_version()},
        "decoder": "librosa.load(sr=16000) as musicnn's batch_data (soundfile + soxr_hq resampling)",
        "patching": "187-frame patches, hop 187 frames (no overlap), the tail shorter than a patch dropped",
        "embedding": f"{EMBEDDING}, mean over the patches",
        "files": {p.name: {"sha256": sha256(p)} for p in files},
        "models": {},
    }
    for model in MODELS:
        labels = config.MTT_LABELS if "MTT" in model else config.MSD_LABELS
        results = run_model(model, files)
        model_note: dict[str, object] = {"labels": list(labels), "files": {}}
        for name, result in results.items():
            taggram = result["taggram"]
            assert isinstance(taggram, np.ndarray)
            arrays[f"{model}/{name}/taggram"] = taggram
            arrays[f"{model}/{name}/{EMBEDDING}_mean"] = result["embedding"]  # type: ignore[assignment]
            mean = taggram.mean(axis=0)
            top = [labels[i] for i in np.argsort(-mean)[:5]]
            model_note["files"][name] = {"n_samples": result["n_samples"], "n_frames": result["n_frames"],  # type: ignore[index]
                                         "n_patches": int(taggram.shape[0]), "top5": top}
            print(f"{model} {name}: {', '.join(top)}", file=sys.stderr)
        note["models"][model] = model_note  # type: ignore[index]
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "musicnn_reference.npz", **arrays)
    (args.out / "musicnn_reference.json").write_text(json.dumps(note, indent=1) + "\n", encoding="utf-8")
    print(f"written: {args.out / 'musicnn_reference.npz'}", file=sys.stderr)
    return 0


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
