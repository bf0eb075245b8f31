"""One tracks-table row per recording, whichever playlists and exports it came from.

Matching, in order: the same Spotify track ID; the same ISRC (one recording released
under several Spotify IDs: single, album, compilation); else the same normalised first
artist + title (``manifests.ids.artist_title_key``) with durations within 2 s.  When a
duration is unknown on either side, the artist + title match counts only if it is the
only candidate.  A match merges: the row keeps its track ID, gains the playlist in its
``playlists`` list and fills empty fields; a richer source (Spotify API > Exportify >
plain CSV) replaces the descriptive fields.

Track IDs are stable: derived from the ISRC when known, else the Spotify ID, else the
artist/title key (``manifests.ids.make_track_id``), and an existing row keeps its ID.
Rows of other origins (the synthetic corpus) are never touched.
"""

from __future__ import annotations

from collections import ChainMap, defaultdict
from collections.abc import Container, Iterable
from typing import Any

from manifests.ids import artist_title_key, make_track_id

from .entries import TrackEntry

Row = dict[str, Any]

#: origins this collector owns in the shared tracks table, richest first
MANAGED_ORIGINS = ("spotify", "exportify", "csv")
_RANK = {"spotify": 3, "exportify": 2, "csv": 1}
DURATION_TOLERANCE_MS = 2000
_DESCRIPTIVE = ("title", "artists", "album", "release_date", "duration_ms")


def new_track_id(entry: TrackEntry, taken: Container[str]) -> str:
    """A stable ID for a new row; a suffix only when the natural key's ID is already taken."""
    if entry.isrc:
        key = ("isrc", entry.isrc)
    elif entry.spotify_id:
        key = ("spotify", entry.spotify_id)
    else:
        key = ("text", f"{artist_title_key(entry.artists, entry.title)}|{entry.duration_ms or ''}")
    candidate = make_track_id(*key)
    n = 1
    while candidate in taken:
        n += 1
        candidate = make_track_id(key[0], f"{key[1]}#{n}")
    return candidate


class TrackIndex:
    """The tracks table in memory, with the lookups deduplication needs."""

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self.rows: dict[str, Row] = {}
        self.foreign: dict[str, Row] = {}
        for row in rows:
            row = dict(row)
            row["playlists"] = list(row.get("playlists") or [])
            row["artists"] = list(row.get("artists") or [])
            (self.rows if row.get("origin") in MANAGED_ORIGINS else self.foreign)[row["track_id"]] = row
        self._reindex()

    # ------------------------------------------------------------ lookups
    def _reindex(self) -> None:
        self.by_spotify: dict[str, str] = {}
        self.by_isrc: dict[str, str] = {}
        self.by_text: dict[str, list[str]] = defaultdict(list)
        for tid, row in self.rows.items():
            self._index(tid, row)

    def _index(self, tid: str, row: Row, entry: TrackEntry | None = None) -> None:
        for sid in (row.get("spotify_id"), entry.spotify_id if entry else None):
            if sid is not None:
                self.by_spotify.setdefault(sid, tid)
        for isrc in (row.get("isrc"), entry.isrc if entry else None):
            if isrc is not None:
                self.by_isrc.setdefault(isrc, tid)
        key = artist_title_key(row["artists"], row["title"])
        if tid not in self.by_text[key]:
            self.by_text[key].append(tid)

    def match(self, entry: TrackEntry) -> str | None:
        """The track ID of an existing row for the same recording, or None."""
        if entry.spotify_id and entry.spotify_id in self.by_spotify:
            return self.by_spotify[entry.spotify_id]
        if entry.isrc and entry.isrc in self.by_isrc:
            return self.by_isrc[entry.isrc]
        candidates = self.by_text.get(artist_title_key(entry.artists, entry.title), [])
        if not candidates:
            return None
        if entry.duration_ms is not None:
            timed = [tid for tid in candidates if self.rows[tid].get("duration_ms") is not None]
            for tid in timed:
                if abs(self.rows[tid]["duration_ms"] - entry.duration_ms) <= DURATION_TOLERANCE_MS:
                    return tid
            untimed = [tid for tid in candidates if tid not in timed]
            return untimed[0] if len(candidates) == 1 and untimed else None
        return candidates[0] if len(candidates) == 1 else None

    # ------------------------------------------------------------ changes
    def add(self, entry: TrackEntry, source: str) -> str:
        """Record that ``source`` (playlist ID or export file name) holds this entry; returns the track ID."""
        tid = self.match(entry)
        if tid is None:
            tid = new_track_id(entry, ChainMap(self.rows, self.foreign))
            row: Row = {
                "track_id": tid, "title": entry.title, "artists": list(entry.artists), "album": entry.album,
                "release_date": entry.release_date, "duration_ms": entry.duration_ms, "isrc": entry.isrc,
                "spotify_id": entry.spotify_id, "spotify_uri": entry.spotify_uri, "playlists": [source],
                "origin": entry.origin,
            }
            self.rows[tid] = row
        else:
            row = self.rows[tid]
            if _RANK[entry.origin] > _RANK[row["origin"]]:
                for name in _DESCRIPTIVE:
                    value = getattr(entry, name)
                    if value not in (None, [], ""):
                        row[name] = list(value) if isinstance(value, list) else value
                row["origin"] = entry.origin
            for name in ("album", "release_date", "duration_ms", "isrc", "spotify_id", "spotify_uri"):
                if row.get(name) in (None, "") and getattr(entry, name) not in (None, ""):
                    row[name] = getattr(entry, name)
            if source not in row["playlists"]:
                row["playlists"].append(source)
        self._index(tid, row, entry)
        return tid

    def remove_source(self, source: str) -> None:
        """Forget that ``source`` held anything (before re-reading it); rows left with no source go."""
        changed = False
        for tid in list(self.rows):
            row = self.rows[tid]
            if source in row["playlists"]:
                row["playlists"].remove(source)
                changed = True
                if not row["playlists"]:
                    del self.rows[tid]
        if changed:
            self._reindex()

    def members(self) -> dict[str, list[str]]:
        """Source -> track IDs holding it, in table order."""
        out: dict[str, list[str]] = defaultdict(list)
        for tid in sorted(self.rows):
            for source in self.rows[tid]["playlists"]:
                out[source].append(tid)
        return out

    def all_rows(self) -> list[Row]:
        return [*self.rows.values(), *self.foreign.values()]
