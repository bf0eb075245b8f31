"""Server faults during download: each ends in the row a user can act on, never in a bad file."""

from __future__ import annotations

import pytest

from collectors.audio.pipeline import DownloadStage
from collectors.youtube.errors import YouTubeStop
from manifests import Layout, read_table
from manifests.schema import DOWNLOADS
from tests.audio.helpers import (
    LibraryTrack,
    StaticSearcher,
    data_files,
    fast_settings,
    serve_library,
    song,
    video_id_for,
    write_tracks,
)


def _one_track(tmp_path, media, data: bytes, ext: str, fault: str | None, seconds: float = 2.5):
    layout = Layout.at(tmp_path / "data")
    vid = video_id_for(1, "flt")
    searcher = serve_library(layout, media, [LibraryTrack("tfault00001", vid, data, ext, seconds, fault=fault)])
    return layout, searcher, f"{vid}.{ext}"


def _row(layout: Layout) -> dict:
    rows = read_table(layout.table_path(DOWNLOADS), DOWNLOADS)
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("fault, status, retryable, words", [
    ("404", "skipped", False, "video unavailable"),
    ("403", "failed", True, "HTTP 403"),
    ("truncate", "failed", True, ""),
    ("drop", "failed", True, ""),
])
def test_faults_leave_a_clear_row_and_no_audio(tmp_path, media, clips, fault, status, retryable, words) -> None:
    clip = clips["mp3_stereo_44k"]
    layout, searcher, name = _one_track(tmp_path, media, clip.data, "mp3", fault)
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    row = _row(layout)
    assert (row["status"], row["retryable"]) == (status, retryable), row["reason"]
    assert words in row["reason"] and row["youtube_id"] == searcher.candidates["tfault00001"][0].video_id
    assert data_files(layout.root) == []
    assert row["attempts"] == 1
    if retryable:  # our own retries: the video was asked for again
        assert media.hits[name] >= 2


def test_a_truncated_body_once_is_recovered_by_retrying(tmp_path, media, clips) -> None:
    clip = clips["opus_webm_stereo_48k"]
    layout, searcher, name = _one_track(tmp_path, media, clip.data, "webm", "truncate_once")
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    row = _row(layout)
    assert row["status"] == "ok", row["reason"]
    assert abs(row["audio_duration_s"] - clip.seconds) <= 0.05
    assert media.hits[name] >= 2


@pytest.mark.parametrize("fault", ["octet_type", "html_type"])
def test_wrong_content_type_still_converts_what_the_bytes_are(tmp_path, media, clips, fault) -> None:
    clip = clips["flac_stereo_44k"]
    layout, searcher, _ = _one_track(tmp_path, media, clip.data, "flac", fault)
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    assert _row(layout)["status"] == "ok"


@pytest.mark.parametrize("payload, words", [
    (b"<html><body>This is not audio at all</body></html>" * 20, "undecodable"),
    (b"\x00\x01garbage" * 500, "undecodable"),
])
def test_a_file_that_is_not_audio_is_rejected_as_undecodable(tmp_path, media, payload, words) -> None:
    layout, searcher, _ = _one_track(tmp_path, media, payload, "mp3", None)
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    row = _row(layout)
    assert row["status"] == "failed" and not row["retryable"] and words in row["reason"]
    assert data_files(layout.root) == []


@pytest.mark.parametrize("clip_name, words", [("silence", "silent"), ("short", "too short")])
def test_silent_and_too_short_audio_is_rejected(tmp_path, media, clips, clip_name, words) -> None:
    clip = clips[clip_name]
    layout, searcher, _ = _one_track(tmp_path, media, clip.data, "mp3", None, seconds=clip.seconds)
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    row = _row(layout)
    assert row["status"] == "failed" and words in row["reason"] and not row["retryable"]
    assert data_files(layout.root) == []


def test_an_unusable_first_choice_falls_back_to_the_next_candidate(tmp_path, media, clips) -> None:
    clip = clips["aac_m4a_mono_44k"]
    layout = Layout.at(tmp_path / "data")
    bad, good = video_id_for(1, "bad"), video_id_for(2, "good")
    bad_url = media.add(f"{bad}.m4a", clip.data, "404")
    good_url = media.add(f"{good}.m4a", clip.data)
    write_tracks(layout, [{"track_id": "tfallback01", "title": "Song", "artists": ["Band"], "seconds": 2.5}])
    searcher = StaticSearcher({"tfallback01": [
        song(bad, bad_url, artist="Band", title="Song", seconds=2.5),
        song(good, good_url, artist="Band", title="Song (Lyrics)", seconds=2.6)]})
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    row = _row(layout)
    assert row["status"] == "ok" and row["youtube_id"] == good
    assert row["runner_up_id"] == bad


def test_rate_limiting_stops_the_run_and_keeps_what_finished(tmp_path, media, clips) -> None:
    layout = Layout.at(tmp_path / "data")
    searcher = serve_library(layout, media, [
        LibraryTrack(f"trate{index:06d}", video_id_for(index, "rl"), clips["mp3_mono_48k"].data, "mp3", 2.5,
                     title=f"Song {index}", fault=fault)
        for index, fault in enumerate([None, None, "429", None, None])])
    stage = DownloadStage(layout, fast_settings(workers=1), searcher=searcher)
    summary = stage.run()
    assert isinstance(stage.stop, YouTubeStop) and "rate limiting" in summary.stopped
    rows = {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}
    assert sorted(rows) == ["trate000000", "trate000001"]  # the refused track and later ones: untouched
    assert all(r["status"] == "ok" for r in rows.values())
    assert searcher.searched == ["trate000000", "trate000001", "trate000002"]
    assert data_files(layout.root) == ["trate000000.wav", "trate000001.wav"]
    # the limit is lifted: the rerun does exactly the rest
    media.faults.clear()
    searcher.searched.clear()
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    assert searcher.searched == ["trate000002", "trate000003", "trate000004"]
    assert len(data_files(layout.root)) == 5


def test_bot_check_from_youtube_stops_cleanly(tmp_path, media, clips) -> None:
    """yt-dlp's YouTube extractor cannot run offline: a downloader raising its exact error stands in."""
    from yt_dlp.utils import DownloadError

    from collectors.audio.download import VideoFailed  # noqa: F401  (the other outcome a downloader has)
    from collectors.youtube.errors import stop_for

    class BotChecked:
        def fetch(self, candidate):
            message = ("ERROR: [youtube] " + candidate.video_id + ": Sign in to confirm you\u2019re not a bot. "
                       "Use --cookies-from-browser or --cookies for the authentication.")
            stop = stop_for(str(DownloadError(message)))
            assert stop is not None
            raise stop

    layout, searcher, _ = _one_track(tmp_path, media, clips["mp3_mono_48k"].data, "mp3", None)
    stage = DownloadStage(layout, fast_settings(workers=1), searcher=searcher,
                          downloader_factory=lambda worker: BotChecked())
    summary = stage.run()
    assert "not a bot" in summary.stopped and "--cookies" in summary.stopped
    assert read_table(layout.table_path(DOWNLOADS), DOWNLOADS) == []
