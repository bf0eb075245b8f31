"""The download stage tells "this video's host failed" from "we are offline" (real yt-dlp, real sockets).

A video whose server refuses connections (a closed port on 127.0.0.1) or whose name does not
resolve (the lookup fails as on an offline machine) reaches no server.  One such video between
working ones is that video's failure: a retryable row.  Several in a row with nothing answering
in between (or at the end of the work) mean we are offline: the stage stops in seconds with
``cannot reach HOST``, writes no row for them, and keeps every finished row.
"""

from __future__ import annotations

import socket
import time

import pytest

from collectors.audio.pipeline import DownloadStage
from collectors.net import Unreachable
from manifests import Layout, read_table
from manifests.schema import DOWNLOADS
from tests.audio.helpers import StaticSearcher, data_files, fast_settings, song, video_id_for, write_tracks
from tests.net.offline import closed_port, offline_getaddrinfo

NOT_MINUTES_S = 10.0


def _library(layout: Layout, media, clip, gone: set[int], n: int, gone_url: str) -> StaticSearcher:
    """``n`` tracks; those in ``gone`` point at a server that cannot be reached."""
    cands, tracks = {}, []
    for index in range(n):
        track_id, vid = f"toff{index:07d}", video_id_for(index, "off")
        url = gone_url + f"/media/{vid}.mp3" if index in gone else media.add(f"{vid}.mp3", clip.data)
        cands[track_id] = [song(vid, url, artist="Band", title=f"Song {index}", seconds=clip.seconds)]
        tracks.append({"track_id": track_id, "title": f"Song {index}", "artists": ["Band"], "seconds": clip.seconds})
    write_tracks(layout, tracks)
    return StaticSearcher(cands)


def _rows(layout: Layout) -> dict[str, dict]:
    return {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS, missing_ok=True)}


def test_offline_midway_stops_in_seconds_and_keeps_what_finished(tmp_path, media, clips) -> None:
    layout = Layout.at(tmp_path / "data")
    port = closed_port()
    searcher = _library(layout, media, clips["mp3_mono_48k"], gone={2, 3, 4, 5}, n=6,
                        gone_url=f"http://127.0.0.1:{port}")
    stage = DownloadStage(layout, fast_settings(workers=1), searcher=searcher)
    started = time.monotonic()
    summary = stage.run()
    assert time.monotonic() - started < NOT_MINUTES_S
    assert isinstance(stage.stop, Unreachable) and stage.stop.host == f"127.0.0.1:{port}"
    assert str(stage.stop).startswith(f"cannot reach 127.0.0.1:{port}: check your connection")
    assert summary.stopped == str(stage.stop)
    # offline_after (3) downloads in a row reached no server; the sixth track was never started
    assert searcher.searched == [f"toff{i:07d}" for i in range(5)]
    rows = _rows(layout)
    assert sorted(rows) == ["toff0000000", "toff0000001"] and all(r["status"] == "ok" for r in rows.values())
    assert data_files(layout.root) == ["toff0000000.wav", "toff0000001.wav"]

    # the network is back: the rerun does exactly the rest
    again = _library(layout, media, clips["mp3_mono_48k"], gone=set(), n=6, gone_url="")
    rerun = DownloadStage(layout, fast_settings(workers=1), searcher=again)
    rerun.run()
    assert rerun.stop is None and again.searched == [f"toff{i:07d}" for i in range(2, 6)]
    assert all(r["status"] == "ok" for r in _rows(layout).values()) and len(_rows(layout)) == 6


def test_one_unreachable_video_between_working_ones_is_that_videos_failure(tmp_path, media, clips) -> None:
    layout = Layout.at(tmp_path / "data")
    port = closed_port()
    searcher = _library(layout, media, clips["mp3_mono_48k"], gone={1}, n=4, gone_url=f"http://127.0.0.1:{port}")
    stage = DownloadStage(layout, fast_settings(workers=1), searcher=searcher)
    summary = stage.run()
    assert stage.stop is None and summary.stopped is None
    rows = _rows(layout)
    assert [rows[t]["status"] for t in sorted(rows)] == ["ok", "failed", "ok", "ok"]
    failed = rows["toff0000001"]
    assert failed["retryable"] and f"cannot reach 127.0.0.1:{port}" in failed["reason"]
    assert summary.retryable_failed == 1


@pytest.mark.parametrize("kind", ["refused", "dns"])
def test_a_run_whose_work_ends_unanswered_says_cannot_reach(tmp_path, media, clips, monkeypatch, kind) -> None:
    """Too few tracks for ``offline_after``: nothing answered after the failure, so we are offline."""
    layout = Layout.at(tmp_path / "data")
    if kind == "dns":
        monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo(socket.getaddrinfo))
        gone, host = "http://media.no-such-host.invalid", "media.no-such-host.invalid"
    else:
        port = closed_port()
        gone, host = f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"
    searcher = _library(layout, media, clips["mp3_mono_48k"], gone={0}, n=1, gone_url=gone)
    stage = DownloadStage(layout, fast_settings(workers=1), searcher=searcher)
    started = time.monotonic()
    stage.run()
    assert time.monotonic() - started < NOT_MINUTES_S
    assert isinstance(stage.stop, Unreachable) and stage.stop.host == host
    assert _rows(layout) == {} and data_files(layout.root) == []
