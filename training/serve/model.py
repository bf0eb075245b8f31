"""The served model: one run loaded once, and one worker thread that alone runs it.

A web server answers many requests at once, but a Keras model (and the pretrained
tagger a probe embeds with) is one object with one set of weights: calling it from
several threads at once gains nothing on a CPU and is not what it was built for.  So
:class:`ModelWorker` owns the model on one thread and takes waveforms through a queue;
the request handlers only decode audio (ffmpeg, in parallel) and wait for their turn.
While the model works on one request, others queue up; the worker then takes every
waiting CNN request together and runs their crops as shared batches, so a busy server
makes fewer, fuller model calls than one request at a time would.

Both kinds of run are served: a CNN run (``model.keras``, song = mean over evenly spaced
crops, exactly as ``python -m training predict``) and a linear-probe run (``probe.npz``:
musicnn embeddings of half-overlapping patches, pooled and classified; the timeline
applies the probe to each patch on its own).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from manifests.hashing import sha256_file

from ..data.crops import song_crop_starts
from ..runs.bundle import Bundle, load_bundle
from ..runs.probe import ProbeBundle, is_probe_run, load_probe
from ..runs.rundir import JSONObject, RunDir

if TYPE_CHECKING:
    from ..runs.embed import Embedder

log = logging.getLogger(__name__)

#: Crops the worker puts through the model in one go when it gathers queued requests.
MAX_BATCH_CROPS = 256


@dataclass(frozen=True)
class ModelIdentity:
    """Which model answered: enough to tell two deployments (or two retrainings) apart."""

    run: str
    path: str
    kind: str
    task: str
    labels: list[str]
    threshold: float
    sample_rate: int
    created: str
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"run": self.run, "kind": self.kind, "task": self.task, "labels": list(self.labels),
                "threshold": self.threshold if self.task == "multi" else None, "sample_rate": self.sample_rate,
                "created": self.created, "sha256": self.sha256}


@dataclass
class Prediction:
    """A song's probabilities and the per-crop (or per-patch) ones behind them."""

    probabilities: np.ndarray
    crop_probabilities: np.ndarray
    crop_starts_s: list[float]
    crop_ends_s: list[float]
    unit: str
    model_seconds: float = 0.0


class WorkerClosed(RuntimeError):
    """The worker was closed (the server is stopping): no more predictions."""


@dataclass
class _Job:
    wave: np.ndarray
    future: Future[Prediction] = field(default_factory=Future)


