"""Command line of the ``manifests`` package: validate a data folder, regenerate the column docs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from .cliutil import add_common_arguments, add_version_argument, dispatch, run_main
from .errors import UserError
from .io import ManifestError, read_columns
from .layout import Layout
from .schema import TABLES

#: Below this many bytes of tables, starting worker processes costs more than it saves.
PARALLEL_FROM_BYTES = 4 << 20


def _validate(args: argparse.Namespace) -> int:
    """Validate every table present in the data folder (or the files named)."""
    layout = Layout.at(args.data)
    genres = None
    if args.genres:
        genres = {g.strip() for g in Path(args.genres).read_text(encoding="utf-8").splitlines() if g.strip()}
    targets: list[tuple[str, Path]] = []
    if args.files:
        for name in args.files:
            path = Path(name)
            table = args.table or path.stem
            if table not in TABLES:
                raise UserError(f"{path}: cannot tell which table this is; pass --table "
                                f"({', '.join(TABLES)})")
            targets.append((table, path))
    else:
        targets = [(name, layout.table_path(name)) for name in TABLES if layout.table_path(name).exists()]
        if not targets:
            raise UserError(f"{layout.manifests}: no manifests found (run a stage first, or pass --data)")
    failures = 0
    for (name, path), (rows, problem) in zip(targets, _check_all(targets, genres), strict=True):
        if problem is not None:
            print(f"FAIL {problem}")
            failures += 1
            continue
        print(f"ok   {path} ({rows} rows, {TABLES[name].tag})")
    if failures:
        raise UserError(f"{failures} of {len(targets)} manifests failed validation (see FAIL lines above)")
    return 0


def _merge(args: argparse.Namespace) -> int:
    """Merge shard data folders into ``--data`` while holding its writer lock."""
    from .lock import data_folder_lock
    from .merge import merge_folders, summary_lines

    out = Layout.at(args.data).root
    with data_folder_lock(out, "manifests merge", wait=args.wait):
        result = merge_folders(args.folders, out, prefer=args.prefer, link=args.link, progress=not args.quiet)
    for line in summary_lines(result, out):
        print(line)
    return 0


def _check_one(name: str, path: Path, genres: set[str] | None) -> tuple[int, str | None]:
    """(rows, None) for a valid table, (0, the one-line problem) for an invalid one."""
    try:
        columns = read_columns(path, TABLES[name], known_genres=genres)  # no dict per row: only checking
        return len(columns[TABLES[name].columns[0].name]), None
    except ManifestError as exc:
        return 0, str(exc)


def _check_all(targets: list[tuple[str, Path]], genres: set[str] | None) -> list[tuple[int, str | None]]:
    """Check every table, several at once on a machine with several cores (results in ``targets`` order)."""
    workers = min(len(targets), os.cpu_count() or 1)
    big = sum(path.stat().st_size for _, path in targets if path.exists()) > PARALLEL_FROM_BYTES
    if workers < 2 or not big:
        return [_check_one(name, path, genres) for name, path in targets]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_check_one, name, path, genres) for name, path in targets]
        return [future.result() for future in futures]


def _docs(args: argparse.Namespace) -> int:
    from .docs import README, render_readme, write_readme

    if args.check:
        current = README.read_text(encoding="utf-8") if README.exists() else ""
        if current != render_readme():
            raise UserError(f"{README} is out of date with manifests/schema.py; run `python -m manifests docs`")
        print(f"{README} is up to date")
        return 0
    print(f"wrote {write_readme()}")
    return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m manifests",
                                     description="Check manifests against their schemas; document the columns.")
    add_version_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", help="validate the manifests of a data folder, or given files")
    add_common_arguments(p)
    p.add_argument("files", nargs="*", help="CSV files to check (default: every table in DATA/manifests)")
    p.add_argument("--table", choices=sorted(TABLES), help="table of the files given (default: file name)")
    p.add_argument("--genres", metavar="FILE", help="file with one canonical genre per line to check against")
    p.set_defaults(func=_validate)
    p = sub.add_parser("merge", help="merge the tables and audio of several data folders (e.g. --shard runs) into --data",
                       description="Rows with the same key are one row; rows with the same key and different content "
                                   "are conflicts: listed with both folders, and nothing is written unless --prefer "
                                   "says which wins. Audio files are copied (or hard-linked) into DATA/audio with "
                                   "their sha256 checked; a rerun skips what is already there.")
    add_common_arguments(p)
    p.add_argument("folders", nargs="+", metavar="SHARD_DIR", help="data folders to merge into --data")
    p.add_argument("--prefer", choices=("first", "newest"), default=None,
                   help="on a conflict keep the row of the folder named first, or the newest row "
                        "(default: refuse and write nothing)")
    p.add_argument("--link", action="store_true",
                   help="hard-link audio files instead of copying them (one file system; falls back to copying)")
    p.add_argument("--wait", action="store_true",
                   help="when another command is writing into the data folder, wait for it instead of stopping")
    p.set_defaults(func=_merge)
    p = sub.add_parser("docs", help="regenerate manifests/README.md from the schemas")
    add_common_arguments(p)
    p.add_argument("--check", action="store_true", help="fail if README.md is out of date instead of writing")
    p.set_defaults(func=_docs)
    return dispatch(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
