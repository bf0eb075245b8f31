"""The download stage end to end: real yt-dlp (generic extractor) against a local media server."""

from __future__ import annotations

import soundfile as sf

from collectors.audio.pipeline import DownloadStage
from manifests import Layout, read_table
from manifests.schema import DOWNLOADS
from tests.audio.conftest import CLIP_SPECS
from tests.audio.helpers import LibraryTrack, data_files, fast_settings, serve_library, video_id_for


def _setup(tmp_path, media, clips, names, faults=None):
    layout = Layout.at(tmp_path / "data")
    tracks = [LibraryTrack(f"t{index:03d}{name[:20].replace('_', '-')}", video_id_for(index), clips[name].data,
                           clips[name].path.suffix.lstrip("."), clips[name].seconds, title=f"Song {index}",
                           fault=(faults or {}).get(name))
              for index, name in enumerate(names)]
    return layout, tracks, serve_library(layout, media, tracks, artist="Test Artist")


def test_every_codec_becomes_16k_mono_pcm16_of_the_same_length(tmp_path, media, clips):
    names = list(CLIP_SPECS)
    layout, tracks, searcher = _setup(tmp_path, media, clips, names)
    summary = DownloadStage(layout, fast_settings(download_workers=2), searcher=searcher).run()
    assert summary.counts["ok"] == len(names), summary.lines()
    rows = {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}
    for track in tracks:
        row = rows[track.track_id]
        assert row["status"] == "ok" and row["reason"] is None
        assert row["audio_path"] == f"audio/{track.track_id}.wav"
        info = sf.info(str(layout.resolve(row["audio_path"])))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.duration - track.seconds) <= 0.05, (track.track_id, info.duration)
        assert row["sample_rate"] == 16000 and abs(row["audio_duration_s"] - info.duration) < 1e-3
        assert row["match_score"] > 0.9 and row["youtube_id"]
    assert data_files(layout.root) == sorted(f"{t.track_id}.wav" for t in tracks)
