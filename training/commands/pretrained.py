"""Sub-commands ``models`` and ``tag`` of ``python -m training``: the pretrained models the toolkit ships.

``models`` lists the registry (no framework is started, so it is instant); ``tag``
runs the musicnn taggers on audio files, with no training and no data folder: the
quickest way to hear what a pretrained network makes of a song.  Keras, the weights
and matplotlib are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from manifests.cliutil import add_common_arguments, add_deprecated_alias, number
from manifests.errors import UserError

from ..models.pretrained.registry import PRETRAINED, PretrainedSpec, get_pretrained

log = logging.getLogger(__name__)

#: The taggers ``tag`` runs unless ``--pretrained`` says otherwise.
DEFAULT_TAGGERS = ("musicnn-MTT", "musicnn-MSD")


def _size(spec: PretrainedSpec) -> str:
    size = spec.size_on_disk()
    return "missing" if size is None else f"{size / 1e6:.1f} MB"


def _models(args: argparse.Namespace) -> int:
    specs = list(PRETRAINED.values())
    if args.json:
        print(json.dumps({"models": [s.as_json() for s in specs]}, indent=2, ensure_ascii=False))
        return 0
    for spec in specs:
        print(f"{spec.name}  ({spec.architecture}, {spec.licence} licence, {_size(spec)})")
        print(f"  {spec.description}")
        print(f"  source:     {spec.source}  <{spec.url}>")
        print(f"  inputs:     {spec.spectrogram.describe()}")
        print(f"  outputs:    {spec.outputs()}")
        layers = ", ".join(f"{name} {size}" for name, size in spec.embedding_layers)
        print(f"  embedding:  {spec.embedding_layer} ({spec.embedding_size} values); layers: {layers}")
        print(f"  weights:    {spec.weights_path}" + ("" if spec.size_on_disk() is not None else "  (missing)"))
        print(f"  credit:     {spec.attribution}")
        print()
    return 0


def format_tags(result: Any, models: list[str], top_k: int) -> str:
    """One block per file: duration and patches, then a line of top tags per model."""
    first = models[0]
    count = result.n_patches(first)
    lines = [f"{result.file}  ({result.duration_s:.1f} s, {count} patch{'es' if count != 1 else ''} of "
             f"{result.patch_seconds[first]:.2f} s)"]
    if result.warning:
        lines.append(f"  warning: {result.warning}")
    width = max(len(name) for name in models)
    for name in models:
        tags = " · ".join(f"{tag} {prob:.2f}" for tag, prob in result.top(name, top_k))
        lines.append(f"  {name:<{width}}  {tags}")
    return "\n".join(lines)


def result_json(result: Any, models: list[str], top_k: int) -> dict[str, Any]:
    return {"file": result.file, "duration_s": round(result.duration_s, 3), "padded": result.padded,
            "warning": result.warning,
            "models": {name: {"n_patches": result.n_patches(name),
                              "patch_seconds": round(result.patch_seconds[name], 4),
                              "top": [{"tag": t, "probability": round(p, 4)} for t, p in result.top(name, top_k)],
                              "mean": {t: round(float(p), 6) for t, p in
                                       zip(result.labels[name], result.mean(name), strict=True)}}
                       for name in models}}


def plot_taggram(result: Any, models: list[str], path: Path) -> Path:
    """A PNG of each model's taggram over time (tags down, seconds across), one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = [max(2.0, 0.14 * len(result.labels[name])) for name in models]
    fig, axes = plt.subplots(len(models), 1, figsize=(11, sum(heights) + 1.0), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    try:
        for ax, name in zip(axes[:, 0], models, strict=True):
            taggram = result.taggrams[name]
            labels = result.labels[name]
            end = taggram.shape[0] * result.patch_seconds[name]
            image = ax.imshow(taggram.T, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0.0,
                              vmax=1.0, extent=(0.0, end, len(labels) - 0.5, -0.5))
            ax.set_yticks(range(len(labels)), labels, fontsize=6)
            ax.set_ylabel(name)
            fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
        axes[-1, 0].set_xlabel("time (s)")
        axes[0, 0].set_title(f"{Path(result.file).name}: taggram", fontsize=10)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _plot_path(folder: Path, file: Path, used: set[Path]) -> Path:
    path = folder / f"{file.stem}.taggram.png"
    n = 1
    while path in used:
        n += 1
        path = folder / f"{file.stem}.{n}.taggram.png"
    used.add(path)
    return path


def run_tag(files: list[str], model_names: list[str], *, top_k: int = 5, as_json: bool = False,
            plot_dir: Path | None = None, batch_size: int = 8, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
    """Tag every file; a table (or JSON) on ``out``; 0 when all worked, 2 when any file failed."""
    from ..models.pretrained.tagger import load_pretrained, tag_file

    out = out or sys.stdout
    err = err or sys.stderr
    specs = [get_pretrained(name) for name in dict.fromkeys(model_names)]
    for spec in specs:
        spec.check_weights()  # every missing file named before any audio is decoded
    models = [load_pretrained(spec) for spec in specs]
    names = [m.name for m in models]
    results: list[Any] = []
    errors: list[dict[str, str]] = []
    used: set[Path] = set()
    for name in files:
        path = Path(name)
        try:
            result = tag_file(models, path, batch_size=batch_size)
        except UserError as exc:
            errors.append({"file": str(path), "error": str(exc)})
            print(f"error: {exc}", file=err, flush=True)
            continue
        results.append(result)
        if result.warning:
            print(f"warning: {path}: {result.warning}", file=err, flush=True)
        if not as_json:
            print(format_tags(result, names, top_k), file=out, flush=True)
        if plot_dir is not None:
            written = plot_taggram(result, names, _plot_path(plot_dir, path, used))
            if not as_json:
                print(f"  taggram: {written}", file=out, flush=True)
        if not as_json:
            print(file=out)
    if as_json:
        payload = {"models": [{"name": m.name, "labels": list(m.labels), "sample_rate": m.sample_rate}
                              for m in models],
                   "results": [result_json(r, names, top_k) for r in results], "errors": errors}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out, flush=True)
    return 2 if errors else 0


def _tag(args: argparse.Namespace) -> int:
    return run_tag(args.files, args.pretrained or list(DEFAULT_TAGGERS), top_k=args.top, as_json=args.json,
                   plot_dir=args.plot, batch_size=args.batch)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "models", help="list the pretrained models the toolkit ships (source, licence, inputs, outputs)",
        description="The registry of pretrained models: name, source, licence, the audio each takes, its "
                    "outputs, its embedding layers and sizes, and its weight file and size on disk.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    add_common_arguments(p)
    p.set_defaults(func=_models)

    p = subparsers.add_parser(
        "tag", help="top tags of audio files from the pretrained musicnn taggers (MTT and MSD)",
        description="Decode each file with the toolkit's ffmpeg at the model's sample rate, stream it "
                    "through the taggers in 3-second patches (bounded memory, whatever the length) and "
                    "print the tags with the highest mean probability over the patches. A file shorter "
                    "than one patch is padded with silence and flagged; a missing or undecodable file "
                    "gets a one-line error, the others are still tagged and the exit status is 2.")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, mp3, ogg, flac, m4a, ...)")
    p.add_argument("--pretrained", action="append", choices=list(PRETRAINED), default=None, metavar="NAME",
                   help=f"tagger to run, repeatable (default: {' and '.join(DEFAULT_TAGGERS)}; "
                        f"see `python -m training models`)")
    add_deprecated_alias(p, "--model", "--pretrained")  # --pretrained, as in claims-audio
    p.add_argument("--top", type=number(int, 1), default=5, metavar="K", help="tags to show per model (default: 5)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    p.add_argument("--plot", type=Path, default=None, metavar="DIR",
                   help="write each file's taggram over time as DIR/<file>.taggram.png")
    p.add_argument("--batch", type=number(int, 1), default=8, metavar="N",
                   help="patches per model call (default: 8; memory grows with it)")
    add_common_arguments(p)
    p.set_defaults(func=_tag)
