"""Reruns, overrides, cookies, trimming and a real recording through the download stage."""

from __future__ import annotations

import logging
import os
import stat

import soundfile as sf

from collectors.audio import pipeline as pipeline_module
from collectors.audio.pipeline import DownloadStage
from manifests import Layout, read_table, write_table
from manifests.schema import DOWNLOADS, OVERRIDES
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


def _library(tmp_path, media, clips, n: int, faults: dict[int, str] | None = None, clip: str = "mp3_mono_48k"):
    layout = Layout.at(tmp_path / "data")
    return layout, serve_library(layout, media, [
        LibraryTrack(f"trerun{index:05d}", video_id_for(index, "re"), clips[clip].data, "mp3", 2.5,
                     title=f"Song {index}", fault=(faults or {}).get(index))
        for index in range(n)])


def _rows(layout: Layout) -> dict[str, dict]:
    return {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}


def test_rerun_does_only_what_is_missing_or_failed_and_retryable(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 4, faults={1: "403", 2: "404"})
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    first = _rows(layout)
    assert [first[t]["status"] for t in sorted(first)] == ["ok", "failed", "skipped", "ok"]

    media.faults.clear()
    searcher.searched.clear()
    summary = DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    assert searcher.searched == ["trerun00001"]  # the 404 is not retryable, the ok ones are done
    assert summary.already_ok == 2 and summary.counts["ok"] == 1
    second = _rows(layout)
    assert second["trerun00001"]["status"] == "ok" and second["trerun00001"]["attempts"] == 2
    assert second["trerun00000"] == first["trerun00000"]  # untouched, same timestamp

    # a deleted file is noticed and made again; --retry-failed retries the skipped one too
    os.remove(layout.audio_path("trerun00003"))
    searcher.searched.clear()
    DownloadStage(layout, fast_settings(workers=1, retry_failed=True), searcher=searcher).run()
    assert searcher.searched == ["trerun00002", "trerun00003"]
    assert {r["status"] for r in _rows(layout).values()} == {"ok"}
    assert data_files(layout.root) == [f"trerun{i:05d}.wav" for i in range(4)]


def test_verify_redoes_files_whose_hash_changed_and_nothing_else(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 2)
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    path = layout.audio_path("trerun00001")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    searcher.searched.clear()
    DownloadStage(layout, fast_settings(workers=1, verify_audio=True), searcher=searcher).run()
    assert searcher.searched == ["trerun00001"]
    from manifests.hashing import sha256_file

    assert _rows(layout)["trerun00001"]["sha256"] == sha256_file(path)


def test_limit_processes_only_n_tracks(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 3)
    summary = DownloadStage(layout, fast_settings(workers=1, limit=1), searcher=searcher).run()
    assert summary.planned == 1 and list(_rows(layout)) == ["trerun00000"]


def test_overrides_drop_pin_and_forbid(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 3)
    pinned = video_id_for(99, "pin")
    searcher.urls[pinned] = media.add(f"{pinned}.mp3", clips["vorbis_ogg_mono_48k"].data)
    other = video_id_for(98, "alt")
    alt_url = media.add(f"{other}.mp3", clips["mp3_mono_48k"].data)
    searcher.candidates["trerun00002"].append(song(other, alt_url, artist="Band", title="Song 2 (Audio)", seconds=2.6))
    forbidden = searcher.candidates["trerun00002"][0].video_id
    write_table(layout.overrides, OVERRIDES, [
        {"track_id": "trerun00000", "action": "drop", "value": None, "note": "not music"},
        {"track_id": "trerun00001", "action": "pin_video", "value": pinned, "note": "checked by hand"},
        {"track_id": "trerun00002", "action": "forbid_video", "value": forbidden, "note": "wrong song"},
    ])
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    rows = _rows(layout)
    assert rows["trerun00000"]["status"] == "skipped" and rows["trerun00000"]["reason"].startswith("dropped")
    assert rows["trerun00001"]["youtube_id"] == pinned and rows["trerun00001"]["match_score"] == 1.0
    assert rows["trerun00001"]["match_detail"] == {"pinned": 1.0}
    assert searcher.searched == ["trerun00002"]  # pinned: no search
    assert rows["trerun00002"]["youtube_id"] == other and rows["trerun00002"]["status"] == "ok"
    assert data_files(layout.root) == ["trerun00001.wav", "trerun00002.wav"]

    # forbidding the video a finished track uses redoes that track with another one
    write_table(layout.overrides, OVERRIDES, [
        {"track_id": "trerun00002", "action": "forbid_video", "value": forbidden, "note": None},
        {"track_id": "trerun00002", "action": "forbid_video", "value": other, "note": None},
    ])
    searcher.searched.clear()
    DownloadStage(layout, fast_settings(workers=1), searcher=searcher).run()
    rows = _rows(layout)
    assert searcher.searched == ["trerun00000", "trerun00002"]  # undropped, and re-matched
    assert rows["trerun00002"]["status"] == "no_match" and "forbidden" in rows["trerun00002"]["reason"]
    assert data_files(layout.root) == ["trerun00000.wav", "trerun00001.wav"]  # the forbidden video's audio is gone


