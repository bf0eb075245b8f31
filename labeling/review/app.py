"""The review web app: a table of tracks with filters, a page per track, decisions into overrides.csv.

Security, since it serves files and writes into the data folder:

* it binds 127.0.0.1 by default, and answers only requests whose ``Host`` is the address it
  was started on (no DNS rebinding: a web page cannot rename itself to reach it);
* audio and pictures are addressed by track ID, and only IDs in ``tracks.csv`` are served (the
  file comes from the manifest's checked ``audio_path``); any other ID is a 404, so no path
  ever comes from the request;
* a state-changing request (POST) must come from the app's own pages: its ``Origin`` header
  must be the app's origin and it must carry the per-process token embedded in the page
  (``X-CSRF-Token``); otherwise 403;
* every error is a 4xx with ``{"error": "..."}``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from manifests.errors import UserError
from manifests.layout import Layout
from manifests.lock import FolderInUse

from .actions import ACTIONS, ActionError, Reviewer
from .data import MAX_PER_PAGE, SORTS, Query, ReviewData
from .images import cached_png

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: Keyboard shortcuts, shown on the pages (and what review.js binds).
SHORTCUTS = (("j / n", "next track"), ("k / p", "previous track"), ("space", "play / pause"),
             ("← / →", "seek 5 s back / forward"), ("a", "accept (mark reviewed, next)"),
             ("d", "drop the track (next)"), ("u", "undo the last decision"), ("b", "back to the table"),
             ("/", "search (table)"), ("Enter / o", "open the selected track (table)"))
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def parse_query(params: dict[str, str]) -> Query:
    """URL parameters into a :class:`Query`; ``HTTPException(400)`` names a bad one."""
    def number(name: str, kind: type[int] | type[float], minimum: float) -> Any:
        text = params.get(name, "").strip()
        if not text:
            return None
        try:
            value = kind(text)
        except ValueError:
            raise HTTPException(400, f"{name}={text!r} is not a number") from None
        if value < minimum or value != value:
            raise HTTPException(400, f"{name}={text!r} must be at least {minimum:g}")
        return value

    sort = params.get("sort", "track_id") or "track_id"
    if sort not in SORTS:
        raise HTTPException(400, f"sort={sort!r} is not one of {', '.join(SORTS)}")
    reviewed = params.get("reviewed", "")
    if reviewed not in ("", "yes", "no"):
        raise HTTPException(400, f"reviewed={reviewed!r} must be yes or no")
    per_page = number("per_page", int, 1)
    if per_page is not None and per_page > MAX_PER_PAGE:
        raise HTTPException(400, f"per_page={per_page} is above {MAX_PER_PAGE}")
    flags = {name: params.get(name, "") in ("1", "true", "on", "yes") for name in ("disagree", "wrong")}
    return Query(genre=params.get("genre", ""), split=params.get("split", ""), source=params.get("source", ""),
                 status=params.get("status", ""), flag=params.get("flag", ""),
                 max_score=number("max_score", float, 0), disagree=flags["disagree"], wrong=flags["wrong"],
                 reviewed=reviewed, q=params.get("q", "")[:200], sort=sort, page=number("page", int, 1) or 1,
                 per_page=per_page or Query().per_page)


def _parse_ranges(header: str, size: int) -> bool:
    """Whether a Range header asks for bytes this file has (what FileResponse then serves)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return False
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if not dash:
            return False
        try:
            if not first:  # a suffix: the last N bytes
                if int(last) <= 0:
                    return False
                continue
            start = int(first)
            end = int(last) if last else size - 1
        except ValueError:
            return False
        if start < 0 or start >= size or end < start:
            return False
    return True


