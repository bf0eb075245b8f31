"""The resumable pipeline: (genre, playlist) pairs in; tracks, playlists and claims tables out.

For each playlist the user asked for (in the order given):

* a pair already ``ok`` is skipped without a request (``--fresh`` re-reads the snapshot
  ID, one request per playlist, and fetches again only playlists that changed);
* a playlist already read for another genre is reused without a request;
* otherwise its metadata and items are fetched (or the export file read), its tracks are
  merged into the tracks table (see :mod:`.dedupe`) and all three tables are saved, so an
  interruption loses at most the playlist in progress.

A playlist that fails (not owned, not found, ...) is recorded with the reason and the run
goes on; errors that would fail every playlist (bad token, Premium missing, a rate limit
beyond the cap, no network) stop the run cleanly with everything finished kept.

The claims table is shared with the label sources: only rows with ``source=playlist`` are
rewritten, derived from the tracks and playlists tables (one claim per track, genre and
playlist, weight 1, evidence = playlist ID or export file name).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from manifests import Layout, read_table, write_table
from manifests.clock import utc_now_text
from manifests.schema import CLAIMS, PLAYLISTS, TRACKS

from .client import SpotifyClient, SpotifyError
from .dedupe import TrackIndex
from .entries import SKIP_REASONS, TrackEntry
from .exports import ExportFile, read_export
from .fetch import PlaylistMeta, fetch_items, fetch_meta
from .refs import PlaylistRequest

log = logging.getLogger(__name__)

Row = dict[str, Any]
CLAIM_SOURCE = "playlist"
USABLE = ("ok", "partial")


@dataclass
class CollectOptions:
    market: str | None = None
    #: re-read every finished playlist's snapshot ID and fetch again those that changed
    fresh: bool = False
    #: drop (genre, playlist) pairs that are not in this request, and their tracks
    prune: bool = False
    progress: bool = True
    #: tables are rewritten after a playlist only if this long has passed since the last save (and always at
    #: the end, on a stop and on Ctrl-C), so a run of many small playlists does not spend its time writing
    save_every_s: float = 5.0


@dataclass
class RunSummary:
    """What a run did, for the table printed at the end and for tests and benchmarks."""

    requested: list[PlaylistRequest] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stop: SpotifyError | None = None
    requests: int = 0
    rows: list[Row] = field(default_factory=list)
    tracks_per_genre: dict[str, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def all_ok(self) -> bool:
        return self.stop is None and all(r["status"] == "ok" for r in self.rows)


class Store:
    """The three tables this collector writes, kept in memory and saved after every playlist."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.tracks_path = layout.table_path(TRACKS)
        self.playlists_path = layout.table_path(PLAYLISTS)
        self.claims_path = layout.table_path(CLAIMS)
        self.index = TrackIndex(read_table(self.tracks_path, TRACKS, missing_ok=True))
        self.pairs: dict[tuple[str, str], Row] = {
            (r["genre"], r["playlist_id"]): r for r in read_table(self.playlists_path, PLAYLISTS, missing_ok=True)}
        self.other_claims = [r for r in read_table(self.claims_path, CLAIMS, missing_ok=True)
                             if r["source"] != CLAIM_SOURCE]
        self.dirty = False

    def rows_of(self, playlist_id: str) -> list[Row]:
        return [row for (_, pid), row in self.pairs.items() if pid == playlist_id]

    def usable_row(self, playlist_id: str) -> Row | None:
        """A row whose fetch produced this playlist's current membership (ok preferred)."""
        rows = sorted(self.rows_of(playlist_id), key=lambda r: r["status"] != "ok")
        return rows[0] if rows and rows[0]["status"] == "ok" else None

    def claims(self) -> list[Row]:
        """Playlist claims derived from the tables: one per (track, genre, playlist) of a usable pair."""
        members = self.index.members()
        out = []
        for (genre, pid), row in sorted(self.pairs.items()):
            if row["status"] not in USABLE:
                continue
            for tid in members.get(pid, []):
                out.append({"track_id": tid, "source": CLAIM_SOURCE, "raw_genre": genre, "weight": 1.0,
                            "evidence": pid, "detail": row.get("name")})
        return out

    def save(self, force: bool = False) -> None:
        """Tracks, then claims, then playlists: a pair is marked done only after its data is on disk."""
        if not (self.dirty or force):
            return
        self.dirty = False
        write_table(self.tracks_path, TRACKS, self.index.all_rows())
        write_table(self.claims_path, CLAIMS, [*self.other_claims, *self.claims()])
        write_table(self.playlists_path, PLAYLISTS, self.pairs.values())

    def prune(self, keep: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        keep = set(keep)
        dropped = [key for key in self.pairs if key not in keep]
        for key in dropped:
            del self.pairs[key]
        for pid in {pid for _, pid in dropped} - {pid for _, pid in self.pairs}:
            self.index.remove_source(pid)
        self.dirty = self.dirty or bool(dropped)
        return dropped


def _pair_row(req: PlaylistRequest, **values: Any) -> Row:
    return {"genre": req.genre, "playlist_id": req.playlist_id, "playlist_ref": req.ref, **values}


def _fetched_values(name: str | None, owner: str | None, snapshot: str | None, n_items: int | None,
                    entries: list[TrackEntry], skipped: Counter[str], status: str, reason: str | None) -> Row:
    return {"name": name, "owner": owner, "snapshot_id": snapshot, "n_items": n_items, "n_tracks": len(entries),
            "skipped": {k: float(v) for k, v in sorted(skipped.items()) if v}, "status": status, "reason": reason,
            "fetched_at": utc_now_text()}


class Collector:
    """Runs the pairs against the store; the Spotify client is built only when a fetch is needed."""

    def __init__(self, layout: Layout, client_factory: Callable[[], SpotifyClient] | None,
                 options: CollectOptions | None = None) -> None:
        self.layout = layout
        self.client_factory = client_factory
        self.options = options or CollectOptions()
        self.client: SpotifyClient | None = None

    def _client(self) -> SpotifyClient:
        if self.client is None:
            if self.client_factory is None:
                raise SpotifyError("config", "Spotify access is not configured")
            self.client = self.client_factory()
        return self.client

    def run(self, requests: list[PlaylistRequest]) -> RunSummary:
        summary = RunSummary(requested=list(requests))
        exports = {req.playlist_id: read_export(req.path) for req in requests if req.path is not None}
        store = Store(self.layout)
        if self.options.prune:
            dropped = store.prune((r.genre, r.playlist_id) for r in requests)
            if dropped:
                log.info("pruned %d (genre, playlist) pairs not in this request", len(dropped))
        groups: dict[str, list[PlaylistRequest]] = defaultdict(list)
        for req in requests:
            groups[req.playlist_id].append(req)
        last_save = time.monotonic()
        try:
            for pid, reqs in groups.items():
                if summary.stop is not None:
                    self._not_attempted(store, reqs, summary.stop)
                    continue
                if reqs[0].path is not None:
                    self._export(store, reqs, exports[pid], summary)
                else:
                    self._spotify(store, pid, reqs, summary)
                if time.monotonic() - last_save >= self.options.save_every_s:
                    store.save()
                    last_save = time.monotonic()
        finally:  # finished playlists are on disk even after Ctrl-C or an unexpected error
            store.save()
            if self.client is not None:
                summary.requests = self.client.attempts
        self._summarise(store, requests, summary)
        return summary

    # ------------------------------------------------------------ one playlist
    def _pending(self, store: Store, reqs: list[PlaylistRequest]) -> list[PlaylistRequest]:
        return [r for r in reqs if (store.pairs.get((r.genre, r.playlist_id)) or {}).get("status") != "ok"]

    def _reuse(self, store: Store, pending: list[PlaylistRequest], source: Row) -> None:
        keep = ("name", "owner", "snapshot_id", "n_items", "n_tracks", "skipped", "status", "reason", "fetched_at")
        store.dirty = True
        for req in pending:
            store.pairs[(req.genre, req.playlist_id)] = _pair_row(req, **{k: source.get(k) for k in keep})

    def _apply(self, store: Store, reqs: list[PlaylistRequest], values: Row, entries: list[TrackEntry]) -> None:
        pid = reqs[0].playlist_id
        store.dirty = True
        store.index.remove_source(pid)
        for entry in entries:
            store.index.add(entry, pid)
        for row in store.rows_of(pid):  # other genres of the same playlist see the new membership too
            row.update(values)
        for req in reqs:
            store.pairs[(req.genre, pid)] = _pair_row(req, **values)

    def _failed(self, store: Store, reqs: list[PlaylistRequest], reason: str, meta: PlaylistMeta | None) -> None:
        store.dirty = True
        if not reason.startswith("not attempted"):
            log.warning("%s: %s", ", ".join(f"{r.genre} / {r.ref}" for r in reqs), reason)
        for req in reqs:
            key = (req.genre, req.playlist_id)
            old = store.pairs.get(key)
            if old is not None and old["status"] in USABLE:  # keep earlier data; say the refresh failed
                old["reason"] = f"last refresh failed: {reason}"
                continue
            store.pairs[key] = _pair_row(req, name=meta.name if meta else None, owner=meta.owner if meta else None,
                                         snapshot_id=meta.snapshot_id if meta else None, status="failed",
                                         reason=reason, fetched_at=utc_now_text())

    def _not_attempted(self, store: Store, reqs: list[PlaylistRequest], stop: SpotifyError) -> None:
        pending = self._pending(store, reqs)
        if pending:
            self._failed(store, pending, f"not attempted: the run stopped earlier ({stop.kind}); rerun to "
                                         "continue", None)

    def _export(self, store: Store, reqs: list[PlaylistRequest], export: ExportFile, summary: RunSummary) -> None:
        pid = reqs[0].playlist_id
        current = [store.pairs.get((r.genre, pid)) for r in reqs]
        if all(row is not None and row["status"] == "ok" and row.get("snapshot_id") == export.fingerprint
               for row in current):
            summary.unchanged.append(pid)
            return
        values = _fetched_values(export.playlist_name or export.path.stem, None, export.fingerprint,
                                 export.n_rows, export.entries, export.skipped, "ok", None)
        self._apply(store, reqs, values, export.entries)
        summary.fetched.append(pid)

    def _spotify(self, store: Store, pid: str, reqs: list[PlaylistRequest], summary: RunSummary) -> None:
        pending = self._pending(store, reqs)
        if not pending and not self.options.fresh:
            summary.unchanged.append(pid)
            return
        source = store.usable_row(pid)
        if source is not None and not self.options.fresh:
            self._reuse(store, pending, source)
            summary.reused.append(pid)
            return
        meta: PlaylistMeta | None = None
        try:
            meta = fetch_meta(self._client(), pid, self.options.market)
        except SpotifyError as exc:
            self._failed(store, reqs if self.options.fresh else pending, str(exc), None)
            if exc.fatal:
                summary.stop = exc
            return
        if self.options.fresh and source is not None and source.get("snapshot_id") == meta.snapshot_id:
            if pending:
                self._reuse(store, pending, source)
            summary.unchanged.append(pid)
            return
        fetched = fetch_items(self._client(), meta, self.options.market, progress=self.options.progress)
        summary.fetched.append(pid)
        if fetched.status == "partial":
            log.warning("%s: %s", meta.name or pid, fetched.reason)
        if fetched.status == "failed":
            self._failed(store, reqs if self.options.fresh else pending, fetched.reason or "failed", meta)
        else:
            values = _fetched_values(meta.name, meta.owner, meta.snapshot_id, fetched.n_items, fetched.entries,
                                     fetched.skipped, fetched.status, fetched.reason)
            self._apply(store, reqs, values, fetched.entries)
        if fetched.error is not None and fetched.error.fatal:
            summary.stop = fetched.error

    # ------------------------------------------------------------ summary
    def _summarise(self, store: Store, requests: list[PlaylistRequest], summary: RunSummary) -> None:
        wanted = {(r.genre, r.playlist_id) for r in requests}
        summary.rows = [store.pairs[key] for key in sorted(wanted) if key in store.pairs]
        per_genre: dict[str, set[str]] = defaultdict(set)
        for claim in store.claims():
            if (claim["raw_genre"], claim["evidence"]) in wanted:
                per_genre[claim["raw_genre"]].add(claim["track_id"])
        summary.tracks_per_genre = {g: len(per_genre.get(g, set())) for g in sorted({r.genre for r in requests})}
        counted: set[str] = set()
        for row in summary.rows:
            if row["playlist_id"] in counted:
                continue
            counted.add(row["playlist_id"])
            for reason, n in (row.get("skipped") or {}).items():
                summary.skipped[reason] += int(n)


def summary_text(summary: RunSummary) -> str:
    """The table printed at the end of a run: tracks per genre, skips per reason, failures."""
    lines = []
    status_by_genre: dict[str, Counter[str]] = defaultdict(Counter)
    for row in summary.rows:
        status_by_genre[row["genre"]][row["status"]] += 1
    width = max([len("genre"), *(len(g) for g in summary.tracks_per_genre)])
    lines.append(f"{'genre':<{width}}  {'tracks':>7}  {'playlists ok':>12}  {'partial':>7}  {'failed':>6}")
    for genre, n in summary.tracks_per_genre.items():
        c = status_by_genre[genre]
        lines.append(f"{genre:<{width}}  {n:>7}  {c['ok']:>12}  {c['partial']:>7}  {c['failed']:>6}")
    skipped = ", ".join(f"{reason} {summary.skipped.get(reason, 0)}" for reason in SKIP_REASONS)
    lines.append(f"skipped entries: {skipped}")
    lines.append(f"playlists fetched {len(summary.fetched)}, reused for another genre {len(summary.reused)}, "
                 f"already done {len(summary.unchanged)}; Spotify requests {summary.requests}")
    for row in summary.rows:
        if row["status"] != "ok":
            what = f"{row['name']} ({row['playlist_ref']})" if row.get("name") else row["playlist_ref"]
            lines.append(f"{row['status']}: {row['genre']} / {what}: {row.get('reason') or 'no reason recorded'}")
    if summary.stop is not None:
        lines.append(f"stopped: {summary.stop}. Finished playlists were saved; rerun the same command to continue.")
    return "\n".join(lines)
