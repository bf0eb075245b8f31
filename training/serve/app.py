"""The web app: a page to try a trained run, and a small JSON API in front of it.

``create_app(worker, limits)`` builds a FastAPI application around a loaded model
(:class:`~training.serve.model.ModelWorker`); ``python -m training serve RUN`` runs it
on uvicorn.  Everything the page needs (template, script, style) is served from this
package: the page works offline, and so do the API docs (``/docs`` is drawn here from
``/openapi.json`` instead of FastAPI's default Swagger UI, which loads from a CDN).

Errors are JSON with one ``detail`` line: 413 for an upload over ``max_upload_bytes``
or audio longer than ``max_seconds``, 415 for a file ffmpeg cannot decode as audio,
422 for a request without a ``file`` field or an empty file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .media import Limits, UploadRejected, data_url, decode_upload, spectrogram_png
from .model import ModelWorker, Prediction, WorkerClosed

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------- response shapes (documented in /openapi.json)

class GenreScore(BaseModel):
    genre: str
    score: float = Field(description="song-level probability: the mean over the crops (or the probe's output)")


class ModelInfo(BaseModel):
    run: str = Field(description="run folder name")
    kind: str = Field(description="model family (cnn_bn, shortchunk, ...) or the probe and its pretrained model")
    task: str = Field(description="single (one genre per song, scores sum to 1) or multi (independent genres)")
    labels: list[str]
    threshold: float | None = Field(description="multi-label: a genre is predicted at a score at or above this")
    sample_rate: int
    created: str = Field(description="when the trained model file was written (UTC)")
    sha256: str = Field(description="SHA-256 of the trained model file (model.keras or probe.npz)")


class Crops(BaseModel):
    unit: str = Field(description="crops (CNN) or patches (probe)")
    starts_s: list[float]
    ends_s: list[float]
    scores: list[list[float]] = Field(description="one row per crop, one score per label (in `labels` order)")


class PredictResponse(BaseModel):
    file: str
    duration_s: float
    task: str
    labels: list[str]
    genres: list[GenreScore] = Field(description="every label, best first")
    top: list[GenreScore] = Field(description="the `top` best")
    predicted: list[str] = Field(description="single: the best genre; multi: every genre at or above the threshold")
    crops: Crops
    model: ModelInfo
    seconds: float = Field(description="time this request took in the server")
    spectrogram_png: str | None = Field(default=None, description="data: URL of the log-mel image (?spectrogram=true)")


class ModelResponse(BaseModel):
    model: ModelInfo
    thresholds: dict[str, Any]
    features: dict[str, Any]
    training_data: dict[str, Any] | None = Field(description="tracks per split (run.json) and per genre evaluated")
    metrics: dict[str, Any] | None = Field(description="the run's metrics.json (null before `training evaluate`)")
    limits: dict[str, float]


class ErrorResponse(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "upload or audio over the server's limits"},
    415: {"model": ErrorResponse, "description": "not audio ffmpeg can decode"},
    422: {"model": ErrorResponse, "description": "no `file` field, an empty file, or a bad query parameter"},
    503: {"model": ErrorResponse, "description": "the server is shutting down"},
}


# ---------------------------------------------------------------- the app

class ContentLengthLimit:
    """Refuse a body whose announced size is over the limit before reading a byte of it, with JSON.

    FastAPI's ``max_body_size`` counts the bytes as they arrive (and so stops a body sent
    without a length); this middleware answers the common case, a declared
    ``Content-Length``, in the API's own error format instead of Starlette's plain text.
    """

    def __init__(self, app: ASGIApp, max_body_size: int, message: str) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_size:
                response = JSONResponse({"detail": self.message}, status_code=413, headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _prediction_json(pred: Prediction, worker: ModelWorker, filename: str, duration_s: float,
                     top: int) -> dict[str, Any]:
    identity = worker.model.identity
    labels = identity.labels
    probs = [float(p) for p in pred.probabilities]
    order = sorted(range(len(labels)), key=lambda j: (-probs[j], j))
    genres = [{"genre": labels[j], "score": probs[j]} for j in order]
    if identity.task == "multi":
        predicted = [labels[j] for j in order if probs[j] >= identity.threshold]
    else:
        predicted = [labels[order[0]]]
    return {"file": filename, "duration_s": round(duration_s, 3), "task": identity.task, "labels": labels,
            "genres": genres, "top": genres[:top], "predicted": predicted,
            "crops": {"unit": pred.unit, "starts_s": [round(s, 3) for s in pred.crop_starts_s],
                      "ends_s": [round(s, 3) for s in pred.crop_ends_s],
                      "scores": [[float(x) for x in row] for row in pred.crop_probabilities]},
            "model": identity.as_json()}


def _one_line(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(x) for x in error.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def warm_up(worker: ModelWorker) -> None:
    """Run the model and draw a spectrogram once, so the first visitor waits for neither (tracing, imports)."""
    import numpy as np

    worker.warm_up()
    spectrogram_png(np.zeros(worker.model.sample_rate, np.float32), worker.model.bundle.config.features)


def create_app(worker: ModelWorker, limits: Limits | None = None) -> FastAPI:
    """The FastAPI application serving ``worker``'s model (the caller owns the worker and closes it)."""
    limits = limits or Limits()
    identity = worker.model.identity
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    app = FastAPI(title="Genre classifier", version="1",
                  description=f"Top genres of an audio file with the trained run `{identity.run}` ({identity.kind}, "
                              f"{len(identity.labels)} genres).",
                  docs_url=None, redoc_url=None)
    body_limit = limits.max_upload_bytes + 64 * 1024  # the multipart overhead on top of the file: a little room
    app.add_middleware(ContentLengthLimit, max_body_size=body_limit,
                       message=f"upload larger than the {limits.max_upload_mb:.3g} MB limit")
    app.state.worker = worker
    app.state.limits = limits
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    max_mb = limits.max_upload_mb

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 413:
            detail = f"upload larger than the {max_mb:.3g} MB limit"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(exc)}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "index.html", {
            "model": identity, "max_mb": max_mb, "max_seconds": limits.max_seconds})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs.html", {"api": app.openapi(), "model": identity})

    @app.post("/api/predict", response_model=PredictResponse, response_model_exclude_none=True, responses=ERRORS,
              summary="Top genres of an audio file", max_body_size=body_limit)
    async def predict(file: Annotated[UploadFile, File(description="audio in any format ffmpeg reads")],
                      top: Annotated[int, Query(ge=1, le=100, description="genres in `top`")] = 3,
                      spectrogram: Annotated[bool, Query(description="add the log-mel image as a data: URL")] = False,
                      ) -> Any:
        """Decode the file at the model's sample rate, cut it into evenly spaced crops covering all of it and
        average the model over them (as `python -m training predict`); the per-crop scores come along."""
        started = time.perf_counter()
        name = file.filename or "upload"
        try:
            wave = await run_in_threadpool(decode_upload, file.file, name, worker.model.sample_rate, limits)
        except UploadRejected as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        finally:
            await file.close()
        try:
            prediction = await asyncio.wrap_future(worker.submit(wave))
        except WorkerClosed as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        except Exception as exc:  # logged by the worker; the client gets one line, the server keeps serving
            return JSONResponse({"detail": f"{name}: prediction failed: {type(exc).__name__}: {exc}"},
                                status_code=500)
        out = _prediction_json(prediction, worker, name, wave.size / worker.model.sample_rate, top)
        if spectrogram:
            png = await run_in_threadpool(spectrogram_png, wave, worker.model.bundle.config.features)
            out["spectrogram_png"] = data_url(png)
        out["seconds"] = round(time.perf_counter() - started, 4)
        return out

    @app.get("/api/model", response_model=ModelResponse, summary="The served model: labels, metrics, training data")
    async def model() -> Any:
        """What the run says about itself: identity, thresholds, front-end settings, `metrics.json`, and
        the tracks it was trained on (per split) and evaluated on (per genre)."""
        out = await run_in_threadpool(worker.model.describe)
        out["limits"] = {"max_upload_mb": max_mb, "max_seconds": limits.max_seconds}
        return out

    return app
