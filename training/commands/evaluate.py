"""Sub-commands ``evaluate``, ``baseline``, ``report`` and ``predict`` of ``python -m training``.

Heavy imports (Keras, scikit-learn, librosa, matplotlib) stay inside the handlers so
``python -m training --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from manifests import Layout
from manifests.cliutil import add_common_arguments, number
from manifests.config import usable_cores
from manifests.errors import UserError
from manifests.shard import add_shard_argument

from ..runs.rundir import JSONObject, RunDir
from .options import add_manifest_option, add_run_argument

log = logging.getLogger(__name__)


def _evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.evaluate import evaluate_run

    layout = Layout.at(args.data)
    run = RunDir.resolve(args.run, layout)
    with run.lock("training evaluate"):
        result = evaluate_run(run, layout, split=args.split, baseline=not args.no_baseline, n_crops=args.crops,
                              manifest=args.manifest)
    song = result["song"]
    key = "accuracy" if result["task"] == "single" else "subset_accuracy"
    line = (f"{result['split']} split, {result['n_tracks']} tracks: song-level {key} {song[key]:.3f}, "
            f"macro-F1 {song['macro_f1'] if song['macro_f1'] is not None else float('nan'):.3f}")
    if result.get("crop"):  # a probe has one embedding per track: no crop level
        line += f", crop-level {key} {result['crop'][key]:.3f}"
    base = (result.get("baseline") or {}).get("song")
    if base:
        line += f"; MFCC baseline {key} {base[key]:.3f}"
    print(line)
    print(f"report: {run.report_file}")
    _check_expectations(result, args.expect_accuracy, args.expect_margin)
    return 0


def _check_expectations(result: JSONObject, accuracy: float | None, margin: float | None) -> None:
    """Turn a quality bar (e.g. the demo's 0.85 and +10 points) into a failing exit status."""
    key = "accuracy" if result["task"] == "single" else "subset_accuracy"
    value = result["song"][key]
    if accuracy is not None and (value is None or value < accuracy):
        raise UserError(f"{result['run']}: song-level {key} {value} is below the expected {accuracy:g}")
    if margin is not None:
        row = next((r for r in result.get("comparison") or [] if r["metric"] == key), None)
        if row is None or row["difference_points"] is None:
            raise UserError(f"{result['run']}: --expect-margin needs the baseline (drop --no-baseline)")
        if row["difference_points"] < margin:
            model = "probe" if result.get("model") == "probe" else "CNN"
            raise UserError(f"{result['run']}: the {model} beats the MFCC baseline by "
                            f"{row['difference_points']:+.1f} points of {key}, expected at least {margin:+g}")


def _baseline(args: argparse.Namespace) -> int:
    from ..evaluation.evaluate import update_baseline

    layout = Layout.at(args.data)
    run = RunDir.resolve(args.run, layout)
    with run.lock("training baseline"):
        section = update_baseline(run, layout, split=args.split, manifest=args.manifest)
    song = section["song"]
    key = "accuracy" if "accuracy" in song else "subset_accuracy"
    print(f"MFCC baseline on {song['n']} tracks: {key} {song[key]:.3f}, macro-F1 "
          f"{song['macro_f1'] if song['macro_f1'] is not None else float('nan'):.3f}")
    target = run.report_file if run.has_metrics else run.baseline_file
    print(f"written: {target}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from ..evaluation.report import write_report

    run = RunDir.resolve(args.run, Layout.at(args.data))
    with run.lock("training report"):
        path = write_report(run)
    print(f"report: {path}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..runs.predict import run_predict

    layout = Layout.at(args.data)
    if args.run:
        run = RunDir.resolve(args.run, layout)
    else:
        run = RunDir.newest(layout)
        log.info("using the newest run: %s", run)
    return run_predict(args.files, run, top_k=args.top, as_json=args.json, out_file=args.out,
                       out_format=args.format, shard=args.shard, workers=args.workers, progress=not args.quiet)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a trained run on the artist-disjoint test split, with the MFCC baseline",
        description="Song-level (mean over evenly spaced crops) and crop-level metrics of a run on the "
                    "test split of the training manifest, next to an MFCC + logistic regression baseline. "
                    "Writes metrics.json, predictions.csv, plots and report.md into the run folder. "
                    "Refuses a split that shares an artist with train or validation.")
    add_run_argument(p)
    p.add_argument("--split", default="test", choices=("test", "validation"), help="split to score (default: test)")
    p.add_argument("--crops", type=number(int, 1), default=None, metavar="N",
                   help="crops per song (default: the model's own setting, evenly spaced over the track; "
                        "CNN runs only)")
    p.add_argument("--no-baseline", action="store_true", help="skip the MFCC baseline")
    add_manifest_option(p)
    p.add_argument("--expect-accuracy", type=float, default=None, metavar="A",
                   help="exit with an error (after writing everything) when song-level accuracy is below A")
    p.add_argument("--expect-margin", type=float, default=None, metavar="POINTS",
                   help="exit with an error when the model beats the baseline by fewer accuracy points")
    add_common_arguments(p)
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser(
        "baseline", help="fit and score only the MFCC + logistic regression baseline of a run",
        description="MFCC statistics (mean and std of 20 MFCCs and deltas) + standardised logistic "
                    "regression, trained on the train split and scored on the same split as `evaluate`, "
                    "with the run's label list. Features are cached per audio SHA-256 in <data>/cache.")
    add_run_argument(p)
    p.add_argument("--split", default=None, choices=("test", "validation"),
                   help="split to score (default: the one metrics.json was made on, else test)")
    add_manifest_option(p)
    add_common_arguments(p)
    p.set_defaults(func=_baseline)

    p = subparsers.add_parser(
        "report", help="redraw report.md and the plots of a run from its saved metrics",
        description="Rebuild report.md, confusion.png, curves.png and f1-per-genre.png from metrics.json "
                    "and history.csv, without loading the model or audio.")
    add_run_argument(p)
    add_common_arguments(p)
    p.set_defaults(func=_report)

    cores = usable_cores()
    p = subparsers.add_parser(
        "predict", help="top genres of audio files and folders (any format ffmpeg reads), on screen or into a file",
        description="Decode each file with the toolkit's ffmpeg at the model's sample rate, average the "
                    "model over evenly spaced crops covering the whole file and print the top genres. "
                    "Folders are searched recursively for audio files. A missing or undecodable file gets a "
                    "one-line error; the others are still predicted and the exit status is 2. A file that "
                    "decodes to much less than its header says (truncated) is predicted with a one-line "
                    "warning. Files longer than 10 minutes are heard through at most 256 evenly spaced "
                    "crops (memory stays bounded). With --out, one row per file is written as it goes (CSV "
                    "or JSON lines) and rerunning the same command skips the files already there.")
    p.add_argument("files", nargs="+", metavar="PATH",
                   help="audio files (wav, mp3, ogg, flac, m4a, ...) or folders of them")
    p.add_argument("--run", default=None, metavar="RUN_DIR",
                   help="run folder or name (default: the newest trained run under <data>/runs)")
    p.add_argument("--top", type=number(int, 1), default=3, metavar="K", help="genres to show per file (default: 3)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write one row per file into FILE (.csv or .jsonl), flushed as it goes; rerunning "
                        "with the same FILE skips the files already in it")
    p.add_argument("--format", choices=("csv", "jsonl"), default=None,
                   help="format of --out (default: from its extension)")
    p.add_argument("--workers", type=number(int, 1), default=cores, metavar="N",
                   help=f"decoding processes (default: cores = {cores})")
    add_shard_argument(p, "files", by="the file's path as shown", join="each writes its own --out")
    add_common_arguments(p)
    p.set_defaults(func=_predict)
