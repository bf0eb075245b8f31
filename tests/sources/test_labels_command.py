"""``python -m collectors labels`` end to end: claims merged per source, resumable, clean stops, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.cli import main, parser
from collectors.sources.musicbrainz import MusicBrainzSource
from collectors.sources.pipeline import MAX_FAILURES_IN_ROW, LabelRun
from tests.servers.local_site import LocalSite, Reply
from tests.servers.musicbrainz import REC_TEARDROP, serve_musicbrainz
from tests.sources.helpers import CONTACT, claims_of, make_layout, make_track, test_session
from tests.sources.rym_html import release_page

TRACKS = [
    make_track("t01", ["Massive Attack"], "Teardrop", "Mezzanine", isrc="GBAAA9800001", duration_ms=330773),
    make_track("t02", ["Massive Attack"], "Angel", "Mezzanine", isrc="GBAAA9800002"),
    make_track("t03", ["Nobody Known"], "Unheard", "Nothing"),
]
PLAYLIST = [{"track_id": "t01", "source": "playlist", "raw_genre": "trip hop", "weight": 1.0,
             "evidence": "37i9dQZF1DX0"},
            {"track_id": "t03", "source": "musicbrainz", "raw_genre": "stale", "weight": 1.0,
             "evidence": "https://musicbrainz.org/recording/old"}]


@pytest.fixture
def rym_pages(tmp_path: Path) -> Path:
    folder = tmp_path / "rym"
    folder.mkdir()
    (folder / "mezzanine.html").write_text(release_page("Massive Attack", "Mezzanine", ["Trip Hop"], ["Downtempo"]),
                                           encoding="utf-8")
    return folder


def run_cli(*args: str) -> int:
    return main(["labels", "-q", *args])


def test_labels_writes_claims_per_source_keeps_others_and_resumes(tmp_path: Path, rym_pages: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_layout(tmp_path, TRACKS, claims=PLAYLIST)
    with LocalSite() as site:
        serve_musicbrainz(site)
        args = ["--data", str(layout.root), "--contact", CONTACT, "--musicbrainz-url", site.url("/ws/2"),
                "--musicbrainz-request-interval", "0.05", "--rym-pages", str(rym_pages)]
        assert run_cli(*args) == 0
        out = capsys.readouterr().out
        claims = claims_of(layout)
        asked = len(site.hits)
        assert run_cli(*args) == 0  # the rerun: everything done, nothing asked
        again = capsys.readouterr().out
        assert len(site.hits) == asked
    by = {(c["track_id"], c["source"], c["raw_genre"]): c for c in claims}
    assert ("t01", "playlist", "trip hop") in by  # another source's rows are kept
    assert ("t03", "musicbrainz", "stale") not in by  # our own stale rows for a looked-up track are replaced
    assert by[("t01", "musicbrainz", "trip hop")]["evidence"].endswith(REC_TEARDROP)
    assert by[("t01", "rym", "Trip Hop")]["weight"] == 1.0 and by[("t02", "rym", "Downtempo")]["weight"] == 0.5
    assert "musicbrainz" in out and "tracks without any claim (any source): 1" in out
    assert "playlist 1" in out and "rym 4" in out
    progress = json.loads((layout.cache / "labels" / "progress.json").read_text())
    assert progress["sources"]["musicbrainz"]["t03"]["status"] == "none"
    assert progress["sources"]["rym"]["t01"]["status"] == "ok"
    mb_line = next(line for line in again.splitlines() if line.strip().startswith("musicbrainz"))
    assert mb_line.split()[1:] == ["0", "0", "0", "0", "0", "3"]  # looked up 0, done before 3
    assert (layout.cache / "http" / "musicbrainz.sqlite").exists()


def test_a_new_saved_page_reopens_tracks_rym_found_nothing_for(tmp_path: Path, rym_pages: Path) -> None:
    layout = make_layout(tmp_path, TRACKS)
    args = ["--data", str(layout.root), "--sources", "rym", "--rym-pages", str(rym_pages)]
    assert run_cli(*args) == 0
    assert {c["track_id"] for c in claims_of(layout)} == {"t01", "t02"}
    (rym_pages / "nothing.html").write_text(release_page("Nobody Known", "Nothing", ["Outsider House"]),
                                            encoding="utf-8")
    assert run_cli(*args) == 0
    assert {c["track_id"] for c in claims_of(layout)} == {"t01", "t02", "t03"}


def test_retry_after_beyond_the_cap_stops_cleanly_and_keeps_progress(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_layout(tmp_path, TRACKS, claims=PLAYLIST)
    with LocalSite() as site:
        serve_musicbrainz(site)
        site.route("/ws/2/isrc/GBAAA9800002", Reply.json({"error": "slow down"}, 503, headers={"Retry-After": "7200"}))
        code = run_cli("--data", str(layout.root), "--contact", CONTACT, "--musicbrainz-url", site.url("/ws/2"),
                       "--musicbrainz-request-interval", "0.05")
        assert "/ws/2/recording" not in site.paths()  # t03's search never happened
    captured = capsys.readouterr()
    assert code == 2
    assert "stopped early" in captured.err and "7200 s" in captured.err and "300 s cap" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    sources = {(c["track_id"], c["source"]) for c in claims_of(layout)}
    assert ("t01", "musicbrainz") in sources and ("t01", "playlist") in sources  # t01 kept, playlist untouched
    progress = json.loads((layout.cache / "labels" / "progress.json").read_text())
    assert set(progress["sources"]["musicbrainz"]) == {"t01"}


def test_a_source_that_keeps_failing_stops_alone(tmp_path: Path) -> None:
    tracks = [make_track(f"t{i:02d}", ["A"], f"Song {i}", None, isrc=f"GBAAA98{i:05d}") for i in range(8)]
    layout = make_layout(tmp_path, tracks)
    with LocalSite() as site:
        site.default = Reply(500, "internal error")
        mb = MusicBrainzSource(test_session(None, interval=0.01, max_retries=0), base_url=site.url("/ws/2"))
        [report] = LabelRun(layout, show_progress=False).run([mb], tracks)
    assert report.failed == MAX_FAILURES_IN_ROW and report.stopped and "in a row failed" in report.stopped
    progress = json.loads((layout.cache / "labels" / "progress.json").read_text())
    assert {e["status"] for e in progress["sources"]["musicbrainz"].values()} == {"error"}


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--sources", "musicbrainz"], {}, "no contact configured"),
    (["--sources", "discogs"], {}, "unknown source 'discogs'"),
    (["--sources", "rym"], {}, "give --rym-pages DIR"),
    (["--rym-live", "--rym-request-interval", "2", "--contact", CONTACT], {},
     "--rym-request-interval 2: RateYourMusic is asked at most"),
    (["--sources", "lastfm"], {"LASTFM_API_KEY": ""}, "Last.fm needs an API key"),
    (["--contact", "not-an-address"], {}, "--contact: contact 'not-an-address' is neither"),
    (["--sources", "rym", "--rym-pages", "/nonexistent/folder"], {}, "no such folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict,
                                          message: str) -> None:
    monkeypatch.delenv("GENRE_CONTACT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    layout = make_layout(tmp_path, TRACKS)
    assert run_cli("--data", str(layout.root), *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not layout.table_path("claims").exists()  # nothing half-written


def test_missing_tracks_table_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--data", str(tmp_path / "empty"), "--contact", CONTACT) == 2
    err = capsys.readouterr().err.strip()
    tracks = tmp_path / "empty" / "manifests" / "tracks.csv"
    assert err == f"error: {tracks} not found: run make collect (or make demo for the synthetic corpus) first"


@pytest.mark.parametrize("old, new", [
    (["--refresh"], ["--fresh"]),
    (["--rym-interval", "12"], ["--rym-request-interval", "12"]),
    (["--musicbrainz-interval", "2"], ["--musicbrainz-request-interval", "2"]),
])
def test_old_labels_flag_names_still_work_with_one_deprecation_line(old: list[str], new: list[str],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    command = ["labels", "--data", "somewhere"]
    assert vars(parser().parse_args(command + old)) == vars(parser().parse_args(command + new))
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {old[0]} is deprecated and will be removed; use {new[0]}"]
