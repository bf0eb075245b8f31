"""The ``download`` stage: tracks table -> YouTube match -> raw audio -> 16 kHz mono WAV -> downloads table.

Work is split where the bottlenecks are:

* **network** (search + yt-dlp) in ``download_workers`` threads (default 1), all paced by
  one :class:`~collectors.youtube.gate.RequestGate` plus yt-dlp's random pause before
  each download (``--download-interval``), so more workers never means more requests per minute;
* **conversion** (ffmpeg + checks) in a pool of ``workers`` processes, each pinned to a
  core of its own (:mod:`collectors.audio.pool`), overlapping with the next downloads.

Only the main thread touches the downloads table (a ``TableStore``); every finished
row is written at once (atomic rewrite), so a killed run keeps everything it finished.  Audio is
written as ``audio/<track_id>.wav.part`` and renamed only after the checks pass.
A rerun does only what is missing or failed-and-retryable.  When YouTube asks
for a bot check or rate-limits (HTTP 429), no new work starts, work in flight is
finished and recorded, and the run stops with a message saying what to do.

Offline, the stage ends in seconds with ``cannot reach HOST: check your connection``: a
search that reaches no server raises :class:`~collectors.net.Unreachable` from the polite
session (after its short retry), and a download that reaches no server
(:class:`~collectors.audio.download.HostUnreachable`) writes no row at once: it is held
until the network answers again (then it was that video's host: a retryable failure row)
or ``offline_after`` downloads in a row have reached no server, or the work runs out,
with nothing answering in between (then we are offline: the stage stops, held tracks
get no row and the rerun does them).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.net.errors import StopRun, Unreachable
from collectors.youtube.errors import VideoProblem
from collectors.youtube.gate import RequestGate
from collectors.youtube.match import MatchResult, match_track
from collectors.youtube.score import ScoreConfig, Scored
from collectors.youtube.search import Searcher, SearchError, TrackQuery
from manifests import Layout, Row, TableStore, read_table
from manifests.clock import utc_now_text
from manifests.config import MIN_AUDIO_SECONDS, usable_cores
from manifests.errors import UserError, file_system_fault
from manifests.hashing import sha256_file
from manifests.overrides import Overrides, TrackOverride
from manifests.schema import DOWNLOADS, TRACKS
from manifests.shard import Shard

from .convert import ConvertOptions, ConvertOutcome, ConvertTask, clip_columns, convert_task
from .download import (
    Downloader,
    DownloadOptions,
    Fetched,
    HostUnreachable,
    VideoFailed,
    YtDlpDownloader,
    private_cookie_copy,
)
from .pool import conversion_pool

log = logging.getLogger(__name__)

#: Problems that mean "this video will never be available to us": the row is skipped, not failed.
REFUSALS = frozenset({"age_restricted", "private", "members_only", "live", "unavailable"})


@dataclass
class DownloadSettings:
    """Options of one ``download`` run (the CLI maps its flags onto these)."""

    workers: int = field(default_factory=usable_cores)
    #: one core per conversion worker; None = automatic (2 <= workers <= cores), see collectors.audio.pool
    pin_workers: bool | None = None
    download_workers: int = 1
    #: random pause before each download, MIN,MAX seconds
    download_interval_s: tuple[float, float] = (5.0, 10.0)
    #: minimum seconds between two YouTube requests, searches included
    request_interval_s: float = 1.0
    request_jitter_s: float = 0.5
    cookies: Path | None = None
    #: --clip-seconds: keep an excerpt of at most this many seconds (None: the whole track)
    max_seconds: float | None = None
    #: --clip-offset: where the excerpt is taken (the middle, as FMA and MTG-Jamendo do, or the start)
    window: str = "middle"
    #: --shard K/N: only the tracks whose ID is this shard's
    shard: Shard = field(default_factory=Shard)
    sample_rate: int = 16000
    min_seconds: float = MIN_AUDIO_SECONDS
    limit: int | None = None
    retries: int = 3
    attempts: int = 3
    backoff_s: float = 5.0
    #: extra accepted candidates tried when the chosen video cannot be used
    max_alternatives: int = 2
    keep_source: bool = False
    retry_no_match: bool = False
    retry_failed: bool = False
    #: re-hash finished files and redo those whose sha256 changed
    verify_audio: bool = False
    score: ScoreConfig = field(default_factory=ScoreConfig)
    allowed_extractors: tuple[str, ...] = ("youtube",)
    search_limit: int = 10
    progress: bool = True
    #: downloads in a row that reach no server, with no answer in between, before the stage decides that
    #: the machine is offline and stops (one video's unreachable host must not stop a run)
    offline_after: int = 3

    def __post_init__(self) -> None:
        if self.workers < 1 or self.download_workers < 1:
            raise ValueError("workers and download workers must be at least 1")
        if self.offline_after < 1:
            raise ValueError("offline_after must be at least 1")
        low, high = self.download_interval_s
        if low < 0 or high < low:
            raise ValueError(f"download interval {low:g},{high:g} must be 0 <= MIN <= MAX seconds")
        if self.limit is not None and self.limit < 0:
            raise ValueError("--limit must be >= 0")

    @property
    def convert_options(self) -> ConvertOptions:
        return ConvertOptions(sample_rate=self.sample_rate, max_seconds=self.max_seconds, window=self.window)


@dataclass
class Summary:
    """What a run did, for the closing table and for tests."""

    tracks: int = 0
    planned: int = 0
    already_ok: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    retryable_failed: int = 0
    stopped: str | None = None
    low_scores: list[tuple[str, float, str]] = field(default_factory=list)
    elapsed_s: float = 0.0
    review_below: float = 0.8
    shard: str = "1/1"

    def lines(self) -> list[str]:
        c = self.counts
        out = [f"download: {self.tracks} tracks, {self.already_ok} already done, {self.planned} to do this run "
               f"({self.elapsed_s:.0f} s)"
               + (f"; shard {self.shard}: {c['other_shard']} left to the other shards" if c["other_shard"] else ""),
               f"  ok {c['ok']}   no match {c['no_match']}   skipped {c['skipped']}   failed {c['failed']} "
               f"({self.retryable_failed} will be retried on the next run)"
               + (f"   dropped by overrides {c['dropped']}" if c["dropped"] else "")
               + (f"   from your files or the corpus (not searched) {c['not_on_youtube']}"
                  if c["not_on_youtube"] else "")]
        if self.low_scores:
            out.append(f"  {len(self.low_scores)} match(es) scored below {self.review_below:g}; check them "
                       "(make audit) and pin or forbid videos in overrides.csv:")
            for track_id, score, title in sorted(self.low_scores, key=lambda x: x[1])[:5]:
                out.append(f"    {track_id}  {score:.2f}  {title}")
        if self.stopped:
            out.append(f"  stopped early: {self.stopped}")
        return out


@dataclass
class Job:
    """One track on its way through the stage."""

    track: TrackQuery
    override: TrackOverride
    previous: Row | None
    match: MatchResult | None = None
    #: index into ``match.accepted`` of the candidate being tried
    index: int = 0
    problems: list[tuple[Scored, VideoProblem]] = field(default_factory=list)
    fetched: Fetched | None = None

    @property
    def candidate(self) -> Scored | None:
        if self.match is None or self.index >= len(self.match.accepted):
            return None
        return self.match.accepted[self.index]

    @property
    def attempts(self) -> int:
        return int((self.previous or {}).get("attempts") or 0) + 1


@dataclass
class NetResult:
    """What a network worker hands back to the main thread."""

    job: Job
    kind: str  # fetched | no_match | video_failed | unreachable | search_failed | stop
    problem: VideoProblem | None = None
    message: str | None = None
    stop: StopRun | None = None


def check_writable(folder: Path) -> None:
    """Stop with the one-line file-system fault when ``folder`` cannot take a new file."""
    probe = folder / f".write-check.tmp-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        fault = file_system_fault(exc, folder)
        if fault is None:
            raise
        raise fault from exc


#: Track origins whose audio comes from files (import-audio, the synthetic corpus), not from YouTube:
#: even with their WAV missing or ``--retry-failed`` they are never searched for (rerun the import).
NOT_ON_YOUTUBE = frozenset({"local", "synthetic"})


def needs_work(row: Row | None, override: TrackOverride, layout: Layout, settings: DownloadSettings) -> bool:
    """Whether a rerun should process this track again (dropped tracks are handled before)."""
    if row is None:
        return True
    status, video = row["status"], row.get("youtube_id")
    if override.pinned_video and video != override.pinned_video:
        return True
    if video and video in override.forbidden_videos:
        return True
    if status == "ok":
        stored = row.get("audio_path")
        path = layout.resolve(stored) if stored else None
        if path is None or not path.is_file() or path.stat().st_size == 0:
            return True
        return bool(settings.verify_audio and row.get("sha256") and sha256_file(path) != row["sha256"])
    if status == "failed":
        return bool(row.get("retryable")) or settings.retry_failed
    if status == "no_match":
        return settings.retry_no_match
    if status == "skipped":
        return (row.get("reason") or "").startswith("dropped") or settings.retry_failed
    return True


class DownloadStage:
    """Runs the stage over a data folder. ``searcher`` and ``downloader_factory`` are injectable."""

    def __init__(self, layout: Layout, settings: DownloadSettings | None = None, *,
                 searcher: Searcher | None = None,
                 downloader_factory: Callable[[int], Downloader] | None = None,
                 gate: RequestGate | None = None) -> None:
        self.layout = layout
        self.settings = settings or DownloadSettings()
        self.gate = gate or RequestGate(self.settings.request_interval_s, self.settings.request_jitter_s)
        self._searcher = searcher
        self._downloader_factory = downloader_factory
        self._local = threading.local()
        self._worker_ids = itertools.count()
        self._worker_lock = threading.Lock()
        self._cookie_dir: Path | None = None
        self.raw_dir = layout.cache / "youtube" / "raw"
        self.archive = layout.cache / "youtube" / "archive.txt"
        self.bytes_downloaded = 0
        self._bytes_lock = threading.Lock()
        #: set when YouTube refused us (bot check, rate limit): the command reports it after the summary
        self.stop: StopRun | None = None

    # ---------------------------------------------------------------- collaborators

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            from collectors.net import Policy, make_session
            from collectors.youtube.search import default_searcher

            # Pace is kept by our gate (shared with yt-dlp); the session adds retries and block detection.
            session = make_session(Policy.api(min_interval_s=0.0, jitter_s=0.0))
            self._searcher = default_searcher(gate=self.gate, session=session, limit=self.settings.search_limit)
        return self._searcher

    def _count_bytes(self, n: int) -> None:
        with self._bytes_lock:
            self.bytes_downloaded += n

    def _default_downloader(self, worker: int) -> YtDlpDownloader:
        s = self.settings
        cookies = None
        if s.cookies is not None:
            if self._cookie_dir is None:
                raise RuntimeError("cookie folder not prepared")
            cookies = private_cookie_copy(s.cookies, self._cookie_dir, worker)
        options = DownloadOptions(raw_dir=self.raw_dir, archive=self.archive, cookies=cookies,
                                  download_interval_s=s.download_interval_s,
                                  retries=s.retries, attempts=s.attempts, backoff_s=s.backoff_s,
                                  allowed_extractors=s.allowed_extractors)
        return YtDlpDownloader(options, self.gate, on_progress=self._count_bytes)

    def _downloader(self) -> Downloader:
        downloader: Downloader | None = getattr(self._local, "downloader", None)
        if downloader is None:
            with self._worker_lock:
                worker = next(self._worker_ids)
            factory = self._downloader_factory or self._default_downloader
            downloader = factory(worker)
            self._local.downloader = downloader
        return downloader

    # ---------------------------------------------------------------- network side (worker threads)

    def _network(self, job: Job) -> NetResult:
        try:
            if job.match is None:
                job.match = match_track(job.track, self.searcher, config=self.settings.score,
                                        pinned=job.override.pinned_video,
                                        forbidden=job.override.forbidden_videos)
            chosen = job.candidate
            if chosen is None:
                return NetResult(job, "no_match", message=job.match.reason)
            job.fetched = self._downloader().fetch(chosen.candidate)
            return NetResult(job, "fetched")
        except StopRun as exc:
            return NetResult(job, "stop", stop=exc)
        except HostUnreachable as exc:
            url = job.candidate.candidate.url if job.candidate is not None else ""
            stop = Unreachable(exc.failure.host or "the video's server", exc.failure.why, url)
            return NetResult(job, "unreachable", problem=exc.problem, stop=stop)
        except VideoFailed as exc:
            return NetResult(job, "video_failed", problem=exc.problem)
        except SearchError as exc:
            return NetResult(job, "search_failed", message=f"search failed: {exc}")
        except Exception as exc:
            log.warning("%s: unexpected error: %s: %s", job.track.track_id, type(exc).__name__, exc,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            return NetResult(job, "search_failed", message=f"unexpected error: {type(exc).__name__}: {exc}")

    # ---------------------------------------------------------------- rows

    def _base_row(self, job: Job, status: str, reason: str | None, retryable: bool) -> Row:
        return {"track_id": job.track.track_id, "status": status, "reason": reason, "retryable": retryable,
                "attempts": job.attempts, "updated_at": utc_now_text()}

    def _match_columns(self, job: Job, chosen: Scored | None) -> Row:
        match = job.match
        if match is None:
            return {}
        out: Row = {}
        if chosen is not None:
            out.update(youtube_id=chosen.video_id, match_score=chosen.score, match_detail=dict(chosen.detail))
        runner = match.runner_up(chosen.video_id if chosen else None)
        if runner is not None:
            out.update(runner_up_id=runner.video_id, runner_up_score=runner.score)
            if chosen is None:  # no match: keep the best rejected candidate's breakdown for review
                out["match_detail"] = dict(runner.detail)
        return out

    def _ok_row(self, job: Job, outcome: ConvertOutcome, final: Path) -> Row:
        facts = outcome.facts
        assert facts is not None
        row = self._base_row(job, "ok", None, False)
        row.update(self._match_columns(job, job.candidate))
        row.update(audio_path=self.layout.relative(final), sample_rate=facts.sample_rate,
                   audio_duration_s=round(facts.duration_s, 3), sha256=facts.sha256,
                   **clip_columns(outcome.clip_start_s, self.settings.max_seconds))
        return row

    def _failure_row(self, job: Job) -> Row:
        first_scored, first = job.problems[0]
        retryable = any(p.retryable for _, p in job.problems)
        refused = all(p.kind in REFUSALS for _, p in job.problems)
        status = "skipped" if refused and not retryable else "failed"
        reason = first.reason
        if len(job.problems) > 1:
            others = ", ".join(f"{s.video_id}: {p.kind.replace('_', ' ')}" for s, p in job.problems[1:])
            reason = f"{reason} (also tried {others})"
        row = self._base_row(job, status, reason, retryable)
        row.update(self._match_columns(job, first_scored))
        return row

    # ---------------------------------------------------------------- the run

    def _tracks(self) -> list[Row]:
        """The tracks table; a missing one is a ``MissingTable`` naming the command that writes it."""
        return read_table(self.layout.table_path(TRACKS), TRACKS)

    def _clean_partials(self) -> None:
        """Remove half-written WAVs of a killed run (never finished files)."""
        audio = self.layout.audio
        if not audio.is_dir():
            return
        for path in list(audio.glob("*.wav.part")) + list(audio.glob("*.wav.part.trim")):
            log.debug("removing unfinished %s", path.name)
            path.unlink(missing_ok=True)

    def plan(self, store: TableStore, overrides: Overrides, tracks: Iterable[Row],
             summary: Summary) -> list[Job]:
        jobs: list[Job] = []
        for row in tracks:
            track_id = row["track_id"]
            if not self.settings.shard.owns(track_id):  # another machine's track: no row here
                summary.counts["other_shard"] += 1
                continue
            override = overrides.get(track_id)
            previous = store.get(track_id)
            if override.dropped:
                if previous is None or previous["status"] != "skipped" or \
                        not (previous.get("reason") or "").startswith("dropped"):
                    kept = dict(previous or {"track_id": track_id, "attempts": 0})
                    kept.update(status="skipped", reason=f"dropped in overrides.csv: {override.drop_note}",
                                retryable=False, updated_at=utc_now_text())
                    store.put(kept)
                summary.counts["dropped"] += 1
                continue
            if row.get("origin") in NOT_ON_YOUTUBE:  # its audio came from files: never look for it online
                summary.counts["not_on_youtube"] += 1
                continue
            if not needs_work(previous, override, self.layout, self.settings):
                if previous and previous["status"] == "ok":
                    summary.already_ok += 1
                continue
            jobs.append(Job(track=TrackQuery.from_row(row), override=override, previous=previous))
        if self.settings.limit is not None:
            jobs = jobs[: self.settings.limit]
        return jobs

    def run(self) -> Summary:
        started = time.monotonic()
        s = self.settings
        summary = Summary(review_below=s.score.review_below, shard=str(s.shard))
        tracks = self._tracks()
        overrides = Overrides.load(self.layout.overrides)
        summary.tracks = len(tracks)
        self.layout.audio.mkdir(parents=True, exist_ok=True)
        check_writable(self.layout.audio)  # ffmpeg writes here: a refusal is one line now, not one per track
        self._clean_partials()
        table = self.layout.table_path(DOWNLOADS)
        with TableStore(table, DOWNLOADS) as planning:  # the shared policy; leaving the block writes the plan
            jobs = self.plan(planning, overrides, tracks, summary)
        summary.planned = len(jobs)
        if jobs:
            if s.cookies is not None:
                self._cookie_dir = Path(tempfile.mkdtemp(prefix="genre-cookies-"))
            # flush_every=1: each row stands for a download (seconds of pacing, megabytes of audio), so
            # it is on disk the moment it is finished and a killed run never redoes one
            # (tests/audio/test_download_crash.py kills the stage mid-run and counts the rows).
            try:
                with TableStore(table, DOWNLOADS, flush_every=1) as store:
                    self._process(jobs, store, summary)
            finally:
                if self._cookie_dir is not None:
                    shutil.rmtree(self._cookie_dir, ignore_errors=True)
                    self._cookie_dir = None
        summary.elapsed_s = time.monotonic() - started
        return summary

    def _process(self, jobs: list[Job], store: TableStore, summary: Summary) -> None:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        s = self.settings
        _ = self.searcher  # built once here, not raced for by the worker threads
        queue = list(reversed(jobs))  # pop() from the end keeps table order
        retry_queue: list[Job] = []
        net_futures: dict[Future[NetResult], Job] = {}
        conv_futures: dict[Future[ConvertOutcome], Job] = {}
        raw_users: Counter[Path] = Counter()
        stop: StopRun | None = None
        #: downloads that reached no server, rowless until the network answers again (their hosts' fault:
        #: failure rows) or ``offline_after`` of them in a row say we are offline (no rows; see the docstring)
        unanswered: list[tuple[Job, VideoProblem, Unreachable]] = []
        bar = tqdm(total=len(jobs), unit="track", desc="download", disable=not s.progress, dynamic_ncols=True)

        def finish(job: Job, row: Row) -> None:
            if row["status"] != "ok":
                # A redo of a finished track failed: its old file came from a video now forbidden or
                # not pinned, or no longer matched its hash. It must not look usable.
                self.layout.audio_path(job.track.track_id).unlink(missing_ok=True)
            store.put(row)
            summary.counts[row["status"]] += 1
            if row["status"] == "failed" and row.get("retryable"):
                summary.retryable_failed += 1
            if row["status"] == "ok" and (row.get("match_score") or 0) < s.score.review_below:
                artists = ", ".join(job.track.artists)
                summary.low_scores.append((job.track.track_id, row["match_score"], f"{artists} - {job.track.title}"))
            bar.update(1)
            bar.set_postfix(ok=summary.counts["ok"], skipped=summary.counts["skipped"] + summary.counts["no_match"],
                            failed=summary.counts["failed"], MB=f"{self.bytes_downloaded / 1e6:.0f}", refresh=False)

        def release_raw(job: Job) -> None:
            fetched = job.fetched
            job.fetched = None
            if fetched is None:
                return
            raw_users[fetched.path] -= 1
            if raw_users[fetched.path] <= 0:
                del raw_users[fetched.path]
                if not s.keep_source:
                    fetched.path.unlink(missing_ok=True)

        def hold(job: Job, problem: VideoProblem, unreachable: Unreachable) -> None:
            """A download reached no server: no row yet; enough of them in a row mean we are offline."""
            nonlocal stop
            unanswered.append((job, problem, unreachable))
            log.info("%s: %s", job.track.track_id, problem.reason)
            if stop is None and len(unanswered) >= s.offline_after:
                log.info("%d downloads in a row reached no server: offline", len(unanswered))
                stop = unreachable

        def network_answered() -> None:
            """Something came back from the network: the held downloads failed for their own hosts."""
            held = list(unanswered)
            unanswered.clear()
            for held_job, problem, _ in held:
                next_candidate_or_fail(held_job, problem)

        def next_candidate_or_fail(job: Job, problem: VideoProblem) -> None:
            assert job.candidate is not None
            job.problems.append((job.candidate, problem))
            assert job.match is not None
            alternatives_left = job.index < s.max_alternatives and job.index + 1 < len(job.match.accepted)
            if not problem.retryable and alternatives_left:
                if stop is not None:  # no row: the next run tries the alternatives
                    return
                log.info("%s: %s unusable (%s); trying the next candidate", job.track.track_id,
                         job.candidate.video_id, problem.kind)
                job.index += 1
                retry_queue.append(job)
            else:
                finish(job, self._failure_row(job))

        with logging_redirect_tqdm(), \
                ThreadPoolExecutor(s.download_workers, thread_name_prefix="youtube") as net_pool, \
                conversion_pool(s.workers, s.pin_workers) as conv_pool:
            try:
                while True:
                    while stop is None and len(net_futures) < s.download_workers and \
                            len(conv_futures) < 2 * s.workers and (retry_queue or queue):
                        job = retry_queue.pop() if retry_queue else queue.pop()
                        net_futures[net_pool.submit(self._network, job)] = job
                    if not net_futures and not conv_futures:
                        break
                    running: list[Future[Any]] = [*net_futures, *conv_futures]
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        if future in net_futures:
                            net_futures.pop(future)
                            result: NetResult = future.result()
                            job = result.job
                            if result.kind == "unreachable":
                                assert result.problem is not None and isinstance(result.stop, Unreachable)
                                hold(job, result.problem, result.stop)
                                continue
                            if result.kind in ("fetched", "no_match", "video_failed") and unanswered:
                                network_answered()
                            if result.kind == "stop":
                                if stop is None:
                                    stop = result.stop
                                    # offline: the command's one closing line says it; a block is news now
                                    log.log(logging.INFO if isinstance(stop, Unreachable) else logging.WARNING,
                                            "%s", stop)
                            elif result.kind == "no_match":
                                row = self._base_row(job, "no_match", result.message, False)
                                row.update(self._match_columns(job, None))
                                finish(job, row)
                            elif result.kind == "search_failed":
                                finish(job, self._base_row(job, "failed", result.message, True))
                            elif result.kind == "video_failed":
                                assert result.problem is not None
                                next_candidate_or_fail(job, result.problem)
                            else:
                                conv_futures[self._submit_conversion(conv_pool, job, raw_users)] = job
                        else:
                            job = conv_futures.pop(future)
                            try:
                                outcome: ConvertOutcome = future.result()
                            except BrokenProcessPool:
                                raise UserError("a conversion worker process died (out of memory, or killed); "
                                                "finished tracks are saved: rerun to continue") from None
                            release_raw(job)
                            if outcome.fatal:  # nothing more can be written: stop, finished rows are kept
                                raise UserError(outcome.error or "the file system refused the audio")
                            if outcome.ok:
                                final = self.layout.audio_path(job.track.track_id)
                                os.replace(self._part_path(job), final)
                                finish(job, self._ok_row(job, outcome, final))
                            else:
                                kind = "truncated" if outcome.retryable else "bad_audio"
                                next_candidate_or_fail(job, VideoProblem(kind, outcome.retryable,
                                                                         outcome.error or "conversion failed"))
            except BaseException:
                for future in list(net_futures) + list(conv_futures):
                    future.cancel()
                raise
            finally:
                bar.close()
        if stop is None and unanswered:  # nothing answered after them: offline (their tracks get no row)
            stop = unanswered[-1][2]
        if stop is not None:
            summary.stopped = str(stop)
            self.stop = stop

    def _part_path(self, job: Job) -> Path:
        final = self.layout.audio_path(job.track.track_id)
        return final.with_name(final.name + ".part")

    def _submit_conversion(self, pool: ProcessPoolExecutor, job: Job,
                           raw_users: Counter[Path]) -> Future[ConvertOutcome]:
        fetched = job.fetched
        assert fetched is not None and job.candidate is not None
        raw_users[fetched.path] += 1
        s = self.settings
        expected = fetched.duration_s or job.candidate.candidate.duration_s
        if expected and s.max_seconds:
            expected = min(expected, s.max_seconds)
        task = ConvertTask(track_id=job.track.track_id, src=str(fetched.path.resolve()),
                           dst=str(self._part_path(job).resolve()), options=s.convert_options,
                           min_seconds=s.min_seconds, expected_s=expected)
        return pool.submit(convert_task, task)


def run_download(layout: Layout, settings: DownloadSettings | None = None, **kwargs: Any) -> Summary:
    """Run the stage; see :class:`DownloadStage` for the injectable collaborators."""
    return DownloadStage(layout, settings, **kwargs).run()
