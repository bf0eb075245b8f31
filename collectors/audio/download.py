"""Fetch one video's best audio stream with yt-dlp, embedded (its Python API, not a subprocess).

One options dict per call: best audio only, yt-dlp's own HTTP/fragment retries plus
our outer attempts (its API defaults to none), a random sleep before each download,
a download archive, an optional cookies file (a private per-worker copy: yt-dlp
writes cookies back on exit), extractors restricted to YouTube, and a match filter
that refuses age-restricted videos and live streams before anything is downloaded.
Errors are sorted into "stop the run" (bot check, HTTP 429), "no server reached" (name
lookup failed, connection refused, network unreachable: :class:`HostUnreachable`, tried
again within seconds, not with the backoff; the stage decides whether we are offline)
and "skip this video".
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from collectors.net.reach import ConnectFailure, connect_failure
from collectors.youtube.errors import VideoProblem, YouTubeStop, classify_video_error, clean_message, stop_for
from collectors.youtube.gate import RequestGate
from collectors.youtube.search import Candidate
from collectors.youtube.ytdlp import YtDlpLogger, find_deno

log = logging.getLogger(__name__)

#: Leftovers of an unfinished yt-dlp download: never taken for a finished file.
PARTIAL_SUFFIXES = (".part", ".ytdl", ".temp", ".tmp")
#: When no server was reached: at most this many attempts per video, this far apart. A blip passes in a
#: second; an offline machine is told apart by the stage across videos, so minutes of backoff help nobody.
UNREACHABLE_ATTEMPTS = 2
UNREACHABLE_WAIT_S = 1.0


class VideoFailed(Exception):
    """This video could not be fetched; ``problem`` says why and whether retrying it may help."""

    def __init__(self, problem: VideoProblem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


class HostUnreachable(VideoFailed):
    """yt-dlp reached no server for this video (name lookup failed, connection refused, network unreachable).

    Not the video's fault, and retryable; whether the machine is offline is decided by the stage
    (several videos in a row, with no answer in between: see ``DownloadStage``).
    """

    def __init__(self, failure: ConnectFailure) -> None:
        self.failure = failure
        host = failure.host or "the server"
        super().__init__(VideoProblem("unreachable", True, f"network error: cannot reach {host} ({failure.why})"))


def private_cookie_copy(source: Path, folder: Path, worker: int) -> Path:
    """A copy of the user's cookies file only we can read; yt-dlp may rewrite it, never the original."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, stat.S_IRWXU)
    target = folder / f"cookies-worker-{worker}.txt"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)
    return target


@dataclass
class DownloadOptions:
    """Everything one downloader needs; the pipeline builds one per worker."""

    raw_dir: Path
    archive: Path | None = None
    #: the worker's private cookies copy (never the user's file itself)
    cookies: Path | None = None
    #: random pause before each download, MIN,MAX seconds (yt-dlp sleep_interval / max_sleep_interval)
    download_interval_s: tuple[float, float] = (5.0, 10.0)
    #: yt-dlp's own retries for HTTP and fragments
    retries: int = 3
    #: our attempts per video (each re-extracts, which renews expired media URLs)
    attempts: int = 3
    #: first wait between our attempts; doubles each time
    backoff_s: float = 5.0
    socket_timeout_s: float = 30.0
    #: extractor names yt-dlp may use (regexes); tests use ("generic",) against a local server
    allowed_extractors: Sequence[str] = ("youtube",)
    #: videos rated for this age or above are skipped
    age_limit: int = 18
    format: str = "bestaudio/best"
    #: extra yt-dlp options (advanced use)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    """A finished raw download and what yt-dlp said about it."""

    path: Path
    video_id: str
    duration_s: float | None
    cached: bool
    ext: str | None = None
    codec: str | None = None
    extractor: str | None = None


def complete_raw_file(raw_dir: Path, video_id: str) -> Path | None:
    """A finished download of this video in the raw folder (yt-dlp renames .part files when done)."""
    if not raw_dir.is_dir():
        return None
    for path in sorted(raw_dir.glob(f"{video_id}.*")):
        if path.is_file() and not path.name.endswith(PARTIAL_SUFFIXES) and ".part-Frag" not in path.name \
                and path.stat().st_size > 0:
            return path
    return None


class Downloader(Protocol):
    """What the download stage needs of a downloader (one per worker thread); ``YtDlpDownloader`` is the real one."""

    def fetch(self, candidate: Candidate) -> Fetched: ...


