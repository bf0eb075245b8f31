"""Candidate videos for a track: YouTube Music first, yt-dlp ``ytsearch`` as the fallback.

Searching is done in *rounds* (ISRC query, songs, videos, then the fallback) that
the matcher consumes lazily, so a track whose ISRC finds the official audio costs
one request.  YouTube Music's ``filter="songs"`` returns "ATV" uploads (the label's
official audio on the artist's "- Topic" channel), which is what a dataset wants:
no intros, no video edits.  Language is fixed to English so titles come back as
published, not translated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from collectors.net.errors import StopRun, Unreachable
from collectors.net.reach import connect_failure
from manifests.schema import YOUTUBE_ID_PATTERN

from .errors import YouTubeStop, clean_message, stop_for
from .gate import RequestGate

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

_VIDEO_ID = re.compile(rf"(?:{YOUTUBE_ID_PATTERN})\Z")
_REMASTER = re.compile(r"\s*(?:-\s*|[(\[]\s*)(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?remaster(?:ed)?(?:\s+\d{4})?"
                       r"(?:\s+version)?\s*[)\]]?", re.IGNORECASE)
#: YouTube Music's labels for what kind of upload a video is.
ATV = "MUSIC_VIDEO_TYPE_ATV"    # official audio ("art track") on the artist's "- Topic" channel
OMV = "MUSIC_VIDEO_TYPE_OMV"    # official music video
UGC = "MUSIC_VIDEO_TYPE_UGC"    # uploaded by anyone
LANGUAGE = "en"


class SearchError(RuntimeError):
    """Every search backend failed for this track (network, parse error); a rerun may work."""


@dataclass(frozen=True)
class TrackQuery:
    """What we know about a track from the catalogue, as the matcher needs it."""

    track_id: str
    title: str
    artists: tuple[str, ...]
    album: str | None = None
    duration_s: float | None = None
    isrc: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TrackQuery:
        duration_ms = row.get("duration_ms")
        return cls(track_id=row["track_id"], title=row["title"], artists=tuple(row.get("artists") or ()),
                   album=row.get("album"), duration_s=duration_ms / 1000.0 if duration_ms else None,
                   isrc=row.get("isrc"))

    @property
    def search_text(self) -> str:
        """The query a person would type: first artist and the title without remaster tails."""
        title = _REMASTER.sub("", self.title).strip() or self.title
        return f"{self.artists[0]} {title}" if self.artists else title


@dataclass(frozen=True)
class Candidate:
    """One video a search returned, with the metadata scoring uses."""

    video_id: str
    title: str
    url: str
    artists: tuple[str, ...] = ()
    channel: str | None = None
    duration_s: float | None = None
    #: YouTube Music's upload kind (ATV, OMV, UGC) when known
    video_type: str | None = None
    album: str | None = None
    verified: bool = False
    live: bool = False
    available: bool = True
    #: which query found it: ytmusic:isrc, ytmusic:songs, ytmusic:videos, ytsearch, pinned
    source: str = ""
    #: position in that query's results (0 = first)
    rank: int = 0
    #: view count as YouTube shows it, when the search said (evidence for ties, never a score)
    views: int | None = None

    @property
    def via_isrc(self) -> bool:
        return self.source == "ytmusic:isrc"


@dataclass
class SearchRound:
    """The candidates of one query. A ``fallback`` round is only used when nothing better passed."""

    source: str
    candidates: list[Candidate] = field(default_factory=list)
    fallback: bool = False


class Searcher(Protocol):
    """What the matcher needs from a search backend (tests inject one serving local URLs)."""

    def rounds(self, track: TrackQuery) -> Iterator[SearchRound]: ...

    def candidate_for(self, video_id: str) -> Candidate: ...


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def parse_clock(text: str | None) -> float | None:
    """ "3:45" or "1:02:03" to seconds; None for anything else."""
    if not text or not re.fullmatch(r"\d+(?::\d{1,2}){1,2}", text.strip()):
        return None
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


_VIEWS = re.compile(r"^\s*([\d.,]+)\s*([KMB]?)\b", re.IGNORECASE)


def parse_views(text: object) -> int | None:
    """ "1.2M views", "345K", "12,345", 987 to a count; None when the search did not say."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int | float):
        return int(text)
    match = _VIEWS.match(str(text))
    if not match:
        return 0 if str(text).strip().lower().startswith("no view") else None
    number, unit = match.group(1), match.group(2).upper()
    try:
        value = float(number.replace(",", "")) if unit else float(number.replace(",", "").replace(".", ""))
    except ValueError:
        return None
    return int(round(value * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[unit]))


