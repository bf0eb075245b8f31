"""Score an exported model the way someone without the toolkit would: plain TensorFlow or onnxruntime.

Run by the tests as ``python -I -S standalone.py SPEC.json`` from an empty folder: no
current folder, no PYTHONPATH, no user site and no ``.pth`` files (the editable install of
this project is one), only the site-packages folders listed in the spec.  It checks that the
toolkit and Keras are out of reach, loads the export, scores the ``.npy`` inputs the spec
names and prints JSON.  Standard library, numpy and the runtime only.
"""

import json
import sys


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    sys.path.extend(spec["site_packages"])  # plain folders: their .pth files are not processed
    importable = {}
    for name in ("training", "manifests"):
        try:
            __import__(name)
            importable[name] = True
        except ModuleNotFoundError:
            importable[name] = False
    import numpy as np

    scores = {}
    if spec["format"] == "savedmodel":
        import tensorflow as tf

        model = tf.saved_model.load(spec["path"])
        signatures = {name: {"inputs": sorted(fn.structured_input_signature[1]),
                             "outputs": sorted(fn.structured_outputs)} for name, fn in model.signatures.items()}
        for call in spec["calls"]:
            waves = np.load(call["input"])
            out = model.signatures[call["entry"]](waveform=tf.constant(waves))
            scores[call["name"]] = out["scores"].numpy().tolist()
        meta = {"signatures": signatures}
    else:
        import onnx
        import onnxruntime as ort  # type: ignore[import-untyped]

        meta = {"files": {}}
        for call in spec["calls"]:
            path = f"{spec['path']}/{call['file']}"
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            proto = onnx.load(path)
            meta["files"][call["file"]] = {
                "inputs": [i.name for i in session.get_inputs()], "outputs": [o.name for o in session.get_outputs()],
                "opset": max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))}
            scores[call["name"]] = session.run(["scores"], {"waveform": np.load(call["input"])})[0].tolist()
    print(json.dumps({"importable": importable, "keras_loaded": "keras" in sys.modules,
                      "scores": scores, **meta}))


if __name__ == "__main__":
    main()
