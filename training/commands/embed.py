"""``python -m training embed``: pretrained embeddings of every track of the training manifest, cached.

The expensive half of a linear probe, run on its own: ``train --model probe`` computes
whatever is missing too, but a collection of thousands of tracks is better embedded
once (interrupt it any time; the rerun continues) before probes with different
settings are fitted in seconds.  Keras is imported inside the handler.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from manifests.cliutil import add_common_arguments, add_deprecated_alias, number
from manifests.errors import UserError
from manifests.shard import add_shard_argument

from ..config import POOLINGS, ConfigError, ProbeConfig
from ..models.pretrained.registry import pretrained_names
from .options import add_manifest_option

log = logging.getLogger(__name__)


def _embed(args: argparse.Namespace) -> int:
    from manifests.layout import Layout

    from ..data.embeddings import EmbeddingSettings
    from ..data.manifest import read_manifest
    from ..runs.embed import embed_tracks

    probe = ProbeConfig(pretrained=args.pretrained, layer=args.layer, pooling=args.pooling, overlap=args.overlap,
                        max_patches=args.max_patches)
    try:
        probe.validate()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    settings = EmbeddingSettings.of(probe)
    layout = Layout.at(args.data)
    _, rows = read_manifest(layout, args.manifest)
    if not args.shard.everything:
        total = len(rows)
        rows = list(args.shard.select(rows, key=lambda row: str(row["track_id"])))
        if not args.quiet:
            print(f"shard {args.shard}: {len(rows)} of {total} tracks here, the rest on the other shards",
                  file=sys.stderr)
    result = embed_tracks(layout, rows, settings, progress=not args.quiet, batch_size=args.batch_size)
    stats = result.stats
    folder = layout.cache / "embeddings" / settings.key
    if args.json:
        print(json.dumps({"settings": settings.as_json(), "size": int(result.vectors.shape[1]),
                          "folder": str(folder), **stats.as_json()}, indent=2))
        return 0
    line = f"{stats.tracks} tracks ({stats.files} audio files): {stats.computed} embedded now"
    if stats.computed:
        line += (f" ({stats.audio_seconds:.0f} s of audio, {stats.patches} patches, "
                 f"{stats.real_time_factor or 0:.1f}x real time)")
    print(f"{line}, {stats.cached} from the cache")
    print(f"{settings.describe()}: {result.vectors.shape[1]} values per track in {folder}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = ProbeConfig()
    p = subparsers.add_parser(
        "embed", help="pretrained embeddings of every track of the training manifest (cached, resumable)",
        description="Run a pretrained model over every track of the training manifest and cache one pooled "
                    "vector per audio file in <data>/cache/embeddings/<model>-<layer>-<pooling>-... "
                    "(keyed by the file's SHA-256). Interrupted? Run it again: it continues; a rerun on a "
                    "complete cache computes nothing. train --model probe reads the same cache.")
    p.add_argument("--pretrained", choices=pretrained_names(), default=defaults.pretrained,
                   help=f"pretrained model (default: {defaults.pretrained})")
    add_deprecated_alias(p, "--model", "--pretrained")  # --pretrained, as in train --model probe
    p.add_argument("--layer", default=defaults.layer, metavar="NAME",
                   help=f"embedding layer (default: {defaults.layer}; python -m training models lists them)")
    p.add_argument("--pooling", choices=POOLINGS, default=defaults.pooling,
                   help=f"from patch embeddings to one per track (default: {defaults.pooling})")
    p.add_argument("--overlap", type=float, default=defaults.overlap, metavar="F",
                   help=f"share of a patch the next one overlaps (default: {defaults.overlap:g})")
    p.add_argument("--max-patches", type=number(int, 1), default=None, metavar="N",
                   help="at most N evenly spaced patches per track (default: all)")
    p.add_argument("--batch-size", type=number(int, 1), default=None, metavar="N",
                   help="patches per model call (default: 16 on TensorFlow, 32 on JAX: the fastest per patch "
                        "with the least memory, measured by make bench-train)")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    add_shard_argument(p, join="'python -m manifests merge' joins the shards' caches")
    add_manifest_option(p)
    add_common_arguments(p)
    p.set_defaults(func=_embed)
