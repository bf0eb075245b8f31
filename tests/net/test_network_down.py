"""Network down is one line: the real commands, offline, end in seconds with ``cannot reach HOST``.

Each command runs in its own process (``python -m tests.net.offline``: the suite's guard plus a
resolver that fails every name like an offline machine's), so its exit status, its whole stderr
and its duration are the user's.  A refused connection is a closed port on 127.0.0.1.  Rows
finished before the network went away stay in their tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.cli import main as collectors_main
from manifests import Layout, read_table, write_table
from manifests.schema import DOWNLOADS, PLAYLISTS, TRACKS
from tests.net.offline import closed_port
from tests.servers.local_site import LocalSite
from tests.servers.musicbrainz import serve_musicbrainz
from tests.servers.spotify import FakeSpotify, spotify_id, tracks
from tests.sources.helpers import CONTACT, claims_of, make_layout, make_track

REPO = Path(__file__).resolve().parents[2]
#: generous: proves "seconds, not minutes" (the start-up of a Python process included)
NOT_MINUTES_S = 10.0

MB_TRACKS = [
    make_track("t01", ["Massive Attack"], "Teardrop", "Mezzanine", isrc="GBAAA9800001", duration_ms=330773),
    make_track("t02", ["Massive Attack"], "Angel", "Mezzanine", isrc="GBAAA9800002"),
    make_track("t03", ["Nobody Known"], "Unheard", "Nothing"),
]


def offline(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """``python -m collectors ARGS`` on an offline machine: (exit status, stdout, stderr, seconds)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "SPOTIPY_", "LASTFM_"))}
    environ.update({"PYTHONPATH": str(REPO), "GENRE_CONTACT": CONTACT, **(env or {})})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tests.net.offline", *args], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def one_error_line(stderr: str) -> str:
    """The whole stderr of a ``--quiet`` run: exactly one ``error:`` line, no traceback."""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_labels_offline_stops_at_once_naming_musicbrainz_and_keeps_finished_claims(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, MB_TRACKS)
    with LocalSite() as site:  # the first run, online: one track done
        serve_musicbrainz(site)
        assert collectors_main(["labels", "-q", "--data", str(layout.root), "--contact", CONTACT, "--limit", "1",
                                "--musicbrainz-url", site.url("/ws/2"),
                                "--musicbrainz-request-interval", "0.05"]) == 0
    before = claims_of(layout)
    assert {c["track_id"] for c in before} == {"t01"}

    code, _, err, seconds = offline(tmp_path, "labels", "-q", "--data", str(layout.root))
    line = one_error_line(err)
    assert code == 2 and seconds < NOT_MINUTES_S
    assert "musicbrainz: cannot reach musicbrainz.org: check your connection (the host name could not be " \
           "looked up)" in line
    assert claims_of(layout) == before  # finished rows kept


def test_labels_against_a_refused_port_names_host_and_port(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, MB_TRACKS)
    port = closed_port()
    code, _, err, seconds = offline(tmp_path, "labels", "-q", "--data", str(layout.root),
                                    "--musicbrainz-url", f"http://127.0.0.1:{port}/ws/2")
    line = one_error_line(err)
    assert code == 2 and seconds < NOT_MINUTES_S
    assert f"cannot reach 127.0.0.1:{port}: check your connection (the connection was refused)" in line
    assert "in a row failed" not in line  # not the slow "5 lookups in a row" stop


def test_download_offline_stops_at_the_first_search_and_keeps_finished_downloads(tmp_path: Path) -> None:
    from tests.fixtures.corpus import tiny_data_folder

    layout = tiny_data_folder(tmp_path / "data")
    tracks = layout.table_path(TRACKS)  # collected tracks (the corpus's own are never searched for)
    write_table(tracks, TRACKS, [{**r, "origin": "csv"} for r in read_table(tracks, TRACKS)])
    table = layout.table_path(DOWNLOADS)
    finished = [r for r in read_table(table, DOWNLOADS) if r["track_id"] != "tr-nosplit"]
    write_table(table, DOWNLOADS, finished)  # one track still to download

    code, out, err, seconds = offline(tmp_path, "download", "-q", "--data", str(layout.root), "--workers", "1")
    line = one_error_line(err)
    assert code == 2 and seconds < NOT_MINUTES_S
    assert line.startswith("error: cannot reach music.youtube.com: check your connection "
                           "(the host name could not be looked up)"), line
    assert "stopped early: cannot reach music.youtube.com" in out  # the summary says it too
    rows = {r["track_id"]: r for r in read_table(table, DOWNLOADS)}
    assert "tr-nosplit" not in rows  # no row: the rerun does it
    for row in finished:
        if row["track_id"] != "tr-drop":  # (dropped in overrides.csv: the plan marks it skipped)
            assert rows[row["track_id"]] == row  # finished rows kept, untouched


def test_collect_against_a_refused_spotify_names_it_and_keeps_finished_playlists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Layout.at(tmp_path / "data")
    first, second = spotify_id("offline:first"), spotify_id("offline:second")
    fake = FakeSpotify().start()
    try:
        fake.add_playlist(first, "First", tracks(3))
        fake.add_playlist(second, "Second", tracks(2, start=3))
        env = {"SPOTIFY_CLIENT_ID": fake.client_id, "SPOTIFY_CLIENT_SECRET": fake.client_secret,
               "SPOTIFY_API_URL": fake.api_url, "SPOTIFY_ACCOUNTS_URL": fake.accounts_url}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert collectors_main(["collect", "-q", "--auth", "client", "--data", str(layout.root),
                                "--playlists", f"rock={first}"]) == 0
    finally:
        fake.stop()  # Spotify is gone: its port refuses connections
    kept = read_table(layout.table_path(TRACKS), TRACKS)
    assert len(kept) == 3

    code, _, err, seconds = offline(tmp_path, "collect", "-q", "--auth", "client", "--data", str(layout.root),
                                    "--playlists", f"rock={first} jazz={second}", env=env)
    line = one_error_line(err)
    host = env["SPOTIFY_ACCOUNTS_URL"].split("://", 1)[1].split("/", 1)[0]
    assert code == 2 and seconds < NOT_MINUTES_S
    assert line.startswith(f"error: cannot reach {host}: check your connection (the connection was refused)")
    assert read_table(layout.table_path(TRACKS), TRACKS) == kept  # the finished playlist's tracks stay
    assert [p["playlist_id"] for p in read_table(layout.table_path(PLAYLISTS), PLAYLISTS)
            if p["status"] == "ok"] == [first]


def test_collect_offline_names_spotify_accounts(tmp_path: Path) -> None:
    code, _, err, seconds = offline(tmp_path, "collect", "-q", "--auth", "client", "--data", str(tmp_path / "d"),
                                    "--playlists", f"rock={spotify_id('offline:any')}",
                                    env={"SPOTIFY_CLIENT_ID": "id", "SPOTIFY_CLIENT_SECRET": "secret-not-real"})
    line = one_error_line(err)
    assert code == 2 and seconds < NOT_MINUTES_S
    assert line.startswith("error: cannot reach accounts.spotify.com: check your connection "
                           "(the host name could not be looked up)"), line