def create_app(layout: Layout, *, run: Path | None = None, known_genres: frozenset[str] | None = None,
               allowed_hosts: frozenset[str] | None = LOOPBACK_NAMES, token: str | None = None) -> FastAPI:
    """The review app over ``layout``; ``allowed_hosts`` None accepts any Host (a non-loopback bind)."""
    if known_genres is None:
        from labeling.taxonomy import load_taxonomy

        known_genres = load_taxonomy().genres
    data = ReviewData(layout, run)
    reviewer = Reviewer(layout, known_genres)
    csrf = token or secrets.token_urlsafe(32)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app = FastAPI(title="genre review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.data, app.state.reviewer, app.state.csrf = data, reviewer, csrf
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        if allowed_hosts is not None and host not in allowed_hosts and f"[{host}]" not in allowed_hosts:
            return _error(400, f"unexpected Host {request.headers.get('host', '')!r}; open the URL the server printed")
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin != own:
                return _error(403, "cross-origin request refused (Origin must be this app's own)")
            if not hmac.compare_digest(request.headers.get("x-csrf-token", ""), csrf):
                return _error(403, "missing or wrong CSRF token; reload the page")
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(FolderInUse)
    async def busy(request: Request, exc: FolderInUse) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        return _error(400, str(exc))

    def fresh() -> ReviewData:
        data.refresh()
        return data

    def known(track_id: str) -> ReviewData:
        current = fresh()
        if track_id not in current:
            raise HTTPException(404, f"no track {track_id[:80]!r} in the manifest")
        return current

    def context(request: Request, query: Query, **extra: Any) -> dict[str, Any]:
        current = fresh()
        return {"request": request, "csrf": csrf, "query": query, "qs": urlencode(query.params()),
                "url": lambda **changes: "?" + urlencode(query.params(**changes)),
                "counts": current.counts(query), "shortcuts": SHORTCUTS, "run": run,
                "overrides_error": current.overrides_error, "undo_depth": len(reviewer.journal()), **extra}

    @app.get("/", response_class=HTMLResponse)
    def table(request: Request) -> HTMLResponse:
        query = parse_query(dict(request.query_params))
        current = fresh()
        page = current.page(query)
        return templates.TemplateResponse(request, "table.html", context(
            request, query, page=page, facets=current.facets(), sorts=SORTS,
            has_disagreement=current.has_disagreement))

    @app.get("/api/tracks")
    def tracks(request: Request) -> dict[str, Any]:
        query = parse_query(dict(request.query_params))
        page = fresh().page(query)
        return {"total": page.total, "page": page.page, "pages": page.pages, "rows": page.rows}

    @app.get("/api/counts")
    def counts(request: Request) -> dict[str, int]:
        return fresh().counts(parse_query(dict(request.query_params)))

    @app.get("/track/{track_id}", response_class=HTMLResponse)
    def track_page(request: Request, track_id: str) -> HTMLResponse:
        current = known(track_id)
        query = parse_query(dict(request.query_params))
        before, after = current.neighbours(query, track_id)
        return templates.TemplateResponse(request, "track.html", context(
            request, query, t=current.track(track_id), previous=before, next=after,
            genres=sorted(reviewer.known_genres), has_audio=current.audio_file(track_id) is not None))

    @app.get("/api/track/{track_id}")
    def track_json(track_id: str) -> dict[str, Any]:
        return known(track_id).track(track_id)

    @app.get("/audio/{track_id}")
    def audio(request: Request, track_id: str) -> Response:
        path = known(track_id).audio_file(track_id)
        if path is None:
            raise HTTPException(404, f"track {track_id!r} has no audio file")
        ranges = request.headers.get("range")
        size = path.stat().st_size
        if ranges is not None and not _parse_ranges(ranges, size):
            return _error(416, f"range {ranges[:80]!r} is not within the file's {size} bytes",
                          {"Content-Range": f"bytes */{size}"})
        return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-cache"})

    @app.get("/image/{track_id}.png")
    def image(track_id: str) -> FileResponse:
        path = known(track_id).audio_file(track_id)
        if path is None:
            raise HTTPException(404, f"track {track_id!r} has no audio file")
        try:
            png = cached_png(path, layout.cache / "review", track_id)
        except (OSError, ValueError) as exc:
            raise HTTPException(422, f"cannot draw {track_id}'s audio: {exc}") from None
        return FileResponse(png, media_type="image/png")

    @app.post("/api/action")
    async def action(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        track_id, name = str(body.get("track_id", "")), str(body.get("action", ""))
        if name not in ACTIONS:
            raise ActionError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
        known(track_id)
        entry = reviewer.apply(track_id, name, str(body.get("value") or ""), str(body.get("note") or ""))
        current = fresh()
        return {"done": entry, "counts": current.counts(), "undo_depth": len(reviewer.journal())}

    @app.post("/api/undo")
    async def undo(request: Request) -> dict[str, Any]:
        entry = reviewer.undo()
        current = fresh()
        return {"undone": entry, "counts": current.counts(), "undo_depth": len(reviewer.journal())}

    return app


async def _json_body(request: Request) -> dict[str, Any]:
    if "application/json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send the decision as JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body
