"""Small builders shared by the sources tests: a data folder with a tracks table, test policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.net import HostLimiter, Policy, PoliteSession, make_session
from manifests import Layout, read_table, write_table
from manifests.schema import CLAIMS, TRACKS
from tests.fixtures.corpus import track_row

CONTACT = "tester@example.org"


def make_track(tid: str, artists: list[str], title: str, album: str | None = None, *, isrc: str | None = None,
               duration_ms: int | None = None) -> dict[str, Any]:
    return track_row(tid, title, artists, origin="csv", album=album, isrc=isrc, duration_ms=duration_ms)


def make_layout(tmp_path: Path, tracks: list[dict[str, Any]], claims: list[dict[str, Any]] | None = None) -> Layout:
    layout = Layout.at(tmp_path / "data")
    write_table(layout.table_path("tracks"), TRACKS, tracks)
    if claims is not None:
        write_table(layout.table_path("claims"), CLAIMS, claims)
    return layout


def claims_of(layout: Layout) -> list[dict[str, Any]]:
    return read_table(layout.table_path("claims"), CLAIMS, missing_ok=True)


def test_session(cache: Path | None, *, interval: float = 0.05, robots: bool = False, **changes: Any) -> PoliteSession:
    """A polite session with test-sized intervals and its own limiter (floors still apply to real hosts)."""
    settings: dict[str, Any] = {"min_interval_s": interval, "jitter_s": 0.01, "backoff_base_s": 0.01,
                                "backoff_max_s": 0.05, "max_retries": 2, "retry_after_cap_s": 5.0,
                                "contact": CONTACT, "obey_robots": robots, "cache_path": cache}
    settings.update(changes)
    return make_session(Policy(**settings), limiter=HostLimiter())


test_session.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test