class ServedModel:
    """A run folder loaded for serving (CNN bundle or probe bundle), with its identity."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.bundle: Bundle | ProbeBundle = load_probe(run) if is_probe_run(run) else load_bundle(run)
        trained = run.trained_file
        created = dt.datetime.fromtimestamp(trained.stat().st_mtime, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(self.bundle, ProbeBundle):
            settings = self.bundle.settings
            kind = f"probe ({settings.model} {settings.layer}, {settings.pooling} pooling)"
        else:
            kind = self.bundle.config.model
        self.identity = ModelIdentity(run=run.name, path=str(run.path), kind=kind, task=self.bundle.task,
                                      labels=list(self.bundle.labels), threshold=float(self.bundle.threshold),
                                      sample_rate=int(self.bundle.sample_rate), created=created,
                                      sha256=sha256_file(trained))
        self.model_calls = 0

    @property
    def is_probe(self) -> bool:
        return isinstance(self.bundle, ProbeBundle)

    @property
    def sample_rate(self) -> int:
        return int(self.bundle.sample_rate)

    def describe(self) -> JSONObject:
        """The run's labels, thresholds, metrics and training data, for ``GET /api/model``."""
        metrics = self.run.read_metrics() if self.run.has_metrics else None
        summary = self.run.read_summary()
        song = (metrics or {}).get("song") or {}
        support = {g: v.get("support") for g, v in (song.get("per_genre") or {}).items() if isinstance(v, dict)}
        training: dict[str, Any] = {key: summary.get(key) for key in ("tracks", "skipped", "dropped_genres", "manifest",
                                                      "finished_at", "val_song_accuracy") if key in summary}
        if support:
            training["evaluated_tracks_per_genre"] = support
        config = self.bundle.config
        return {"model": self.identity.as_json(),
                "thresholds": {"task": config.task, "predicted_at": config.threshold if config.task == "multi"
                               else "the most probable genre", "label_threshold": config.label_threshold},
                "features": dataclasses.asdict(config.features) | {"crop_samples": config.features.crop_samples},
                "training_data": training or None,
                "metrics": metrics}

    # ------------------------------------------------------------ prediction (worker thread only)

    def predict_waves(self, waves: list[np.ndarray]) -> list[Prediction]:
        """Predictions for several waveforms; CNN crops of all of them share batches."""
        started = time.perf_counter()
        if isinstance(self.bundle, ProbeBundle):
            out = [self._predict_probe(self.bundle, w) for w in waves]
        else:
            out = self._predict_cnn(self.bundle, waves)
        seconds = time.perf_counter() - started
        for p in out:
            p.model_seconds = seconds
        return out

    def _predict_cnn(self, bundle: Bundle, waves: list[np.ndarray]) -> list[Prediction]:
        crops = [np.asarray(bundle.song_crops(w), dtype=np.float32) for w in waves]
        self.model_calls += 1
        probs = np.asarray(bundle.predict_crops(np.concatenate(crops)), dtype=np.float64)
        out, first = [], 0
        rate, n = bundle.sample_rate, bundle.crop_samples
        for wave, c in zip(waves, crops, strict=True):
            part = probs[first: first + len(c)]
            first += len(c)
            starts = song_crop_starts(wave.size, n)
            if len(starts) != len(c):  # song_crops and song_crop_starts share one rule: never expected
                raise RuntimeError("crop starts disagree with the crops")
            out.append(Prediction(probabilities=part.mean(axis=0), crop_probabilities=part,
                                  crop_starts_s=[float(s) / rate for s in starts],
                                  crop_ends_s=[min(float(s + n), float(max(wave.size, n))) / rate for s in starts],
                                  unit="crops"))
        return out

    def _predict_probe(self, bundle: ProbeBundle, wave: np.ndarray) -> Prediction:
        """The probe on the pooled patches (the song, as ``predict``) and on each patch alone (the timeline)."""
        from ..data.embeddings import pool
        from ..models.pretrained.patches import centred_signal

        embedder = bundle.embedder
        size = embedder.spec.spectrogram.patch_samples
        signal, _ = centred_signal(wave, embedder.spec.spectrogram)
        starts = embedder.starts(np.asarray(wave).size)
        windows = np.stack([signal[int(s): int(s) + size] for s in starts]).astype(np.float32)
        patches = self._embed_windows(embedder, windows)
        pooling = embedder.settings.pooling
        song = bundle.predict_embeddings(pool(patches, pooling)[None, :])[0]
        each = np.stack([pool(patches[i: i + 1], pooling) for i in range(len(starts))])
        rate = embedder.sample_rate
        return Prediction(probabilities=np.asarray(song, np.float64),
                          crop_probabilities=np.asarray(bundle.predict_embeddings(each), np.float64),
                          crop_starts_s=[float(s) / rate for s in starts],
                          crop_ends_s=[min(float(s + size), float(wave.size)) / rate for s in starts],
                          unit="patches")


    def _embed_windows(self, embedder: Embedder, windows: np.ndarray) -> np.ndarray:
        """The embedding layer per patch, in batches of the embedder's one size (as ``embed`` runs it)."""
        layer, size, out = embedder.settings.layer, embedder.batch_size, []
        for first in range(0, windows.shape[0], size):
            chunk = windows[first:first + size]
            n = chunk.shape[0]
            if n < size:  # one input shape for every call: no retracing, the same numbers as embed
                chunk = np.concatenate([chunk, np.zeros((size - n, chunk.shape[1]), np.float32)])
            self.model_calls += 1
            values = embedder.model.predict(chunk, embedder.sample_rate, layers=(layer,))[layer]
            out.append(np.asarray(values)[:n].reshape(n, -1))
        return np.concatenate(out)


class ModelWorker:
    """One thread that runs the model; everyone else submits waveforms and waits on a future."""

    def __init__(self, model: ServedModel, max_batch_crops: int = MAX_BATCH_CROPS) -> None:
        self.model = model
        self.max_batch_crops = max_batch_crops
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="model-worker", daemon=True)
        self.batches = 0
        self._closed = False
        self._lock = threading.Lock()
        self._thread.start()

    def submit(self, wave: np.ndarray) -> Future[Prediction]:
        """Queue a waveform; the future fails at once when the worker has been closed."""
        job = _Job(np.asarray(wave, dtype=np.float32))
        with self._lock:
            if self._closed:
                job.future.set_exception(WorkerClosed("the server is shutting down"))
            else:
                self._queue.put(job)
        return job.future

    def predict(self, wave: np.ndarray, timeout: float | None = None) -> Prediction:
        return self.submit(wave).result(timeout)

    def warm_up(self) -> None:
        """Run the model once on a second of silence: graph tracing happens now, not on the first request."""
        self.predict(np.zeros(self.model.sample_rate, dtype=np.float32))

    def close(self) -> None:
        """Stop after the requests already queued; later ones fail instead of waiting forever."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` and the queued jobs behind it, up to the crop budget (a probe: one at a time)."""
        jobs = [first]
        if self.model.is_probe:
            return jobs, False
        crop = max(1, int(getattr(self.model.bundle, "crop_samples", 1)))
        budget = self.max_batch_crops - max(1, first.wave.size // crop)
        while budget > 0:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            budget -= max(1, job.wave.size // crop)
        return jobs, False

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._gather(first)
            jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            if jobs:
                try:
                    results = self.model.predict_waves([j.wave for j in jobs])
                except Exception as exc:  # the caller gets the error; the server keeps serving
                    log.exception("prediction failed")
                    for job in jobs:
                        job.future.set_exception(exc)
                else:
                    self.batches += 1
                    for job, result in zip(jobs, results, strict=True):
                        job.future.set_result(result)
            if stop:
                return
