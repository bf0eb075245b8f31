"""Offline mode: match pages the user saved from a browser to tracks (the default that always works).

The folder is scanned recursively for ``.html``/``.htm``/``.xhtml`` and ``.mhtml``/``.mht``
(Chrome's "single file") pages.  Parsed pages are remembered in an index keyed by
path, size and modification time, so a rerun parses only new or changed files.
Tracks are matched by normalised artist plus song title, album title, a release
named like the song, a release whose track list holds the song, or (last) the artist page.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from manifests import atomic_write_text
from manifests.ids import normalize_text, normalize_title

from ..base import SourceConfigError, track_artists
from .parser import RymGenre, RymPage, html_of_file, parse_page

log = logging.getLogger(__name__)

INDEX_VERSION = 1
SUFFIXES = (".html", ".htm", ".xhtml", ".mhtml", ".mht")
#: album titles at least this similar (0-100) match when no title matches exactly
FUZZY_ALBUM = 92


@dataclass(frozen=True)
class Match:
    page: RymPage
    level: str  # song, release, artist
    how: str
    evidence: str


def _page_to_json(page: RymPage) -> dict[str, Any]:
    return dataclasses.asdict(page)


def _page_from_json(data: dict[str, Any]) -> RymPage:
    data = dict(data)
    data["genres"] = [RymGenre(**g) for g in data.get("genres", [])]
    data["discography"] = [tuple(x) for x in data.get("discography", [])]
    data["results"] = [tuple(x) for x in data.get("results", [])]
    return RymPage(**data)


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
        return self

    def _build(self) -> None:
        self._songs.clear()
        self._releases.clear()
        self._artists.clear()
        self.blocked, self.unreadable = [], []
        for rel, page in sorted(self.pages.items()):
            if page.blocked:
                self.blocked.append(rel)
                continue
            if page.kind not in ("song", "release", "artist"):
                self.unreadable.append(rel)
                continue
            for artist in page.artists:
                key = normalize_text(artist)
                if not key:
                    continue
                if page.kind == "song":
                    self._songs.setdefault((key, normalize_title(page.title)), []).append((rel, page))
                elif page.kind == "release":
                    self._releases.setdefault(key, []).append((rel, page))
                else:
                    self._artists.setdefault(key, []).append((rel, page))
        if self.blocked:
            log.warning("%d saved page(s) are challenge or ban pages, not content (e.g. %s); save them again "
                        "after the page has loaded", len(self.blocked), self.blocked[0])
        if self.unreadable:
            log.info("%d saved page(s) are not RateYourMusic release, song or artist pages (e.g. %s)",
                     len(self.unreadable), self.unreadable[0])

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

    def match(self, track: dict[str, Any]) -> Match | None:
        """The most specific saved page about this track: song, then release, then artist."""
        artist_keys = [normalize_text(a) for a in track_artists(track)]
        artist_keys = [k for k in dict.fromkeys(artist_keys) if k]
        title_key = normalize_title(str(track.get("title") or ""))
        album_key = normalize_title(str(track.get("album") or ""))
        for key in artist_keys:
            for rel, page in self._songs.get((key, title_key), []):
                if page.genres:
                    return Match(page, "song", "saved song page, artist and title match", self._evidence(rel, page))
        releases = [item for key in artist_keys for item in self._releases.get(key, []) if item[1].genres]
        if album_key:
            for rel, page in releases:
                if normalize_title(page.title) == album_key:
                    return Match(page, "release", "saved release page, artist and album match",
                                 self._evidence(rel, page))
            scored = [(fuzz.ratio(normalize_title(p.title), album_key), rel, p) for rel, p in releases]
            scored = [s for s in scored if s[0] >= FUZZY_ALBUM]
            if scored:
                score, rel, page = max(scored, key=lambda s: s[0])
                return Match(page, "release", f"saved release page, album title {score:.0f}% similar",
                             self._evidence(rel, page))
        for rel, page in releases:
            if title_key and normalize_title(page.title) == title_key:
                return Match(page, "release", "saved release page named like the track", self._evidence(rel, page))
        for rel, page in releases:
            if title_key and title_key in {normalize_title(t) for t in page.tracks}:
                return Match(page, "release", "saved release page listing the track", self._evidence(rel, page))
        for key in artist_keys:
            for rel, page in self._artists.get(key, []):
                if page.genres:
                    return Match(page, "artist", "saved artist page (no release page matched)",
                                 self._evidence(rel, page))
        return None
