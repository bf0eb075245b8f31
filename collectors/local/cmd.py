"""``python -m collectors import-audio PATH...``: audio you already have into the data folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from manifests.cliutil import add_common_arguments, add_deprecated_alias, number
from manifests.config import MIN_AUDIO_SECONDS, usable_cores
from manifests.errors import UserError
from manifests.shard import add_shard_argument

from .layouts import LAYOUTS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cores = usable_cores()
    p = subparsers.add_parser(
        "import-audio", help="audio files you already have (folders, tags, a CSV, FMA, GTZAN) into the data folder",
        description="Walk folders (and files), read every audio format ffmpeg decodes, convert each file to "
                    "audio/<track_id>.wav (16 kHz mono PCM16) and write tracks, claims and downloads rows, so "
                    "labels, split, build, audit and train work as for collected tracks. The track ID comes "
                    "from the file's sha256: the same file twice is one track. Genre evidence: the folder "
                    "layout (--layout), embedded tags, --csv, --fma-metadata, --gtzan. Bad files get a failed "
                    "row with the reason; rerun to continue an interrupted import. Every file's outcome: "
                    "DATA/reports/import_audio.csv.")
    add_common_arguments(p)
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="folders or files to import")
    p.add_argument("--layout", choices=LAYOUTS, default="none",
                   help="what the folders under each PATH say: genre (GENRE/file, GTZAN style), "
                        "genre/artist/album, artist/album, or none (default: only tags and lists speak)")
    p.add_argument("--csv", dest="listing", type=Path, default=None, metavar="FILE",
                   help="your list of files: CSV with path,genre[,artist,title,album] (relative paths from the "
                        "CSV's folder; several genres separated by ';'); listed files are imported too")
    p.add_argument("--fma-metadata", type=Path, default=None, metavar="DIR",
                   help="the Free Music Archive's fma_metadata folder (tracks.csv, genres.csv): artist, title, "
                        "album and top-level plus chosen genres of files named by FMA track ID")
    p.add_argument("--gtzan", action="store_true",
                   help="GTZAN: the label is in the file name (blues.00000.au), whatever the folders")
    p.add_argument("--drop-gtzan-faults", action="store_true",
                   help="GTZAN: leave out the known faulty excerpts (repetitions, mislabelings, distortions; "
                        "Sturm 2013, list in collectors/local/gtzan_faults.txt); implies --gtzan")
    p.add_argument("--no-tags", dest="read_tags", action="store_false",
                   help="ignore the tags embedded in the files (title, artist, genre, ...)")
    p.add_argument("--all-files", action="store_true",
                   help="try every file, not only those with an audio extension")
    p.add_argument("--workers", type=number(int, 1), default=cores, metavar="N",
                   help=f"conversion processes (default: cores = {cores})")
    p.add_argument("--clip-seconds", dest="max_seconds", type=number(float, above=0), default=None, metavar="S",
                   help="keep only an excerpt of S seconds of each file, converting only that part (less disk; "
                        "default: all of it); shorter files are kept whole, never padded")
    p.add_argument("--clip-offset", dest="window", choices=("middle", "start"), default="middle",
                   help="with --clip-seconds: take the excerpt from the middle of the file (as FMA and "
                        "MTG-Jamendo do; default) or from its start; downloads.csv records where it starts")
    add_shard_argument(p, "files")
    p.add_argument("--min-seconds", type=number(float, 0, unit="seconds"), default=MIN_AUDIO_SECONDS, metavar="S",
                   help=f"refuse audio shorter than S seconds (default {MIN_AUDIO_SECONDS:g})")
    p.add_argument("--limit", type=number(int, 0), default=None, metavar="N",
                   help="convert at most N files this run")
    p.add_argument("--retry-failed", action="store_true",
                   help="convert again the files an earlier run refused (e.g. after lowering --min-seconds)")
    p.add_argument("--fresh", action="store_true",
                   help="hash and convert every file again, even finished ones")
    add_deprecated_alias(p, "--window", "--clip-offset")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from manifests import Layout

    from .importer import ImportSettings, ImportStage

    try:
        settings = ImportSettings(
            layout=args.layout, listing=args.listing, fma_metadata=args.fma_metadata,
            gtzan=args.gtzan or args.drop_gtzan_faults, drop_gtzan_faults=args.drop_gtzan_faults,
            read_tags=args.read_tags, all_files=args.all_files, max_seconds=args.max_seconds, window=args.window,
            shard=args.shard, min_seconds=args.min_seconds, workers=args.workers, limit=args.limit,
            retry_failed=args.retry_failed,
            fresh=args.fresh, progress=not args.quiet)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    summary = ImportStage(Layout.at(args.data), args.paths, settings).run()
    print("\n".join(summary.lines()))
    return 0
