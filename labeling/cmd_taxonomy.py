"""``python -m labeling taxonomy map|check|tree``: test and inspect a genre taxonomy."""

from __future__ import annotations

import argparse
import sys

from manifests.cliutil import add_common_arguments, add_version_argument

from .cli import add_taxonomy_argument


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("taxonomy", help="test and inspect the genre taxonomy",
                              description="Show how raw genre strings map, validate a taxonomy file, "
                                          "print the genre tree.")
    add_version_argument(p)
    sub = p.add_subparsers(dest="taxonomy_command", required=True, metavar="ACTION")

    m = sub.add_parser("map", help="show what raw genre strings map to and which rule decided",
                       description='Example: python -m labeling taxonomy map "Hip-Hop" "liquid dnb" "seen live"')
    add_common_arguments(m)
    add_taxonomy_argument(m)
    m.add_argument("raw", nargs="+", metavar="RAW", help="raw genre strings as a source would give them")
    m.add_argument("--strict", action="store_true", help="exit 1 when any string stays unmapped")
    m.set_defaults(func=run_map)

    c = sub.add_parser("check", help="validate a taxonomy file and run its [examples]",
                       description="Exit 0 when the file is valid and every example maps as expected.")
    add_common_arguments(c)
    c.add_argument("file", nargs="?", default=None, metavar="FILE",
                   help="taxonomy file (default: $GENRE_TAXONOMY or the packaged one)")
    c.set_defaults(func=run_check)

    t = sub.add_parser("tree", help="print the genre tree (or one branch)")
    add_common_arguments(t)
    add_taxonomy_argument(t)
    t.add_argument("genre", nargs="?", default=None, help="print only this genre's branch")
    t.set_defaults(func=run_tree)


def run_map(args: argparse.Namespace) -> int:
    from .taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.taxonomy)
    width = max(len(repr(raw)) for raw in args.raw)
    unmapped = 0
    for raw in args.raw:
        got = taxonomy.explain(raw)
        if got.genre is None:
            unmapped += 1
            print(f"{raw!r:<{width}}  -> (unmapped)   normalised {got.normalised!r}: {got.detail}")
        else:
            how = f"{got.step} {got.detail}".strip()
            path = " < ".join([got.genre, *taxonomy.ancestors(got.genre)])
            print(f"{raw!r:<{width}}  -> {got.genre}   [{how}]   {path}")
    return 1 if args.strict and unmapped else 0


def run_check(args: argparse.Namespace) -> int:
    from .taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.file)
    problems = taxonomy.check_examples()
    for problem in problems:
        print(f"error: {taxonomy.source}: examples: {problem}", file=sys.stderr)
    depth = max(taxonomy.depth(g) for g in taxonomy.genres)
    print(f"{taxonomy.source}: {len(taxonomy.genres)} genres ({len(taxonomy.roots)} top-level, depth {depth}), "
          f"{len(taxonomy.aliases)} aliases, {len(taxonomy.rules)} rules, "
          f"{len(taxonomy.examples) - len(problems)}/{len(taxonomy.examples)} examples ok")
    return 1 if problems else 0


def run_tree(args: argparse.Namespace) -> int:
    from manifests.errors import UserError

    from .taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.taxonomy)
    if args.genre is not None and args.genre not in taxonomy.genres:
        mapped = taxonomy.map(args.genre)
        if mapped is None:
            raise UserError(f"{args.genre!r} is not a genre of {taxonomy.source}")
        args.genre = mapped

    def walk(genre: str, indent: int) -> None:
        print("  " * indent + genre)
        for child in taxonomy.children(genre):
            walk(child, indent + 1)

    for top in [args.genre] if args.genre else taxonomy.roots:
        walk(top, 0)
    return 0