def candidate_from_ytmusic(item: Mapping[str, Any], source: str, rank: int = 0) -> Candidate | None:
    """A YouTube Music search result (song or video) as a candidate; None for other result kinds."""
    video_id = item.get("videoId")
    if not video_id or not _VIDEO_ID.match(str(video_id)):
        return None
    artists = tuple(a["name"] for a in item.get("artists") or () if isinstance(a, Mapping) and a.get("name"))
    duration = item.get("duration_seconds")
    if duration is None:
        duration = parse_clock(item.get("duration"))
    album = item.get("album")
    video_type = item.get("videoType")
    # Songs (ATV) sit on the first artist's auto-generated "- Topic" channel; videos on the uploader's.
    channel = f"{artists[0]} - Topic" if video_type == ATV and artists else (artists[0] if artists else None)
    return Candidate(video_id=str(video_id), title=str(item.get("title") or ""), url=watch_url(str(video_id)),
                     artists=artists, channel=channel, duration_s=float(duration) if duration else None,
                     video_type=video_type, album=album.get("name") if isinstance(album, Mapping) else None,
                     available=bool(item.get("isAvailable", True)), source=source, rank=rank,
                     views=parse_views(item.get("views")))


def candidate_from_ytdlp(entry: Mapping[str, Any], rank: int = 0) -> Candidate | None:
    """A flat ``ytsearch`` entry from yt-dlp as a candidate."""
    video_id = entry.get("id")
    if not video_id or not _VIDEO_ID.match(str(video_id)):
        return None
    channel = entry.get("channel") or entry.get("uploader")
    duration = entry.get("duration")
    return Candidate(video_id=str(video_id), title=str(entry.get("title") or ""),
                     url=entry.get("url") or watch_url(str(video_id)), channel=channel,
                     duration_s=float(duration) if duration else None,
                     verified=bool(entry.get("channel_is_verified")),
                     live=entry.get("live_status") in ("is_live", "is_upcoming"),
                     source="ytsearch", rank=rank, views=parse_views(entry.get("view_count")))


def _raise_if_stop(exc: BaseException) -> None:
    if isinstance(exc, YouTubeStop):
        raise exc
    stop = stop_for(str(exc))
    if stop is not None:
        raise stop from None


class YTMusicSearcher:
    """YouTube Music search through ytmusicapi: ISRC first, then songs (ATV), then videos.

    ``session`` is the polite requests session (rate limit, retries, block detection)
    every collector uses; ``client`` lets a caller hand in a ready YTMusic object.
    """

    def __init__(self, *, session: requests.Session | None = None, client: Any = None,
                 gate: RequestGate | None = None,
                 limit: int = 10) -> None:
        self._session = session
        self._client = client
        self.gate = gate or RequestGate(0.0, 0.0)
        self.limit = limit

    def client(self) -> Any:
        if self._client is None:
            from ytmusicapi import YTMusic

            self._client = YTMusic(requests_session=self._session, language=LANGUAGE)
        return self._client

    def _search(self, query: str, filter: str, source: str) -> SearchRound:
        self.gate.wait()
        try:
            results = self.client().search(query, filter=filter, limit=self.limit, ignore_spelling=True)
        except Exception as exc:
            _raise_if_stop(exc)
            raise
        out: list[Candidate] = []
        for rank, item in enumerate(results or ()):
            if isinstance(item, Mapping) and (cand := candidate_from_ytmusic(item, source, rank)):
                out.append(cand)
        log.debug("ytmusic %s %r: %d candidates", filter, query, len(out))
        return SearchRound(source, out)

    def rounds(self, track: TrackQuery) -> Iterator[SearchRound]:
        if track.isrc:
            yield self._search(track.isrc, "songs", "ytmusic:isrc")
        yield self._search(track.search_text, "songs", "ytmusic:songs")
        yield self._search(track.search_text, "videos", "ytmusic:videos")

    def candidate_for(self, video_id: str) -> Candidate:
        return Candidate(video_id=video_id, title="", url=watch_url(video_id), source="pinned")


