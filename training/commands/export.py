"""Sub-command ``export`` of ``python -m training``: a run as a SavedModel or ONNX file usable without the toolkit.

TensorFlow and tf2onnx are imported by the handler only, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from manifests import Layout
from manifests.cliutil import add_common_arguments

from ..runs.rundir import RunDir
from .options import add_run_argument


def _export(args: argparse.Namespace) -> int:
    from ..export.exporter import check_format, export_run

    fmt = check_format(args.format)  # before anything loads
    run = RunDir.resolve(args.run, Layout.at(args.data))
    out = args.out if args.out is not None else run.path / f"export-{fmt}"
    result = export_run(run, out, fmt, force=args.force)
    print(result.out)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export", help="write a run as a TensorFlow SavedModel or ONNX file usable without the toolkit",
        description="Export a finished run (CNN or linear probe) so plain TensorFlow or onnxruntime can use it: "
                    "16 kHz mono float32 waveform in (input 'waveform'), label probabilities out (output "
                    "'scores'), the log-mel front end, crops or patches and pooling inside the graph. Writes "
                    "the model, model_card.json (labels, thresholds, preprocessing, metrics, training data, "
                    "licences, usage) and README.md into --out, after checking the export against the run's "
                    "own predictions. Prints the export folder.")
    add_run_argument(p)
    p.add_argument("--format", default="savedmodel", metavar="FORMAT",
                   help="savedmodel (TensorFlow SavedModel, default) or onnx (opset 17, needs the export extra)")
    p.add_argument("--out", type=Path, default=None, metavar="PATH",
                   help="export folder to create (default: <run>/export-<format>)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (only once the new export "
                                                         "is complete)")
    add_common_arguments(p)
    p.set_defaults(func=_export)