def test_cookies_are_used_from_a_private_copy_and_never_logged(tmp_path, media, clips, monkeypatch, caplog) -> None:
    layout, searcher = _library(tmp_path, media, clips, 2)
    secret = "SECRETcookieVALUE123456"
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n"
                       f".youtube.com\tTRUE\t/\tTRUE\t4102444800\tLOGIN_INFO\t{secret}\n"
                       f"127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tSID\t{secret}\n", encoding="utf-8")
    original = cookies.read_bytes()
    copies: list[tuple] = []
    real_copy = pipeline_module.private_cookie_copy

    def recording_copy(source, folder, worker):
        path = real_copy(source, folder, worker)
        copies.append((path, stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(folder.stat().st_mode)))
        return path

    monkeypatch.setattr(pipeline_module, "private_cookie_copy", recording_copy)
    caplog.set_level(logging.DEBUG)
    DownloadStage(layout, fast_settings(workers=1, download_workers=2, cookies=cookies), searcher=searcher).run()
    assert {r["status"] for r in _rows(layout).values()} == {"ok"}
    assert any(seen and secret in seen for seen in media.cookies_seen)  # yt-dlp sent them
    assert copies and all(mode == 0o600 and folder_mode == 0o700 for _, mode, folder_mode in copies)
    assert all(not path.exists() for path, _, _ in copies)  # removed after the run
    assert cookies.read_bytes() == original  # yt-dlp rewrote only its copy
    assert secret not in caplog.text
    assert secret not in layout.table_path(DOWNLOADS).read_text(encoding="utf-8")


def test_max_seconds_keeps_a_window_of_the_track(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 2)
    DownloadStage(layout, fast_settings(workers=1, max_seconds=1.5, window="middle"), searcher=searcher).run()
    for row in _rows(layout).values():
        assert row["status"] == "ok" and abs(row["audio_duration_s"] - 1.5) < 0.01
        assert sf.info(str(layout.resolve(row["audio_path"]))).duration == 1.5


def test_a_real_recording_goes_through_the_pipeline(tmp_path, media, shared_dir) -> None:
    source = sorted((shared_dir / "real-audio").glob("Hungarian_Dance*.ogg"))[0]
    seconds = sf.info(str(source)).duration
    layout = Layout.at(tmp_path / "data")
    vid = video_id_for(7, "real")
    url = media.add(f"{vid}.ogg", source.read_bytes())
    write_tracks(layout, [{"track_id": "treal000001", "title": "Hungarian Dance No. 5",
                           "artists": ["US Army Strings"], "seconds": round(seconds, 1)}])
    searcher = StaticSearcher({"treal000001": [song(vid, url, artist="US Army Strings",
                                                    title="Hungarian Dance No. 5", seconds=round(seconds))]})
    DownloadStage(layout, fast_settings(workers=1, min_seconds=5.0), searcher=searcher).run()
    row = _rows(layout)["treal000001"]
    assert row["status"] == "ok", row["reason"]
    info = sf.info(str(layout.resolve(row["audio_path"])))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(info.duration - seconds) <= 0.05
    assert not (layout.cache / "youtube" / "raw" / f"{vid}.ogg").exists()  # source removed after conversion
    assert f"generic {vid}" in (layout.cache / "youtube" / "archive.txt").read_text(encoding="utf-8")


def test_by_default_youtube_music_goes_through_the_polite_session_and_the_shared_pace(tmp_path) -> None:
    from collectors.net import PoliteSession
    from collectors.youtube.search import ChainSearcher, YtDlpSearcher, YTMusicSearcher

    stage = DownloadStage(Layout.at(tmp_path), fast_settings(request_interval_s=2.0))
    searcher = stage.searcher  # built without any request
    assert isinstance(searcher, ChainSearcher)
    ytmusic, fallback = searcher.searchers
    assert isinstance(ytmusic, YTMusicSearcher) and isinstance(ytmusic._session, PoliteSession)
    assert isinstance(fallback, YtDlpSearcher)
    assert ytmusic.gate is fallback.gate is stage.gate and stage.gate.interval_s == 2.0