class YtDlpSearcher:
    """yt-dlp's ``ytsearchN:`` (the YouTube website's search), used when YouTube Music finds nothing."""

    def __init__(self, *, n: int = 10, gate: RequestGate | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        self.n = n
        self.gate = gate or RequestGate(0.0, 0.0)
        self.params = dict(params or {})

    def _ydl_params(self) -> dict[str, Any]:
        from .ytdlp import YtDlpLogger

        params: dict[str, Any] = {
            "extract_flat": "in_playlist", "skip_download": True, "quiet": True, "no_warnings": True,
            "noprogress": True, "logger": YtDlpLogger(), "socket_timeout": 30, "extractor_retries": 2,
            "extractor_args": {"youtube": {"lang": [LANGUAGE]}},
            "http_headers": {"Accept-Language": "en-US,en;q=0.8"},
        }
        params.update(self.params)
        return params

    def rounds(self, track: TrackQuery) -> Iterator[SearchRound]:
        import yt_dlp

        self.gate.wait()
        query = f"ytsearch{self.n}:{track.search_text}"
        try:
            with yt_dlp.YoutubeDL(self._ydl_params()) as ydl:
                info = ydl.extract_info(query, download=False) or {}
        except Exception as exc:
            _raise_if_stop(exc)
            failure = connect_failure(exc, "https://www.youtube.com/")
            if failure is not None:  # offline: every further search fails the same way, so stop the stage
                raise Unreachable(failure.host or "www.youtube.com", failure.why) from None
            raise SearchError(f"yt-dlp search failed: {clean_message(str(exc))}") from None
        out = [c for rank, e in enumerate(info.get("entries") or ())
               if isinstance(e, Mapping) and (c := candidate_from_ytdlp(e, rank))]
        yield SearchRound("ytsearch", out, fallback=True)

    def candidate_for(self, video_id: str) -> Candidate:
        return Candidate(video_id=video_id, title="", url=watch_url(video_id), source="pinned")


class ChainSearcher:
    """YouTube Music rounds, then the fallback's; a failing backend is logged and the next one tried."""

    def __init__(self, primary: Searcher, *fallbacks: Searcher) -> None:
        self.searchers: tuple[Searcher, ...] = (primary, *fallbacks)

    def rounds(self, track: TrackQuery) -> Iterator[SearchRound]:
        errors: list[str] = []
        produced = False
        for index, searcher in enumerate(self.searchers):
            try:
                for round_ in searcher.rounds(track):
                    produced = True
                    yield replace(round_, fallback=round_.fallback or index > 0)
            except StopRun:  # the polite layer's block/Retry-After stops, and ours
                raise
            except Exception as exc:
                _raise_if_stop(exc)
                message = f"{type(searcher).__name__}: {clean_message(str(exc))}"
                log.warning("%s: search failed, trying the next backend: %s", track.track_id, message)
                errors.append(message)
        if errors and not produced:
            raise SearchError("; ".join(errors))

    def candidate_for(self, video_id: str) -> Candidate:
        return self.searchers[0].candidate_for(video_id)


def default_searcher(*, gate: RequestGate, session: requests.Session | None = None, limit: int = 10,
                     ytdlp_params: Mapping[str, Any] | None = None) -> ChainSearcher:
    """YouTube Music (through the polite session) with the yt-dlp search as fallback."""
    return ChainSearcher(YTMusicSearcher(session=session, gate=gate, limit=limit),
                         YtDlpSearcher(n=limit, gate=gate, params=ytdlp_params))


def dedupe(candidates: Sequence[Candidate]) -> list[Candidate]:
    """First occurrence of each video ID wins (earlier rounds carry the better metadata)."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for cand in candidates:
        if cand.video_id not in seen:
            seen.add(cand.video_id)
            out.append(cand)
    return out

