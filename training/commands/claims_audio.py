"""``python -m training claims-audio``: the tagger's genre tags as low-trust ``audio`` claims for unknown tracks.

Keras is imported inside the handler; see :mod:`training.runs.claims_audio`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from manifests.cliutil import add_common_arguments, number

from ..models.pretrained.registry import pretrained_names

log = logging.getLogger(__name__)


def _handle(args: argparse.Namespace) -> int:
    from labeling.taxonomy import load_taxonomy
    from manifests.layout import Layout

    from ..runs.claims_audio import AudioClaimsSettings, claim_audio

    taxonomy = load_taxonomy(args.taxonomy)
    settings = AudioClaimsSettings(pretrained=tuple(args.pretrained or AudioClaimsSettings.pretrained), top=args.top, min_score=args.min_score,
                                   max_patches=args.max_patches, all_tracks=args.all)
    result = claim_audio(Layout.at(args.data), taxonomy, settings, progress=not args.quiet)
    if args.json:
        print(json.dumps({"tracks": result.tracks, "tracks_with_claims": result.claimed, "claims": result.claims,
                          "missing_audio": result.missing_audio, "claims_table": str(result.path)}, indent=2))
        return 0
    print(f"{result.tracks} track(s) tagged: {result.claimed} got {result.claims} audio claim(s) in {result.path}"
          + (f"; {result.missing_audio} skipped (audio missing)" if result.missing_audio else ""))
    print("labeling resolve ignores them until enabled: --source-weight audio=0.2")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "claims-audio", help="genre claims (source 'audio', off in resolve by default) from a pretrained tagger",
        description="Tag every downloaded track that no other source knows (no claim that maps to a genre; "
                    "--all: every track) with a pretrained tagger and write its strongest genre tags that the "
                    "taxonomy maps as claims with source 'audio' into manifests/claims.csv. labeling resolve "
                    "gives 'audio' a trust of 0 unless enabled with --source-weight audio=W. Interrupted? Run "
                    "it again: the taggrams are cached per audio file.")
    p.add_argument("--pretrained", choices=pretrained_names(), action="append", metavar="MODEL",
                   help="a tagger (repeatable; default: musicnn-MSD and musicnn-MTT: MSD knows popular genres, "
                        "MTT classical)")
    p.add_argument("--top", type=number(int, 1), default=3, metavar="N",
                   help="at most N genre claims per track and tagger (default: 3)")
    p.add_argument("--min-score", type=number(float, 0.0, 1.0), default=0.1, metavar="P",
                   help="a tag's mean probability must reach P (default: 0.1)")
    p.add_argument("--max-patches", type=number(int, 1), default=10, metavar="N",
                   help="evenly spaced 3-s patches tagged per track (default: 10)")
    p.add_argument("--all", action="store_true", help="tag every downloaded track, not only unknown ones")
    p.add_argument("--taxonomy", type=Path, metavar="FILE", help="taxonomy file (default: the packaged one)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_common_arguments(p)
    p.set_defaults(func=_handle)
