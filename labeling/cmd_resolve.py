"""``python -m labeling resolve``: claims -> labels table (see labeling/README.md)."""

from __future__ import annotations

import argparse

from manifests.cliutil import add_common_arguments

from .cli import add_taxonomy_argument
from .resolve import DEFAULT_MARGIN


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "resolve", help="combine the sources' genre claims into weighted labels",
        description="Map every claim's raw genre through the taxonomy, combine the sources per track "
                    "(trust-weighted), apply overrides.csv and write manifests/labels.csv.")
    add_common_arguments(p)
    add_taxonomy_argument(p)
    p.add_argument("--sources", metavar="FILE", default=None,
                   help="source trust weights JSON (default: labeling/data/sources.json)")
    p.add_argument("--source-weight", metavar="SOURCE=W", action="append", default=[],
                   help="override one source's trust, e.g. --source-weight rym=0.9 (repeatable; 0 ignores it)")
    roll = p.add_mutually_exclusive_group()
    roll.add_argument("--targets", metavar="GENRES", default=None,
                      help='roll every genre up to the nearest of these, e.g. "rock,jazz,hip hop" (default: no roll-up)')
    roll.add_argument("--level", type=int, default=None, metavar="N",
                      help="roll every genre up to tree depth N (0 = top-level genres)")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="M",
                   help=f"top two genres closer than M make a track ambiguous (default {DEFAULT_MARGIN})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from manifests.layout import Layout

    from .resolve import load_source_weights, parse_source_weights, parse_targets, run_resolve
    from .taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.taxonomy)
    trust = load_source_weights(args.sources)
    trust.update(parse_source_weights(args.source_weight))
    targets = parse_targets(taxonomy, args.targets, args.level)
    summary = run_resolve(Layout.at(args.data), taxonomy, trust, targets=targets, margin=args.margin)
    print(summary.format())
    return 0
