"""--clip-seconds (an excerpt, converted alone, its start recorded) and --shard K/N in the download stage."""

from __future__ import annotations

import shutil

import pytest
import soundfile as sf

from collectors.audio.convert import ConvertOptions, build_command, convert
from collectors.audio.pipeline import DownloadStage
from manifests import Layout, read_table
from manifests.audio import inspect_wav, probe
from manifests.schema import DOWNLOADS
from manifests.shard import Shard
from tests.audio.helpers import LibraryTrack, fast_settings, serve_library, video_id_for
from tests.audio.test_convert import _three_parts


def test_a_middle_clip_is_the_centre_of_the_track_and_says_where_it_starts(tmp_path) -> None:
    src = _three_parts(tmp_path / "parts.wav")  # 1 s silence, 1 s tone, 1 s silence
    middle, start, whole = tmp_path / "middle.wav", tmp_path / "start.wav", tmp_path / "whole.wav"
    assert convert(src, middle, ConvertOptions(max_seconds=1.0, window="middle")).clip_start_s == pytest.approx(1.0)
    assert convert(src, start, ConvertOptions(max_seconds=1.0, window="start")).clip_start_s == 0.0
    assert convert(src, whole, ConvertOptions()).clip_start_s is None  # no clip asked: nothing to record
    assert sf.info(str(middle)).duration == pytest.approx(1.0, abs=0.002)
    assert inspect_wav(middle).rms_dbfs > -12 and inspect_wav(start).rms_dbfs < -60
    # the excerpt is cut by the one conversion command: seek before the input, length on the output
    cmd = build_command(src, middle, ConvertOptions(max_seconds=1.0, window="middle"), 1.0)
    assert cmd.index("-ss") < cmd.index("-i") < cmd.index("-t")


def test_a_track_shorter_than_the_clip_is_kept_whole_not_padded(tmp_path) -> None:
    src = _three_parts(tmp_path / "parts.wav")
    out = tmp_path / "short.wav"
    assert convert(src, out, ConvertOptions(max_seconds=10.0, window="middle")).clip_start_s == 0.0
    assert sf.info(str(out)).duration == pytest.approx(3.0, abs=0.002)


@pytest.mark.parametrize("name", ["mp3_stereo_44k", "opus_webm_stereo_48k", "aac_m4a_mono_44k"])
def test_the_conversion_reads_the_header_a_probe_would(tmp_path, clips, name) -> None:
    """import-audio starts one ffmpeg per file: the conversion's own log replaces the probe."""
    src = clips[name].path
    assert convert(src, tmp_path / "out.wav", ConvertOptions(), header=True).header == probe(src)


def _library(tmp_path, media, clips, n: int) -> tuple[Layout, object]:
    layout = Layout.at(tmp_path / "data")
    searcher = serve_library(layout, media, [
        LibraryTrack(f"tshard{index:05d}", video_id_for(index, "sh"), clips["mp3_mono_48k"].data, "mp3", 2.5,
                     title=f"Song {index}") for index in range(n)])
    return layout, searcher


def _rows(layout: Layout) -> dict[str, dict]:
    return {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS, missing_ok=True)}


def test_download_clip_records_offset_and_length(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 2)
    DownloadStage(layout, fast_settings(workers=1, max_seconds=1.5), searcher=searcher).run()  # middle: default
    for row in _rows(layout).values():
        wav = layout.resolve(row["audio_path"])
        assert row["status"] == "ok" and sf.info(str(wav)).duration == pytest.approx(1.5, abs=0.002)
        assert row["audio_duration_s"] == pytest.approx(1.5, abs=0.002)  # the WAV's duration, as before
        assert row["clip_seconds"] == 1.5
        assert row["clip_start_seconds"] == pytest.approx((2.5 - 1.5) / 2, abs=0.06)  # the middle (mp3 padding)


def test_two_shards_do_every_track_once_with_the_output_of_one_run(tmp_path, media, clips) -> None:
    layout, searcher = _library(tmp_path, media, clips, 6)
    tracks = layout.table_path("tracks")
    shards = []
    for index in (1, 2):  # each machine has its own data folder with the same tracks table
        shard_layout = Layout.at(tmp_path / f"shard{index}")
        shard_layout.manifests.mkdir(parents=True)
        shutil.copy(tracks, shard_layout.table_path("tracks"))
        summary = DownloadStage(shard_layout, fast_settings(shard=Shard(index, 2)), searcher=searcher).run()
        shards.append((shard_layout, summary))
    DownloadStage(layout, fast_settings(), searcher=searcher).run()
    whole = _rows(layout)
    parts = [_rows(shard_layout) for shard_layout, _ in shards]
    assert parts[0] and parts[1] and not set(parts[0]) & set(parts[1])  # both got work, none twice
    merged = {**parts[0], **parts[1]}
    assert set(merged) == set(whole)
    same = ("status", "youtube_id", "audio_path", "audio_duration_s", "sha256")
    assert {t: tuple(r[c] for c in same) for t, r in merged.items()} == \
        {t: tuple(r[c] for c in same) for t, r in whole.items()}
    assert [s.counts["other_shard"] for _, s in shards] == [len(parts[1]), len(parts[0])]
    assert "left to the other shards" in shards[0][1].lines()[0]
