"""``python -m collectors labels``: collect genre claims from MusicBrainz, RateYourMusic and Last.fm."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from manifests.cliutil import add_common_arguments, add_deprecated_alias
from manifests.errors import UserError

if TYPE_CHECKING:  # imported by the handler when it runs, so --help stays instant
    from manifests import Layout

    from .base import LabelSource

log = logging.getLogger(__name__)

KNOWN_SOURCES = ("musicbrainz", "rym", "lastfm")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "labels", help="collect genre claims for the tracks from MusicBrainz, RateYourMusic, Last.fm",
        description="Look up every track of the tracks table in the enabled label sources and write their raw "
                    "genre opinions to the claims table (other sources' rows are kept). Resumable: a rerun "
                    "skips tracks already done and never fetches a page twice (HTTP cache in DATA/cache/http).")
    add_common_arguments(p)
    p.add_argument("--sources", default=None, metavar="LIST",
                   help="comma-separated subset of musicbrainz,rym,lastfm (default: musicbrainz; plus rym when "
                        "--rym-pages or --rym-live is given; plus lastfm when LASTFM_API_KEY is set)")
    p.add_argument("--rym-pages", default=None, metavar="DIR",
                   help="folder of RateYourMusic pages saved from your browser (offline mode)")
    p.add_argument("--rym-live", action="store_true",
                   help="also ask rateyourmusic.com itself, very slowly (opt-in; see the README on its terms)")
    p.add_argument("--rym-request-interval", type=float, default=10.0, metavar="S",
                   help="seconds between two live RateYourMusic requests (default 10, at least 5)")
    p.add_argument("--contact", default=None, metavar="EMAIL_OR_URL",
                   help="your e-mail or URL for the User-Agent (default: $GENRE_CONTACT); MusicBrainz and "
                        "live RateYourMusic require one")
    p.add_argument("--musicbrainz-url", default=None, metavar="URL",
                   help="a MusicBrainz mirror, e.g. http://localhost:5000 (its /ws/2 is added; default: "
                        "$MUSICBRAINZ_URL, also read from .env, or https://musicbrainz.org/ws/2)")
    p.add_argument("--musicbrainz-request-interval", type=float, default=None, metavar="S",
                   help="seconds between two MusicBrainz requests (default: 1 for musicbrainz.org, which is "
                        "never asked faster; none for a mirror)")
    p.add_argument("--fresh", action="store_true",
                   help="look up tracks finished in earlier runs again (cached answers are reused)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N tracks")
    add_deprecated_alias(p, "--rym-interval", "--rym-request-interval")
    add_deprecated_alias(p, "--musicbrainz-interval", "--musicbrainz-request-interval")
    add_deprecated_alias(p, "--refresh", "--fresh")
    p.set_defaults(func=handler)


def choose_sources(args: argparse.Namespace) -> list[str]:
    """The sources to run, from --sources or the defaults; errors name the flag and the problem."""
    if args.sources:
        chosen = [s.strip().lower() for s in args.sources.split(",") if s.strip()]
        unknown = [s for s in chosen if s not in KNOWN_SOURCES]
        if unknown:
            raise UserError(f"--sources: unknown source {unknown[0]!r} (known: {', '.join(KNOWN_SOURCES)})")
        if not chosen:
            raise UserError("--sources: empty list")
        if "rym" in chosen and not (args.rym_pages or args.rym_live):
            raise UserError("--sources rym: give --rym-pages DIR (saved pages, offline) and/or --rym-live")
        return list(dict.fromkeys(chosen))
    chosen = ["musicbrainz"]
    if args.rym_pages or args.rym_live:
        chosen.append("rym")
    from .lastfm import ENV_KEY

    if os.environ.get(ENV_KEY, "").strip():
        chosen.append("lastfm")
    return chosen


def _build(name: str, args: argparse.Namespace, layout: Layout, contact: str | None) -> LabelSource:
    from collectors.net import make_session

    http = layout.cache / "http"
    if name == "musicbrainz":
        from . import musicbrainz

        try:
            url = musicbrainz.api_url(args.musicbrainz_url)
        except ValueError as exc:
            flag = "--musicbrainz-url" if args.musicbrainz_url else f"${musicbrainz.ENV_URL}"
            raise UserError(f"{flag}: {exc}") from None
        interval = args.musicbrainz_request_interval
        if interval is None:
            interval = musicbrainz.default_interval(url)
        elif not interval >= 0:
            raise UserError(f"--musicbrainz-request-interval {interval:g}: must be >= 0 seconds")
        if not musicbrainz.is_public(url):
            log.info("musicbrainz: using the mirror %s (%s)", url,
                     f"{interval:g} s between requests" if interval else "no pause between requests")
        policy = musicbrainz.default_policy(http / "musicbrainz.sqlite", contact=contact, interval_s=interval)
        return musicbrainz.MusicBrainzSource(make_session(policy), base_url=url)
    if name == "lastfm":
        from . import lastfm

        session = make_session(lastfm.default_policy(http / "lastfm.sqlite", contact=contact),
                               cache_filter=lastfm.cacheable)
        return lastfm.LastfmSource(session)
    from .rym import MIN_INTERVAL_S, RymLive, RymSource, SavedPages, live_policy

    pages = live = None
    if args.rym_pages:
        pages = SavedPages(args.rym_pages, layout.cache / "rym" / "pages_index.json").load(progress=True)
        counts = pages.counts()
        log.info("rym: %d saved page(s) in %s (%s)", len(pages.pages), args.rym_pages,
                 ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
    if args.rym_live:
        interval = args.rym_request_interval
        if not interval >= MIN_INTERVAL_S:
            raise UserError(f"--rym-request-interval {interval:g}: RateYourMusic is asked at most once every "
                            f"{MIN_INTERVAL_S:g} s; choose {MIN_INTERVAL_S:g} or more (default 10)")
        policy = live_policy(http / "rym.sqlite", interval_s=interval, contact=contact)
        live = RymLive(make_session(policy))
        log.warning("rym live mode: RateYourMusic's terms forbid automated downloading; asking at most once "
                    "every %.0f s and stopping at the first refusal", interval)
    return RymSource(pages=pages, live=live)


def _print_summary(summary: dict[str, Any], claims_path: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    print(f"labels: {summary['tracks']} tracks", file=out)
    header = f"  {'source':<12}{'looked up':>10}{'claims':>8}{'w/ claims':>11}{'none':>6}{'failed':>8}{'done before':>13}"
    print(header, file=out)
    for name, r in summary["sources"].items():
        print(f"  {name:<12}{r['looked_up']:>10}{r['claims']:>8}{r['with_claims']:>11}{r['without']:>6}"
              f"{r['failed']:>8}{r['skipped']:>13}", file=out)
    per = ", ".join(f"{k} {v}" for k, v in summary["claims_per_source"].items()) or "none"
    print(f"  claims table {claims_path}: {per}", file=out)
    print(f"  tracks without any claim (any source): {summary['tracks_without_claims']}", file=out)
    failed = sum(r["failed"] for r in summary["sources"].values())
    if failed:
        print(f"  {failed} lookup(s) failed; rerun the same command to retry them", file=out)


def handler(args: argparse.Namespace) -> int:
    from collectors.net import check_contact
    from collectors.net.policy import ENV_CONTACT
    from manifests import Layout, read_table
    from manifests.schema import TRACKS

    from .pipeline import LabelRun

    layout = Layout.at(args.data)
    names = choose_sources(args)
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit {args.limit}: must be at least 1")
    contact = args.contact if args.contact is not None else os.environ.get(ENV_CONTACT) or None
    if contact is not None:
        try:
            contact = check_contact(contact)
        except ValueError as exc:
            raise UserError(f"{'--contact' if args.contact is not None else '$' + ENV_CONTACT}: {exc}") from None
    needs_contact = "musicbrainz" in names or args.rym_live
    if needs_contact and contact is None:
        raise UserError(f"no contact configured: MusicBrainz{' and RateYourMusic' if args.rym_live else ''} ask "
                        f"every client to identify itself; pass --contact you@example.org or set {ENV_CONTACT}")
    tracks_path = layout.table_path(TRACKS)
    tracks = read_table(tracks_path, TRACKS)  # a missing table says which command writes it
    if args.limit is not None:
        tracks = tracks[: args.limit]
    if not tracks:
        print(f"labels: {tracks_path} has no tracks; nothing to do")
        return 0
    sources = []
    try:
        for name in names:
            sources.append(_build(name, args, layout, contact))
        log.info("labels: %d track(s), sources: %s", len(tracks), ", ".join(names))
        run = LabelRun(layout, fresh=args.fresh, show_progress=not args.quiet)
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm():
            reports = run.run(sources, tracks)
        _print_summary(run.summary(tracks, reports), str(layout.table_path("claims")))
    finally:
        for source in sources:
            source.close()
    stopped = [f"{r.name}: {r.stopped}" for r in reports if r.stopped]
    if stopped:
        raise UserError("stopped early (finished work is saved; rerun the same command to continue): "
                        + " | ".join(stopped))
    return 0
