"""A credit that names nobody ("[unknown]": GTZAN, untagged files) links nothing anywhere after import."""

from __future__ import annotations

from pathlib import Path

from collectors.audio.pipeline import DownloadStage
from collectors.sources.base import track_artists
from labeling.cli import main as labeling
from manifests import Layout
from manifests.ids import UNKNOWN_ARTIST
from tests.audio.helpers import StaticSearcher, fast_settings
from tests.fixtures.corpus import (
    claim_row,
    download_row,
    read_rows,
    split_row,
    track_row,
    write_tables,
)


def _unknowns(layout: Layout) -> Layout:
    tracks = [track_row(f"loc{i:03d}", "Untitled", [UNKNOWN_ARTIST], origin="local") for i in range(6)]
    return write_tables(
        layout, tracks=tracks,
        claims=[claim_row(t["track_id"], "folder", "rock" if i % 2 else "jazz") for i, t in enumerate(tracks)],
        downloads=[download_row(layout, t["track_id"]) for t in tracks],
        splits=[split_row(t["track_id"], ("train", "validation", "test")[i % 3], group=t["track_id"])
                for i, t in enumerate(tracks)])


def test_the_audit_sees_no_leak_and_no_duplicate_among_unknown_artists(layout: Layout) -> None:
    data = str(_unknowns(layout).root)
    assert labeling(["resolve", "--data", data, "-q"]) == 0
    assert labeling(["audit", "--data", data, "--no-plots", "-q"]) == 0
    flagged = (layout.reports / "audit" / "flagged.csv").read_text(encoding="utf-8")
    assert "artist_leakage" not in flagged and "duplicate_artist_title" not in flagged


def test_label_sources_do_not_look_up_nobody() -> None:
    assert track_artists({"artists": [UNKNOWN_ARTIST, "Various Artists", "Björk"]}) == ["Björk"]
    assert track_artists({"artists": [UNKNOWN_ARTIST]}) == []


def test_download_never_searches_for_imported_or_corpus_tracks(layout: Layout, tmp_path: Path) -> None:
    _unknowns(layout)
    for wav in layout.audio.glob("*.wav"):
        wav.unlink()  # even with its audio gone, an imported track is not looked for on YouTube
    searcher = StaticSearcher({})
    summary = DownloadStage(layout, fast_settings(retry_failed=True), searcher=searcher).run()
    assert summary.counts["not_on_youtube"] == 6 and summary.planned == 0
    assert {r["status"] for r in read_rows(layout, "downloads")} == {"ok"}
    assert any("not searched" in line for line in summary.lines())
