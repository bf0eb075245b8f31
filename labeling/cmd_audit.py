"""``python -m labeling audit [MANIFEST]``: validate the manifests and write a readable report."""

from __future__ import annotations

import argparse

from manifests.cliutil import add_common_arguments, add_deprecated_alias, number
from manifests.config import MIN_AUDIO_SECONDS, usable_cores
from manifests.errors import UserError

from .cli import add_no_audio_files_argument, add_taxonomy_argument


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "audit", help="validate manifests and write a report with plots and a CSV of flagged rows",
        description="Validate MANIFEST (a training.csv or any table in a manifests folder) and the sibling "
                    "tables beside it, run every check and write DATA/reports/audit/report.md with PNG "
                    "plots, flagged.csv (safe to open in a spreadsheet) and summary.json. Exits 0 when the "
                    "audit ran (findings are in the report), 2 when a manifest is invalid, 1 with --fail-on "
                    "when a finding reaches that severity.")
    add_common_arguments(p)
    p.add_argument("manifest", nargs="?", default=None, metavar="MANIFEST",
                   help="manifest file or folder to audit (default: DATA/manifests)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default: DATA/reports/audit, DATA being the manifests folder's parent)")
    add_taxonomy_argument(p, "taxonomy the labels were made with")
    p.add_argument("--fail-on", choices=("error", "warning"), default=None,
                   help="exit 1 when any finding is at least this severe (for CI)")
    p.add_argument("--warn-match-score", dest="min_score", type=number(float, 0, 1), default=0.7, metavar="S",
                   help="flag YouTube matches scoring below S in [0, 1] as warnings (default 0.7; download "
                        "accepts from --min-match-score 0.65)")
    p.add_argument("--review", type=number(int, 0), default=20, metavar="N",
                   help="list the N lowest match scores for review by hand (default 20)")
    p.add_argument("--duration-tolerance-fraction", dest="duration_tolerance", type=number(float, 0, 1),
                   default=0.15, metavar="F",
                   help="flag decoded audio more than F (fraction) or 10 s away from the catalogue duration "
                        "(default 0.15)")
    p.add_argument("--min-seconds", type=number(float, 0, unit="seconds"), default=MIN_AUDIO_SECONDS, metavar="S",
                   help=f"flag decoded audio shorter than S seconds (default {MIN_AUDIO_SECONDS:g})")
    p.add_argument("--max-seconds", type=number(float, 0, unit='seconds'), default=900.0, metavar="S",
                   help="flag decoded audio longer than S seconds (default 900)")
    p.add_argument("--clip-seconds", dest="trim_seconds", type=number(float, 0, unit="seconds"), default=None,
                   metavar="S", help="audio was clipped to at most S seconds at download (download "
                                     "--clip-seconds; default: detected)")
    p.add_argument("--verify-audio", action="store_true",
                   help="recompute the sha256 of every audio file and compare with the manifest (slow)")
    add_no_audio_files_argument(p)
    add_deprecated_alias(p, "--no-files", "--no-audio-files")
    add_deprecated_alias(p, "--min-score", "--warn-match-score")
    add_deprecated_alias(p, "--duration-tolerance", "--duration-tolerance-fraction")
    add_deprecated_alias(p, "--trim-seconds", "--clip-seconds")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (faster, e.g. in CI)")
    cores = usable_cores()
    p.add_argument("--workers", type=number(int, 1), default=cores, metavar="N",
                   help=f"processes (default: cores = {cores}); a large audit reads some tables and the audio "
                        "files' headers in a second process, 1 keeps everything in this one (more than 2 "
                        "change nothing)")
    p.add_argument("--max-rows", type=number(int, 0), default=50, metavar="N",
                   help="rows per table in report.md; flagged.csv always has all (default 50)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .audit import AuditOptions, run_audit

    if args.min_seconds > args.max_seconds:
        raise UserError(f"--min-seconds {args.min_seconds:g} is above --max-seconds {args.max_seconds:g}")
    options = AuditOptions(min_score=args.min_score, review=args.review, duration_tolerance=args.duration_tolerance,
                           min_seconds=args.min_seconds, max_seconds=args.max_seconds,
                           trim_seconds=args.trim_seconds, check_files=not args.no_audio_files,
                           verify_audio=args.verify_audio, max_rows=args.max_rows,
                           plots=not args.no_plots, workers=args.workers)
    result = run_audit(args.manifest, data=args.data, out_dir=args.out, taxonomy=args.taxonomy, options=options)
    if not args.quiet:
        for check, n in sorted(result.by_check().items()):
            severity = next(f.severity for f in result.findings if f.check == check)
            print(f"  {severity:<7} {check:<24} {n}")
    c = result.counts
    print(f"audit: {c['error']} errors, {c['warning']} warnings, {c['info']} notes; report {result.report}; "
          f"flagged rows {result.flagged}")
    if result.fails(args.fail_on):
        print(f"failing: findings at or above {args.fail_on} (--fail-on {args.fail_on})")
        return 1
    return 0
