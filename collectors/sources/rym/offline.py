"""Offline mode: match pages the user saved from a browser to tracks (the default that always works).

The folder is scanned recursively for ``.html``/``.htm``/``.xhtml`` and ``.mhtml``/``.mht``
(Chrome's "single file") pages.  Parsed pages are remembered in an index keyed by
path, size and modification time, so a rerun parses only new or changed files.

Tracks are matched with the name normaliser every matcher shares
(:func:`manifests.ids.name_key`: "The Desert Sessions" = "Desert Sessions", "&" = "and",
accents and bracketed version notes ignored) by artist plus song title, album title, a
release named like the song, a release whose track list holds the song, a release the
artist page's discography lists for the album (when that release page is saved too), or
(last) the artist page itself.

Every saved page gets an outcome in a report (``pages_report.csv`` next to the index): used
(and for how many tracks), not matched to any track, a release without genres, or not a
release page at all (a "page not found" page, a search page, the sign-in page, a challenge
page), so a user sees which saved pages did nothing and why.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from manifests import atomic_write_text
from manifests.ids import name_key, name_variants, same_name

from ..base import SourceConfigError, track_artists
from .parser import CONTENT_KINDS, NOT_CONTENT, RymGenre, RymPage, html_of_file, parse_page

log = logging.getLogger(__name__)

#: 2: pages read with the release's own track list, entities unescaped, and not-a-release kinds
INDEX_VERSION = 2
SUFFIXES = (".html", ".htm", ".xhtml", ".mhtml", ".mht")
#: album titles at least this similar (0-100) match when no title matches exactly
FUZZY_ALBUM = 92
REPORT_NAME = "pages_report.csv"
USAGE_NAME = "pages_usage.json"
REPORT_COLUMNS = ("page", "kind", "outcome", "tracks", "detail")


@dataclass(frozen=True)
class Match:
    page: RymPage
    level: str  # song, release, artist
    how: str
    evidence: str
    #: the saved pages it came from (relative paths), for the saved-pages report
    saved: tuple[str, ...] = ()


def _page_to_json(page: RymPage) -> dict[str, Any]:
    return dataclasses.asdict(page)


def _page_from_json(data: dict[str, Any]) -> RymPage:
    data = dict(data)
    data["genres"] = [RymGenre(**g) for g in data.get("genres", [])]
    data["discography"] = [tuple(x) for x in data.get("discography", [])]
    data["results"] = [tuple(x) for x in data.get("results", [])]
    return RymPage(**data)


def _url_key(url: str | None) -> str:
    """A page address without scheme, host variant or trailing slash, to find a saved page by link."""
    if not url:
        return ""
    text = url.split("://", 1)[-1]
    text = text.split("/", 1)[1] if "/" in text else ""
    return "/" + text.split("?", 1)[0].split("#", 1)[0].strip("/").lower()


class SavedPages:
    """The user's folder of saved RateYourMusic pages, parsed and indexed for matching."""

    def __init__(self, folder: Path | str, index_path: Path | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceConfigError(f"--rym-pages {self.folder}: no such folder (save RateYourMusic pages from "
                                    "your browser into it, see collectors/sources/README.md)")
        self.index_path = index_path
        self.pages: dict[str, RymPage] = {}
        self.blocked: list[str] = []
        self.unreadable: list[str] = []
        self._fingerprint = ""
        self._songs: dict[tuple[str, str], list[tuple[str, RymPage]]] = {}
        self._releases: dict[str, list[tuple[str, RymPage]]] = {}
        self._artists: dict[str, list[tuple[str, RymPage]]] = {}
        self._by_url: dict[str, tuple[str, RymPage]] = {}
        #: saved page -> tracks it gave claims to (kept across reruns while the folder is unchanged)
        self.used: dict[str, set[str]] = {}
        #: saved artist page -> releases of its discography that tracks asked for but are not saved
        self.wanted: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ loading
    def _files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)

    def _read_index(self) -> dict[str, Any]:
        if self.index_path is None or not self.index_path.exists():
            return {}
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("%s: unreadable page index, parsing every page again", self.index_path)
            return {}
        if data.get("version") != INDEX_VERSION or data.get("folder") != str(self.folder.resolve()):
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}

    def load(self, progress: bool = False) -> SavedPages:
        """Parse new or changed pages (reusing the index for the rest) and build the lookup tables."""
        from tqdm import tqdm

        known = self._read_index()
        files = self._files()
        entries: dict[str, Any] = {}
        signature = hashlib.sha1()
        for path in tqdm(files, desc="rym pages", unit="page", disable=not progress or None, leave=False):
            rel = path.relative_to(self.folder).as_posix()
            stat = path.stat()
            stamp = [stat.st_size, stat.st_mtime_ns]
            signature.update(f"{rel}\0{stamp[0]}\0{stamp[1]}\n".encode())
            entry = known.get(rel)
            if not entry or entry.get("stamp") != stamp:
                try:
                    page = parse_page(html_of_file(path.read_bytes()))
                except OSError as exc:
                    log.warning("%s: cannot read (%s)", path, exc)
                    continue
                entry = {"stamp": stamp, "page": _page_to_json(page)}
            entries[rel] = entry
        self._fingerprint = signature.hexdigest()[:16]
        if self.index_path is not None:
            atomic_write_text(self.index_path, json.dumps(
                {"version": INDEX_VERSION, "folder": str(self.folder.resolve()), "files": entries},
                ensure_ascii=False, sort_keys=True))
        self.pages = {rel: _page_from_json(e["page"]) for rel, e in entries.items()}
        self._build()
        self._read_usage()
        return self

    def _build(self) -> None:
        self._songs.clear()
        self._releases.clear()
        self._artists.clear()
        self._by_url.clear()
        self.blocked, self.unreadable = [], []
        for rel, page in sorted(self.pages.items()):
            if page.blocked:
                self.blocked.append(rel)
                continue
            if page.kind not in CONTENT_KINDS:
                self.unreadable.append(rel)
                continue
            if page.url:
                self._by_url.setdefault(_url_key(page.url), (rel, page))
            for artist in page.artists:
                key = name_key(artist)
                if not key:
                    continue
                if page.kind == "song":
                    for title in name_variants(page.title):
                        self._songs.setdefault((key, title), []).append((rel, page))
                elif page.kind == "release":
                    self._releases.setdefault(key, []).append((rel, page))
                else:
                    self._artists.setdefault(key, []).append((rel, page))
        if self.blocked:
            log.warning("%d saved page(s) are challenge or ban pages, not content (e.g. %s); save them again "
                        "after the page has loaded", len(self.blocked), self.blocked[0])
        if self.unreadable:
            log.warning("%d saved page(s) are not RateYourMusic release, song or artist pages (e.g. %s: %s); "
                        "see the saved-pages report", len(self.unreadable), self.unreadable[0],
                        self.pages[self.unreadable[0]].kind.replace("_", " "))

    def fingerprint(self) -> str:
        return self._fingerprint

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for page in self.pages.values():
            kind = "blocked" if page.blocked else page.kind
            kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    # ------------------------------------------------------------ matching
    def _evidence(self, rel: str, page: RymPage) -> str:
        return page.url or f"saved page {rel}"

    def record(self, track_id: str, match: Match) -> None:
        """Note that ``match`` gave claims to a track (the report's "used")."""
        with self._lock:
            for rel in match.saved:
                self.used.setdefault(rel, set()).add(track_id)

    def match(self, track: dict[str, Any]) -> Match | None:
        """The most specific saved page about this track: song, then release, then artist."""
        artist_keys = [k for k in dict.fromkeys(name_key(a) for a in track_artists(track)) if k]
        title = str(track.get("title") or "")
        album = str(track.get("album") or "")

        def found(rel: str, page: RymPage, level: str, how: str) -> Match:
            return Match(page, level, how, self._evidence(rel, page), saved=(rel,))

        for key in artist_keys:
            for title_key in name_variants(title):
                for rel, page in self._songs.get((key, title_key), []):
                    if page.genres:
                        return found(rel, page, "song", "saved song page, artist and title match")
        releases = [item for key in artist_keys for item in self._releases.get(key, []) if item[1].genres]
        if album:
            for rel, page in releases:
                if same_name(page.title, album):
                    return found(rel, page, "release", "saved release page, artist and album match")
            album_key = name_key(album)
            scored = [(fuzz.ratio(name_key(p.title), album_key), rel, p) for rel, p in releases]
            scored = [s for s in scored if s[0] >= FUZZY_ALBUM]
            if scored:
                score, rel, page = max(scored, key=lambda s: s[0])
                return found(rel, page, "release", f"saved release page, album title {score:.0f}% similar")
        for rel, page in releases:
            if title and same_name(page.title, title):
                return found(rel, page, "release", "saved release page named like the track")
        for rel, page in releases:
            if title and any(same_name(t, title) for t in page.tracks):
                return found(rel, page, "release", "saved release page listing the track")
        artist_pages = [(rel, page) for key in artist_keys for rel, page in self._artists.get(key, [])]
        for rel, page in artist_pages:
            through = self._through_discography(rel, page, album, title)
            if through is not None:
                return through
        for rel, page in artist_pages:
            if page.genres:
                return found(rel, page, "artist", "saved artist page (no release page matched)")
        return None

    def _through_discography(self, artist_rel: str, artist: RymPage, album: str, title: str) -> Match | None:
        """The release an artist page lists for the track's album (or a single named like it), if saved.

        When it is not saved, the report asks for it: that page would give the track release
        genres instead of the artist's.
        """
        for name, link in artist.discography:
            if not ((album and same_name(name, album)) or (title and same_name(name, title))):
                continue
            saved = self._by_url.get(_url_key(link))
            if saved is not None and saved[1].kind == "release" and saved[1].genres:
                rel, page = saved
                return Match(page, "release", "saved release page found through the saved artist page's "
                             f"discography ({artist_rel})", self._evidence(rel, page), saved=(rel, artist_rel))
            with self._lock:
                self.wanted.setdefault(artist_rel, {})[link] = name
        return None

    # ------------------------------------------------------------ the report
    @property
    def report_path(self) -> Path | None:
        return self.index_path.with_name(REPORT_NAME) if self.index_path is not None else None

    def _usage_path(self) -> Path | None:
        return self.index_path.with_name(USAGE_NAME) if self.index_path is not None else None

    def _read_usage(self) -> None:
        """Pages used on an earlier run of the same folder: tracks done then are not looked up again."""
        path = self._usage_path()
        if path is None or not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if data.get("fingerprint") != self._fingerprint:
            return  # the folder changed: every track is looked up again
        for rel, tracks in (data.get("used") or {}).items():
            if rel in self.pages and isinstance(tracks, list):
                self.used.setdefault(rel, set()).update(str(t) for t in tracks)
        for rel, links in (data.get("wanted") or {}).items():
            if rel in self.pages and isinstance(links, dict):
                self.wanted.setdefault(rel, {}).update({str(k): str(v) for k, v in links.items()})

    def outcomes(self) -> list[dict[str, str]]:
        """One row per saved page: what it was, whether it gave claims, and why not."""
        rows: list[dict[str, str]] = []
        for rel, page in sorted(self.pages.items()):
            tracks = sorted(t for t in self.used.get(rel, ()) if t)
            kind = "blocked" if page.blocked else page.kind
            what = f"{', '.join(page.artists)} - {page.title}" if page.artists and page.title else page.title
            if page.blocked:
                outcome, detail = "not a release page", (f"{page.blocked}; save the page again once it has "
                                                         "loaded")
            elif page.kind not in CONTENT_KINDS:
                outcome, detail = "not a release page", NOT_CONTENT.get(page.kind, NOT_CONTENT["unknown"])
            elif tracks:
                outcome, detail = "used", what
            elif not page.genres:
                outcome, detail = "no genres", f"{what}: the page lists no genres yet"
            else:
                outcome, detail = "not matched", (f"{what}: no track of the tracks table has this artist and "
                                                  f"{'title' if page.kind == 'song' else 'album or song'}")
            wanted = self.wanted.get(rel)
            if wanted:
                detail += "; save the release page(s) " + ", ".join(f"{name} <{link}>"
                                                                    for link, name in sorted(wanted.items()))
            rows.append({"page": rel, "kind": kind, "outcome": outcome, "tracks": str(len(tracks)),
                         "detail": detail})
        return rows

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.outcomes():
            out[row["outcome"]] = out.get(row["outcome"], 0) + 1
        return out

    def write_report(self, path: Path | None = None) -> Path | None:
        """Write the per-page report (CSV) and the usage it is built from; returns the report's path."""
        path = path or self.report_path
        if path is None:
            return None
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.outcomes())
        atomic_write_text(path, buffer.getvalue())
        usage = self._usage_path()
        if usage is not None:
            atomic_write_text(usage, json.dumps({
                "fingerprint": self._fingerprint,
                "used": {rel: sorted(t for t in tracks if t) for rel, tracks in sorted(self.used.items())},
                "wanted": {rel: dict(sorted(links.items())) for rel, links in sorted(self.wanted.items())},
            }, ensure_ascii=False, indent=1))
        counts = self.summary()
        idle = sum(n for outcome, n in counts.items() if outcome != "used")
        message = (f"rym: {len(self.pages)} saved page(s): "
                   + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) + f"; report {path}")
        (log.warning if idle else log.info)("%s", message)
        return path
