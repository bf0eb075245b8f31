"""Shared test helpers: a searcher serving local URLs (the YouTube boundary), table writers, test libraries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.audio.pipeline import DownloadSettings
from collectors.youtube.search import Candidate, SearchRound, TrackQuery
from manifests import Layout, write_table
from manifests.schema import TRACKS
from tests.fixtures.corpus import track_row
from tests.servers.media import MediaServer


class StaticSearcher:
    """Stands in for YouTube search: fixed candidates per track, media URLs on the local server."""

    def __init__(self, candidates: Mapping[str, Sequence[Candidate]], urls: Mapping[str, str] | None = None) -> None:
        self.candidates = {k: list(v) for k, v in candidates.items()}
        self.urls = dict(urls or {})
        for cands in self.candidates.values():
            for cand in cands:
                self.urls.setdefault(cand.video_id, cand.url)
        self.searched: list[str] = []

    def rounds(self, track: TrackQuery) -> Iterator[SearchRound]:
        self.searched.append(track.track_id)
        yield SearchRound("ytmusic:songs", list(self.candidates.get(track.track_id, [])))

    def candidate_for(self, video_id: str) -> Candidate:
        return Candidate(video_id=video_id, title="", url=self.urls[video_id], source="pinned")


def song(video_id: str, url: str, *, artist: str, title: str, seconds: float) -> Candidate:
    """A YouTube Music "song" result (official audio on the artist's Topic channel)."""
    return Candidate(video_id=video_id, title=title, url=url, artists=(artist,), channel=f"{artist} - Topic",
                     duration_s=seconds, video_type="MUSIC_VIDEO_TYPE_ATV", source="ytmusic:songs")


def video_id_for(index: int, prefix: str = "vid") -> str:
    """An 11-character video ID, like YouTube's."""
    return f"{prefix[:3]:x<3}{index:08d}"


def write_tracks(layout: Layout, tracks: Sequence[Mapping[str, Any]]) -> None:
    """The tracks table of a test library, as a playlist export import would write it."""
    write_table(layout.table_path(TRACKS), TRACKS, [
        track_row(t["track_id"], t["title"], t["artists"], origin="csv", seconds=t["seconds"], isrc=t.get("isrc"),
                  playlists=["test.csv"]) for t in tracks])


@dataclass(frozen=True)
class LibraryTrack:
    """One track of a test library: its audio as the media server serves it (optionally with a fault)."""

    track_id: str
    video_id: str
    audio: bytes
    ext: str
    seconds: float
    title: str = "Song"
    fault: str | None = None


def serve_library(layout: Layout, media: MediaServer, tracks: Sequence[LibraryTrack],
                  artist: str = "Band") -> StaticSearcher:
    """Serve every track's audio, write the tracks table, and return a searcher finding each one's video."""
    cands = {}
    for t in tracks:
        url = media.add(f"{t.video_id}.{t.ext}", t.audio, t.fault)
        cands[t.track_id] = [song(t.video_id, url, artist=artist, title=t.title, seconds=t.seconds)]
    write_tracks(layout, [{"track_id": t.track_id, "title": t.title, "artists": [artist], "seconds": t.seconds}
                          for t in tracks])
    return StaticSearcher(cands)


def fast_settings(**overrides: object) -> DownloadSettings:
    """Fast, offline settings: no sleeps, no backoff, generic extractor only, short clips allowed."""
    base: dict[str, Any] = dict(workers=2, download_workers=1, download_interval_s=(0.0, 0.0),
                                request_interval_s=0.0, request_jitter_s=0.0, retries=1, attempts=2, backoff_s=0.0,
                                min_seconds=1.0, allowed_extractors=("generic",), progress=False)
    base.update(overrides)
    return DownloadSettings(**base)


def data_files(root: Path) -> list[str]:
    """Every file under the audio folder, relative, sorted."""
    audio = root / "audio"
    return sorted(p.name for p in audio.iterdir()) if audio.is_dir() else []
