"""Run the label sources over the tracks table and keep the claims table up to date, resumably.

Each source runs in its own thread (they talk to different hosts, each with its own
spacing), so a slow RateYourMusic does not hold MusicBrainz back.  For every track a
source looks up, that source's rows for that track are replaced; other sources' rows
(e.g. ``playlist``) are never touched.  Claims and progress are written by the shared
table policy (every few rows or seconds) and at the end, also after Ctrl-C or a stop,
so finished work is never lost.
A ``StopRun`` (block page, Retry-After beyond the cap), a rejected API key, or too
many failures in a row stop only the source concerned.  So does ``Unreachable`` (no
server reached after the polite layer's short retry: offline, or the host is down), at
its first lookup instead of after ``MAX_FAILURES_IN_ROW`` slow ones, and in one line
(``cannot reach HOST: check your connection``), without a source's advice about blocks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from manifests import Layout, Row, TableStore
from manifests.schema import CLAIMS

from ..net import RobotsDisallowed, StopRun, Unreachable
from .base import LabelSource, SourceConfigError, TrackFailed
from .progress import Progress

log = logging.getLogger(__name__)

#: a source stops after this many failed lookups in a row (the service is probably down)
MAX_FAILURES_IN_ROW = 5


@dataclass
class SourceReport:
    """What one source did in this run."""

    name: str
    todo: int = 0
    skipped: int = 0
    looked_up: int = 0
    with_claims: int = 0
    without: int = 0
    failed: int = 0
    claims: int = 0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)
    crashed: Exception | None = None


class ClaimsBook(TableStore):
    """The claims table (the shared resumable ``TableStore``), each (track, source) pair's rows swapped at once.

    It is written by the shared policy (rows or seconds), never between removing a pair's old
    rows and adding its new ones; a lookup that changed no row (nothing found, or an error)
    counts as one change too, so its progress entry is saved on the same schedule.
    ``after_flush`` saves the progress file right after each write: claims first, then
    progress, so a crash between the two only causes a redo.
    """

    def __init__(self, layout: Layout, *, after_flush: Callable[[], None] | None = None) -> None:
        super().__init__(layout.table_path(CLAIMS), CLAIMS, after_flush=after_flush)
        self._keys: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for key, row in self.rows.items():
            self._keys.setdefault((row["track_id"], row["source"]), []).append(key)

    def replace(self, track_id: str, source: str, rows: Sequence[Row] | None) -> None:
        """Swap the pair's rows for ``rows`` (None: keep them), then write if the policy says so."""
        with self.batch():
            before = self.pending
            if rows is not None:
                for key in self._keys.pop((track_id, source), []):
                    self.remove(key)
                keys = []
                for row in rows:
                    self.put(row)
                    keys.append(self.key_of(row))
                if keys:
                    self._keys[(track_id, source)] = keys
            if self.pending == before:
                self.touch()  # a finished lookup is a change even when no row changed (its progress entry)

    def tracks_with_claims(self) -> set[str]:
        return {t for (t, _), keys in self._keys.items() if keys}

    def per_source(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (_, source), keys in self._keys.items():
            counts[source] = counts.get(source, 0) + len(keys)
        return dict(sorted(counts.items()))


class LabelRun:
    """One run of several sources over the same tracks, sharing one claims table and one progress file."""

    def __init__(self, layout: Layout, *, fresh: bool = False, show_progress: bool = True) -> None:
        self.layout = layout
        self.progress = Progress(layout.cache / "labels" / "progress.json")
        self.book = ClaimsBook(layout, after_flush=self.progress.save)
        self.fresh = fresh
        self.show_progress = show_progress
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def flush(self) -> None:
        """Write claims, then progress (the book's ``after_flush``), whatever is pending."""
        with self._lock:
            self.book.flush()

    def _record(self, source: str, track_id: str, status: str, rows: Sequence[Row] | None, fingerprint: str,
                note: str = "") -> None:
        with self._lock:
            # progress first in memory, so the write the book may do now saves both
            self.progress.mark(source, track_id, status, claims=len(rows or []), fingerprint=fingerprint,
                               note=note)
            self.book.replace(track_id, source, rows)

    def _work(self, source: LabelSource, tracks: Sequence[Row], report: SourceReport, position: int) -> None:
        from tqdm import tqdm

        name = source.name
        fingerprint = source.fingerprint()
        todo = [t for t in tracks if self.fresh or not self.progress.is_done(name, t["track_id"], fingerprint)]
        report.todo, report.skipped = len(todo), len(tracks) - len(todo)
        failures_in_row = 0
        bar = tqdm(total=len(todo), desc=f"{name:<11}", unit="track", position=position, leave=True,
                   disable=None if self.show_progress else True, dynamic_ncols=True)
        try:
            for track in todo:
                if self.stop.is_set():
                    report.stopped = report.stopped or "interrupted"
                    break
                track_id = track["track_id"]
                try:
                    claims = source.claims_for(track)
                except TrackFailed as exc:
                    report.failed += 1
                    failures_in_row += 1
                    if len(report.errors) < 20:
                        report.errors.append(f"{track_id}: {exc}")
                    log.warning("%s: %s: %s", name, track_id, exc)
                    self._record(name, track_id, "error", None, fingerprint, str(exc))
                    bar.update(1)
                    if failures_in_row >= MAX_FAILURES_IN_ROW:
                        report.stopped = (f"{failures_in_row} lookups in a row failed (last: {exc}); "
                                          "the service seems unavailable, rerun later to continue")
                        break
                    continue
                except RobotsDisallowed as exc:
                    report.looked_up += 1
                    report.without += 1
                    self._record(name, track_id, "none", [], fingerprint, str(exc))
                    bar.update(1)
                    continue
                except Unreachable as exc:
                    report.stopped = exc.brief  # the command adds that finished work is saved
                    break
                except (StopRun, SourceConfigError) as exc:
                    advice = getattr(source, "stop_advice", None)
                    extra = advice(exc) if callable(advice) and isinstance(exc, StopRun) else ""
                    report.stopped = f"{exc}" + (f". {extra}" if extra else "")
                    break
                failures_in_row = 0
                rows = [c.row() for c in claims]
                report.looked_up += 1
                report.claims += len(rows)
                if rows:
                    report.with_claims += 1
                else:
                    report.without += 1
                self._record(name, track_id, "ok" if rows else "none", rows, fingerprint)
                bar.update(1)
        except Exception as exc:  # a bug inside a source: keep what is done, stop the others, re-raise later
            report.crashed = exc
            report.stopped = report.stopped or f"crashed: {type(exc).__name__}: {exc}"
            self.stop.set()
        finally:
            bar.close()

    def run(self, sources: Sequence[LabelSource], tracks: Sequence[Row]) -> list[SourceReport]:
        reports = [SourceReport(s.name) for s in sources]
        threads = [threading.Thread(target=self._work, args=(s, tracks, r, i), name=f"labels-{s.name}", daemon=True)
                   for i, (s, r) in enumerate(zip(sources, reports, strict=True))]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
            for thread in threads:
                thread.join()
            raise
        finally:
            self.flush()
        for report in reports:
            if report.crashed is not None:
                raise report.crashed
        return reports

    def summary(self, tracks: Sequence[Row], reports: Sequence[SourceReport]) -> dict[str, Any]:
        with_any = self.book.tracks_with_claims() & {t["track_id"] for t in tracks}
        return {"tracks": len(tracks), "tracks_without_claims": len(tracks) - len(with_any),
                "claims_per_source": self.book.per_source(),
                "sources": {r.name: {k: v for k, v in vars(r).items() if k not in ("name", "crashed")}
                            for r in reports}}
