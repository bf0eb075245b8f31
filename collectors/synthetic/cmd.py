"""``python -m collectors corpus``: write the offline synthetic corpus (audio plus manifests)."""

from __future__ import annotations

import argparse
import logging

from manifests.cliutil import add_common_arguments, add_deprecated_alias
from manifests.config import usable_cores
from manifests.errors import UserError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .corpus import (
        DEFAULT_ARTISTS_PER_GENRE,
        DEFAULT_BLEND,
        DEFAULT_SECONDS,
        DEFAULT_SEED,
        DEFAULT_TRACKS_PER_GENRE,
    )
    from .genres import GENRES

    p = subparsers.add_parser(
        "corpus", help="write the offline synthetic corpus (16 kHz WAVs + manifests, no network)",
        description="Generate procedural music in nine genres by synthetic artists and write it like a real "
                    "collection: audio/<track_id>.wav plus the tracks, claims, playlists and downloads "
                    "manifests. Deterministic from --seed; a rerun keeps finished files.")
    add_common_arguments(p)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--tracks-per-genre", type=int, default=DEFAULT_TRACKS_PER_GENRE, metavar="N",
                   help=f"tracks per genre (default {DEFAULT_TRACKS_PER_GENRE})")
    p.add_argument("--artists-per-genre", type=int, default=DEFAULT_ARTISTS_PER_GENRE, metavar="N",
                   help=f"artists per genre, each with at least 2 tracks (default {DEFAULT_ARTISTS_PER_GENRE})")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, metavar="S",
                   help=f"typical track length; each track lasts 0.8 to 1.2 times this (default {DEFAULT_SECONDS:g})")
    p.add_argument("--blend", type=float, default=DEFAULT_BLEND, metavar="SHARE",
                   help=f"share of tracks that blend a second genre (default {DEFAULT_BLEND:g})")
    p.add_argument("--genres", default=None, metavar="LIST",
                   help=f"comma-separated subset of: {', '.join(GENRES)} (default: all)")
    p.add_argument("--workers", type=int, default=min(2, usable_cores()), metavar="N",
                   help="processes rendering audio (default: 2, or 1 on a single core)")
    p.add_argument("--fresh", action="store_true", help="render every file again, even finished ones")
    add_deprecated_alias(p, "--force", "--fresh")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from manifests import Layout

    from .corpus import INFO_NAME, CorpusConfig, CorpusError, write_corpus
    from .genres import GENRES

    genres = GENRES if args.genres is None else tuple(g.strip() for g in args.genres.split(",") if g.strip())
    config = CorpusConfig(seed=args.seed, tracks_per_genre=args.tracks_per_genre,
                          artists_per_genre=args.artists_per_genre, seconds=args.seconds, blend=args.blend,
                          genres=genres)
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: need at least 1")
    layout = Layout.at(args.data)
    if layout.root.exists() and not layout.root.is_dir():
        raise UserError(f"--data {layout.root}: exists and is not a folder")

    def progress(total: int) -> tqdm:
        return tqdm(total=total, unit="track", desc="rendering", disable=args.quiet, dynamic_ncols=True)

    try:
        summary = write_corpus(layout, config, workers=args.workers, force=args.fresh, progress=progress)
    except CorpusError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        where = exc.filename or layout.root
        raise UserError(f"{where}: cannot write the corpus ({exc.strerror or exc})") from None

    if not args.quiet:
        hours = summary.audio_s / 3600
        print(f"synthetic corpus in {layout.root} (seed {config.seed}): {summary.tracks} tracks by "
              f"{summary.artists} artists in {len(summary.per_genre)} genres, {summary.multi_genre} multi-genre")
        print(f"  rendered {summary.rendered}, kept {summary.kept} finished files; "
              f"{hours:.2f} h of 16 kHz audio; {summary.seconds:.1f} s")
        print("  per genre: " + ", ".join(f"{g} {n}" for g, n in summary.per_genre.items()))
        if summary.stale_rows:
            print(f"  dropped {summary.stale_rows} downloads rows of tracks no longer in the plan")
        print(f"  manifests: {layout.manifests}/{{tracks,claims,playlists,downloads}}.csv; "
              f"artists and fingerprints: {layout.reports / INFO_NAME}")
    return 0
