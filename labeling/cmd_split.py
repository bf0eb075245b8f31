"""``python -m labeling split``: artist-disjoint, genre-stratified train/validation/test splits."""

from __future__ import annotations

import argparse

from manifests.cliutil import add_common_arguments


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "split", help="assign tracks to train/validation/test with no artist or recording in two splits",
        description="Group tracks that share any artist or recording, assign whole groups to splits "
                    "stratified over genres, write DATA/manifests/splits.csv and DATA/reports/splits.md.")
    add_common_arguments(p)
    p.add_argument("--ratios", default="0.7,0.15,0.15", metavar="TRAIN,VAL,TEST",
                   help="shares of train, validation and test (normalised to sum 1; default 0.7,0.15,0.15)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed; the same seed and input give the same file (default 42)")
    p.add_argument("--fresh", action="store_true",
                   help="split every track anew; by default an existing splits.csv with the same seed is "
                        "continued: its tracks stay in their split and only new tracks are balanced")
    p.add_argument("--no-artists", choices=("track", "album", "exclude"), default="track",
                   help="tracks without a known artist (GTZAN, untagged files) cannot be kept artist-disjoint: "
                        "place them one by one (track, default), keep each album together (album), or leave them "
                        "out (exclude); the first two warn that test accuracy may be optimistic")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from manifests.layout import Layout

    from .splits import DEFAULT_SEED, parse_ratios, run_split

    layout = Layout.at(args.data)
    ratios = parse_ratios(args.ratios)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    result = run_split(layout, ratios=ratios, seed=seed, fresh=args.fresh, no_artists=args.no_artists)
    if not args.quiet:
        print(result.table_text())
        print()
    counts = result.counts
    print(f"wrote {layout.table_path('splits')}: " + ", ".join(f"{s} {n}" for s, n in counts.items())
          + f" tracks in {len(result.groups)} artist groups (seed {seed}); largest genre deviation "
          f"{result.max_abs_deviation * 100:.1f} points; report {layout.reports / 'splits.md'}")
    if result.continuity():
        print(result.continuity() + " (--fresh to split everything anew)")
    return 0
