"""The claims table is the shared ``TableStore``: a pair's rows are swapped whole, claims are on disk before progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.sources.pipeline import ClaimsBook, LabelRun
from tests.fixtures.corpus import claim_row
from tests.sources.helpers import claims_of, make_layout, make_track


def _claim(track_id: str, genre: str, source: str = "musicbrainz") -> dict[str, Any]:
    return claim_row(track_id, source, genre, evidence=f"e-{genre}")


def test_a_pair_is_never_written_half_swapped(tmp_path: Path) -> None:
    old = [_claim("t01", "rock"), _claim("t01", "pop"), _claim("t01", "rock", source="playlist")]
    layout = make_layout(tmp_path, [make_track("t01", ["A"], "Song")], claims=old)
    seen: list[set[tuple[str, str]]] = []
    book = ClaimsBook(layout, after_flush=lambda: seen.append(
        {(c["source"], c["raw_genre"]) for c in claims_of(layout)}))
    book.flush_every = 1  # a write after every change, if it were allowed mid-swap
    book.replace("t01", "musicbrainz", [_claim("t01", "jazz"), _claim("t01", "blues")])
    assert seen == [{("playlist", "rock"), ("musicbrainz", "jazz"), ("musicbrainz", "blues")}]
    assert book.per_source() == {"musicbrainz": 2, "playlist": 1}


def test_lookups_that_change_no_row_count_toward_the_next_write(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, [make_track(f"t0{i}", ["A"], f"Song {i}") for i in range(3)])
    writes: list[int] = []
    book = ClaimsBook(layout, after_flush=lambda: writes.append(len(claims_of(layout))))
    book.flush_every = 2
    book.replace("t00", "musicbrainz", [])  # found nothing
    assert writes == []
    book.replace("t01", "musicbrainz", None)  # failed: rows kept, progress still changes
    assert writes == [0]


def test_progress_is_saved_after_the_claims_it_describes(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, [make_track("t01", ["A"], "Song")])
    run = LabelRun(layout, show_progress=False)
    saved: list[bool] = []
    original = run.progress.save

    def save() -> None:  # whenever progress is written, the claims it counts are already on disk
        saved.append(len(claims_of(layout)) == 1)
        original()

    run.book.after_flush = save
    run.book.flush_every = 1
    run._record("musicbrainz", "t01", "ok", [_claim("t01", "rock")], "")
    assert saved == [True] and run.progress.is_done("musicbrainz", "t01")
