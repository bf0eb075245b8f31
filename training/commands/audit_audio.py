"""``python -m training audit-audio``: which tracks' audio disagrees with their labels (for ``labeling audit``).

Keras and scikit-learn are imported inside the handler; see :mod:`training.runs.audit_audio`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from manifests.cliutil import add_common_arguments, number
from manifests.errors import UserError

from ..config import TASKS, ConfigError, ProbeConfig
from ..models.pretrained.registry import pretrained_names
from .options import add_manifest_option

log = logging.getLogger(__name__)

#: rows shown on screen (the CSV has them all)
SHOWN = 15


def _handle(args: argparse.Namespace) -> int:
    from manifests.layout import Layout

    from ..runs.audit_audio import AudioAuditSettings, audit_audio

    probe = ProbeConfig(pretrained=args.pretrained, layer=args.layer, max_patches=args.max_patches)
    try:
        probe.validate()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    settings = AudioAuditSettings(task=args.task, label_threshold=args.label_threshold, folds=args.folds,
                                  min_tracks=args.min_tracks, seed=args.seed, probe=probe)
    layout = Layout.at(args.data)
    result = audit_audio(layout, settings, manifest=args.manifest, out=args.out, progress=not args.quiet)
    if args.json:
        print(json.dumps({"csv": str(result.path), "tracks": result.n_tracks, "flagged": result.n_flagged,
                          "folds": result.folds, "labels": result.labels, "left_out": result.skipped,
                          "seconds": round(result.seconds, 1), "rows": result.rows}, indent=2, ensure_ascii=False))
        return 0
    print(f"{result.n_flagged} of {result.n_tracks} tracks sound unlike their labels "
          f"({result.folds} artist-grouped folds, {len(result.labels)} genres)")
    for row in result.rows[:SHOWN]:
        print(f"{row['rank']:>4}  {row['track_id']}  {row['artist']} - {row['title']}: labelled {row['labels']} "
              f"({row['given_score']:.2f}), sounds like {row['suspected_genre']} ({row['suspected_score']:.2f})")
    if result.n_flagged > SHOWN:
        print(f"      ... and {result.n_flagged - SHOWN} more")
    print(f"{result.path}  (python -m labeling audit lists them in its report and flagged.csv)")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = ProbeConfig()
    p = subparsers.add_parser(
        "audit-audio", help="flag tracks whose audio disagrees with their labels (probe + cleanlab)",
        description="Predict every track's genres with the linear probe on cached pretrained embeddings, "
                    "fitted on artist-grouped folds that never hold the track's own artist, and flag the "
                    "tracks whose labels the predictions doubt (cleanlab's find_label_issues; multi-label "
                    "with --task multi). Writes <data>/reports/audit/audio_disagreement.csv, which "
                    "'python -m labeling audit' lists in its report and flagged.csv.")
    p.add_argument("--task", choices=TASKS, default="single",
                   help="single: the top genre is the label; multi: every genre weighted >= --label-threshold "
                        "(default: single)")
    p.add_argument("--label-threshold", type=number(float, maximum=1.0, above=0.0), default=0.5, metavar="W",
                   help="multi-label: genre weight that makes a given label (default: 0.5)")
    p.add_argument("--folds", type=number(int, 2), default=5, metavar="K",
                   help="artist-grouped folds (default: 5)")
    p.add_argument("--min-tracks", type=number(int, 2), default=5, metavar="N",
                   help="leave out genres with fewer tracks (default: 5)")
    p.add_argument("--pretrained", choices=pretrained_names(), default=defaults.pretrained,
                   help=f"pretrained model of the embeddings (default: {defaults.pretrained})")
    p.add_argument("--layer", default=defaults.layer, metavar="NAME",
                   help=f"its embedding layer (default: {defaults.layer})")
    p.add_argument("--max-patches", type=number(int, 1), default=None, metavar="N",
                   help="at most N evenly spaced patches per track (default: all)")
    p.add_argument("--seed", type=int, default=1234, metavar="N", help="fold assignment seed (default: 1234)")
    p.add_argument("--out", type=Path, metavar="CSV", help="write here instead of <data>/reports/audit/")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_manifest_option(p)
    add_common_arguments(p)
    p.set_defaults(func=_handle)