class YtDlpDownloader:
    """Downloads candidates' audio into ``raw_dir/<video_id>.<ext>``; one instance per worker thread."""

    def __init__(self, options: DownloadOptions, gate: RequestGate | None = None,
                 on_progress: Callable[[int], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.gate = gate or RequestGate(0.0, 0.0)
        self.on_progress = on_progress
        self._sleep = sleep
        self._rejected: str | None = None
        self._last_bytes = 0
        options.raw_dir.mkdir(parents=True, exist_ok=True)

    # -- yt-dlp plumbing

    def _match_filter(self, info: Mapping[str, Any], *, incomplete: bool = False) -> str | None:
        """Refuse what a dataset must not hold before a byte is downloaded."""
        reason = None
        age = info.get("age_limit")
        if isinstance(age, (int, float)) and age >= self.options.age_limit:
            reason = f"age-restricted video (rated {int(age)}+)"
        elif info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
            reason = f"live stream or premiere ({info.get('live_status')}), not a recording"
        elif info.get("availability") in ("private", "premium_only", "subscriber_only", "needs_auth"):
            reason = f"{str(info.get('availability')).replace('_', ' ')} video"
        if reason:
            self._rejected = reason
        return reason

    def _hook(self, status: Mapping[str, Any]) -> None:
        if self.on_progress is None or status.get("status") not in ("downloading", "finished"):
            return
        done = int(status.get("downloaded_bytes") or 0)
        if done >= self._last_bytes:
            self.on_progress(done - self._last_bytes)
        self._last_bytes = done

    def params(self, video_id: str) -> dict[str, Any]:
        """The yt-dlp options dict for one download (see the module docstring)."""
        opts = self.options
        low, high = opts.download_interval_s
        params: dict[str, Any] = {
            "format": opts.format,
            "outtmpl": {"default": f"{video_id}.%(ext)s"},
            "paths": {"home": str(opts.raw_dir), "temp": str(opts.raw_dir)},
            "noplaylist": True,
            "allowed_extractors": list(opts.allowed_extractors),
            "retries": opts.retries,
            "fragment_retries": opts.retries,
            "extractor_retries": min(opts.retries, 3),
            "file_access_retries": 3,
            "retry_sleep_functions": {
                "http": lambda n: min(opts.backoff_s * 2 ** n, 30.0),
                "fragment": lambda n: min(opts.backoff_s * 2 ** n, 30.0),
            },
            "socket_timeout": opts.socket_timeout_s,
            "continuedl": True,
            "overwrites": False,
            "match_filter": self._match_filter,
            "progress_hooks": [self._hook],
            "logger": YtDlpLogger(),
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "color": "no_color",
            "cachedir": False,
            "writeinfojson": False,
            "writethumbnail": False,
            "extractor_args": {"youtube": {"lang": ["en"]}},
            "http_headers": {"Accept-Language": "en-US,en;q=0.8"},
        }
        if high > 0:
            params["sleep_interval"] = low
            params["max_sleep_interval"] = max(low, high)
        if opts.archive is not None:
            params["download_archive"] = str(opts.archive)
        if opts.cookies is not None:
            params["cookiefile"] = str(opts.cookies)
        deno = find_deno()
        if deno:
            params["js_runtimes"] = {"deno": {"path": deno}}
        params.update(opts.extra)
        return params

    # -- the work

    def fetch(self, candidate: Candidate) -> Fetched:
        """The raw audio of ``candidate``: from the raw folder when already there, else downloaded.

        Raises ``YouTubeStop`` when YouTube refuses this client and ``VideoFailed`` otherwise.
        """
        video_id = candidate.video_id
        cached = complete_raw_file(self.options.raw_dir, video_id)
        if cached is not None:
            log.debug("%s: raw audio already downloaded (%s)", video_id, cached.name)
            return Fetched(path=cached, video_id=video_id, duration_s=candidate.duration_s, cached=True,
                           ext=cached.suffix.lstrip("."))
        failed: VideoFailed | None = None
        attempts = max(1, self.options.attempts)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                assert failed is not None
                wait = self.options.backoff_s * 2 ** (attempt - 2)
                if isinstance(failed, HostUnreachable):
                    wait = min(wait, UNREACHABLE_WAIT_S)
                log.info("%s: %s; attempt %d/%d in %.0f s", video_id, failed.problem.reason, attempt, attempts,
                         wait)
                self._sleep(wait)
            try:
                return self._download_once(candidate)
            except VideoFailed as exc:
                failed = exc
                if not exc.problem.retryable or (isinstance(exc, HostUnreachable) and attempt >= UNREACHABLE_ATTEMPTS):
                    raise
        assert failed is not None
        raise failed

    def _download_once(self, candidate: Candidate) -> Fetched:
        import yt_dlp
        from yt_dlp.utils import DownloadError

        video_id = candidate.video_id
        self._rejected = None
        self._last_bytes = 0
        params = self.params(video_id)
        logger: YtDlpLogger = params["logger"]
        self.gate.wait()
        try:
            with yt_dlp.YoutubeDL(params) as ydl:
                # The raw file is gone (converted, or deleted): the archive must not stop a new download.
                for entry in [e for e in ydl.archive if e.rsplit(" ", 1)[-1] == video_id]:
                    ydl.archive.discard(entry)
                info = ydl.extract_info(candidate.url, download=True)
        except DownloadError as exc:
            message = clean_message(str(exc)) or logger.last_error or "download failed"
            stop = stop_for(message, candidate.url)
            if stop is not None:
                raise stop from None
            failure = connect_failure(exc, candidate.url)
            if failure is not None:
                raise HostUnreachable(failure) from None
            raise VideoFailed(classify_video_error(message)) from None
        except YouTubeStop:
            raise
        except OSError as exc:  # disk full, permissions: not the video's fault, worth a retry later
            raise VideoFailed(VideoProblem("io", True, f"could not write the download: {exc}")) from None
        if self._rejected:
            kind = "age_restricted" if "age" in self._rejected else "live" if "live" in self._rejected \
                else "private"
            raise VideoFailed(VideoProblem(kind, False, self._rejected))
        info = info or {}
        downloads = info.get("requested_downloads") or []
        path = Path(downloads[0]["filepath"]) if downloads and downloads[0].get("filepath") else None
        if path is None or not path.is_file():
            path = complete_raw_file(self.options.raw_dir, video_id)
        if path is None:
            raise VideoFailed(VideoProblem("error", True, "yt-dlp finished without leaving a file"))
        duration = info.get("duration") or candidate.duration_s
        return Fetched(path=path, video_id=video_id, duration_s=float(duration) if duration else None,
                       cached=False, ext=info.get("ext"), codec=info.get("acodec"),
                       extractor=info.get("extractor_key"))
