"""Command line of the ``manifests`` package: validate a data folder, regenerate the column docs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .cliutil import add_common_arguments, add_version_argument, dispatch, run_main
from .errors import UserError
from .io import ManifestError, read_table
from .layout import Layout
from .schema import TABLES


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
    for name, path in targets:
        try:
            rows = read_table(path, TABLES[name], known_genres=genres)
        except ManifestError as exc:
            print(f"FAIL {exc}")
            failures += 1
            continue
        print(f"ok   {path} ({len(rows)} rows, {TABLES[name].tag})")
    if failures:
        raise UserError(f"{failures} of {len(targets)} manifests failed validation (see FAIL lines above)")
    return 0


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
    p = sub.add_parser("docs", help="regenerate manifests/README.md from the schemas")
    add_common_arguments(p)
    p.add_argument("--check", action="store_true", help="fail if README.md is out of date instead of writing")
    p.set_defaults(func=_docs)
    return dispatch(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv)
