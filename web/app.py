"""The archive server (aiohttp): the published files, a search page and a JSON API.
Stateless apart from per-process rate limits, so several can share one database."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from prometheus_client import CollectorRegistry, Histogram

from openminutes.meetings.registry import Registry
from openminutes.plugins import default_registry
from openminutes.publish.files import files_for, inside
from openminutes.publish.publisher import DECISION_KINDS, Publisher
from openminutes.publish.render import css_hash, render_page
from openminutes.storage import MeetingRecord
from openminutes.storage.protocols import SearchIndex
from openminutes.storage.search import Filters, Hit, SearchPage, kind_choices
from openminutes.web.health import add_routes as add_health_routes
from openminutes.web.healthcheck import HealthCheck, database_problems
from openminutes.web.live import LiveMeetings
from openminutes.web.live import add_routes as add_live_routes
from openminutes.web.openapi import spec
from openminutes.web.ratelimit import RateLimiter

# What the archive holds, with charsets (aiohttp's own table would serve .atom as
# application/octet-stream and .txt without a charset, mojibake in browsers).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
MAX_ID = 2**63 - 1  # the largest id a database column holds

STORAGE = web.AppKey("storage", SearchIndex)
PUBLISHER = web.AppKey("publisher", Publisher)
LIMITER = web.AppKey("limiter", RateLimiter)
KINDS = web.AppKey("kinds", tuple[str, ...])  # what the kind filter takes: the registry's and more
SPEC = web.AppKey("spec", dict)
HEADERS = web.AppKey("headers", dict)
SEARCH_SECONDS = web.AppKey("search_seconds", Histogram)
SEARCH_FORM = web.AppKey("search_form", bytes)
SEARCH_MARK = b"<!-- openminutes:search -->"  # where archive pages take the form
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)


def security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; "
            f"style-src {css_hash()}; img-src 'self'; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every response carries the security headers: ours, errors raised as HTTP
    exceptions, and a 500 for anything else (logged, never shown)."""
    headers = request.app[HEADERS]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        response = web.Response(status=500, text="Internal server error.")
    response.headers.update(headers)
    return response


class BadRequestError(Exception):
    """A parameter the API cannot use; the message names it."""


def _text(request: web.Request, name: str, max_length: int = 200) -> str | None:
    value = request.query.get(name, "").strip()
    if len(value) > max_length:
        raise BadRequestError(f"{name} is longer than {max_length} characters")
    return value or None


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequestError(f"{name} must be between {low} and {high}")
    return value


def _day(request: web.Request, name: str, *, end: bool = False) -> datetime | None:
    raw = _text(request, name, 10)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be a date, YYYY-MM-DD") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _filters(request: web.Request) -> Filters:
    kind = _text(request, "kind", 64)
    kinds = request.app[KINDS]
    if kind is not None and kind not in kinds:
        raise BadRequestError(f"kind must be one of {', '.join(kinds)}")
    return Filters(kind, _text(request, "series"), _text(request, "channel"),
                   _text(request, "person"), _day(request, "since"),
                   _day(request, "until", end=True), known=kinds)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers,
                             dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _limited(request: web.Request) -> float:
    return request.app[LIMITER].retry_after(request.remote or "unknown")


def _meeting_dict(m: MeetingRecord) -> dict[str, Any]:
    files = files_for(m.stem) if m.stem else {}
    return {
        "id": m.id, "network": m.network, "channel": m.channel, "name": m.name,
        "title": m.title, "started_at": m.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ended_at": m.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ") if m.ended_at else None,
        "minutes": f"/{files['html']}" if files else "",
        "log": f"/{files['log_html']}" if files else "",
        "json": f"/{files['json']}" if files else "",
    }


async def api_openapi(request: web.Request) -> web.Response:
    return _json(request.app[SPEC])


async def api_meetings(request: web.Request) -> web.Response:
    storage = request.app[STORAGE]
    series = _text(request, "series")
    limit, offset = _int(request, "limit", 20, 1, 100), _int(request, "offset", 0, 0, 10**7)
    found = await storage.published(name=series, limit=limit, offset=offset, with_open=True)
    total = await storage.count_published(series, with_open=True)
    return _json({"total": total, "items": [_meeting_dict(m) for m in found]})


async def api_meeting(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise BadRequestError(f"id must be an integer between 1 and {MAX_ID}")
    meeting_id = int(raw)
    record = await request.app[STORAGE].meeting(meeting_id)
    if record is None or not record.stem:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such meeting"}),
                               content_type="application/json")
    path = inside(request.app[PUBLISHER].root, files_for(record.stem)["json"])
    return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[".json"]})


async def api_search(request: web.Request) -> web.Response:
    wait = _limited(request)
    if wait:
        return _json({"error": "too many searches; try again shortly"}, 429,
                     {"Retry-After": str(max(1, round(wait)))})
    query = _text(request, "q", 10_000) or ""
    filters = _filters(request)
    limit, offset = _int(request, "limit", 20, 1, 100), _int(request, "offset", 0, 0, 1000)
    page = await _timed_search(request, query, filters, limit=limit, offset=offset)
    publisher = request.app[PUBLISHER]
    hits = [h.as_dict(publisher.line_url(h.meeting.stem, h.line)) for h in page.hits]
    return _json({"total": page.total, "capped": page.capped, "hits": hits})


async def _items(request: web.Request, kinds: tuple[str, ...], **filters: Any) -> web.Response:
    storage, publisher = request.app[STORAGE], request.app[PUBLISHER]
    limit, offset = _int(request, "limit", 20, 1, 100), _int(request, "offset", 0, 0, 10**7)
    found = await storage.items(kinds, limit=limit, offset=offset, **filters)
    total = await storage.count_items(kinds, **filters)
    return _json({"total": total, "items": [
        r.as_dict(publisher.line_url(r.meeting.stem, r.line)) for r in found]})


async def api_decisions(request: web.Request) -> web.Response:
    return await _items(request, DECISION_KINDS, channel=_text(request, "channel"),
                        name=_text(request, "series"), since=_day(request, "since"),
                        until=_day(request, "until", end=True))


async def api_actions(request: web.Request) -> web.Response:
    return await _items(request, ("action",), name=_text(request, "series"),
                        owner=_text(request, "person"))


async def search_page(request: web.Request) -> web.Response:
    query = _text(request, "q", 10_000) or ""
    context: dict[str, Any] = {"q": query, "kinds": request.app[KINDS], "hits": [], "total": 0,
                               "capped": False, "offset": 0, "error": "",
                               "prev_url": "", "next_url": "",
                               "since": request.query.get("since", "")[:10],
                               "until": request.query.get("until", "")[:10]}
    try:
        filters = _filters(request)
    except BadRequestError as exc:
        filters, context["error"] = Filters(), str(exc)
    context["filters"] = filters
    status = 200
    if query and not context["error"]:
        wait = _limited(request)
        if wait:
            context["error"] = "Too many searches from here; please wait a moment."
            status = 429
        else:
            offset = _int(request, "offset", 0, 0, 1000)
            page = await _timed_search(request, query, filters, limit=20, offset=offset)
            context.update(total=page.total, capped=page.capped, offset=offset, hits=[
                _SearchHit(h, f"/{files_for(h.meeting.stem)['log_html']}#l-{h.line}"
                           if h.meeting.stem else "") for h in page.hits])
            base = {k: v for k, v in request.query.items() if k != "offset" and v}
            if offset > 0:
                context["prev_url"] = "search?" + urlencode({**base, "offset": max(0, offset - 20)})
            if offset + 20 < min(page.total, 1000):
                context["next_url"] = "search?" + urlencode({**base, "offset": offset + 20})
    html = render_page("search.html.j2", root="", feed="feed.atom", **context)
    headers = {"Retry-After": "5"} if status == 429 else None
    return web.Response(text=html, content_type="text/html", status=status, headers=headers)


@dataclass(frozen=True, slots=True)
class _SearchHit:
    """A hit as the search page shows it, with the server-relative link to its line."""

    hit: Hit
    url: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hit, name)


async def no_icon(request: web.Request) -> web.Response:
    """Browsers ask for /favicon.ico on their own; answer without an error in the console."""
    return web.Response(status=204)


async def archive_file(request: web.Request) -> web.StreamResponse:
    """A published file; a folder gives its index.html."""
    root: Path = request.app[PUBLISHER].root
    target = await asyncio.to_thread(_archive_path, root, request.match_info.get("path", ""))
    if target is None:
        raise web.HTTPNotFound(text="Not found. Try the index or the search page.")
    content_type = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
    if target.name == "index.html" or target.parent.name == "years":
        # An archive page: served with search, it offers the search form.
        page = await asyncio.to_thread(target.read_bytes)
        if SEARCH_MARK in page:
            return web.Response(body=page.replace(SEARCH_MARK, request.app[SEARCH_FORM], 1),
                                headers={"Content-Type": content_type})
    return web.FileResponse(target, headers={"Content-Type": content_type})


def _archive_path(root: Path, relative: str) -> Path | None:
    """The file a path names inside the publish dir (a folder: its index.html), resolved
    once, symlinks included, and checked inside; None when there is none."""
    try:
        target = inside(root, relative or "index.html")
        if target.is_dir():
            target = inside(root, f"{relative.rstrip('/')}/index.html")
    except (ValueError, OSError):
        return None
    return target if target.is_file() else None


@web.middleware
async def _bad_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequestError as exc:
        if request.path.startswith("/api/"):
            return _json({"error": str(exc)}, 400)
        return web.Response(text=str(exc), status=400)


class _Connection(RequestHandler):
    """aiohttp's connection handler, whose own error answers (a malformed request, a
    header too long) carry the security headers like every other response."""

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        response = super().handle_error(request, status, exc, message)
        response.headers.update(security_headers())
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


class ArchiveRunner(web.AppRunner):
    """The archive's runner: connections idle (or sending their headers slowly) for
    `idle_timeout` seconds are closed, and aiohttp's own errors carry our headers."""

    def __init__(self, app: web.Application, *, idle_timeout: float) -> None:
        super().__init__(app, access_log=None, keepalive_timeout=idle_timeout)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its Server itself; only the connection class differs.
        server.__class__ = _Server
        return server


async def _timed_search(request: web.Request, query: str, filters: Filters, *, limit: int,
                        offset: int) -> SearchPage:
    with request.app[SEARCH_SECONDS].time():
        return await request.app[STORAGE].search(query, filters, limit=limit, offset=offset)


def create_app(storage: SearchIndex, publisher: Publisher, limiter: RateLimiter,
               registry: Registry | None = None, *, health: HealthCheck | None = None,
               metrics: CollectorRegistry | None = None,
               live: LiveMeetings | None = None) -> web.Application:
    """The archive server; `registry`: the plugins whose item kinds search offers;
    `health` and `metrics`: what /healthz and /metrics report (default: the database is
    reachable; search durations)."""
    # Request lines up to 32 KiB: a pasted 10 kB search query is answered, not refused.
    app = web.Application(middlewares=[_headers, _bad_requests],
                          handler_args={"max_line_size": 32768, "max_field_size": 32768})
    app[STORAGE] = storage
    app[PUBLISHER] = publisher
    app[LIMITER] = limiter
    kinds = kind_choices((registry or default_registry()).kind_names())
    app[KINDS] = kinds
    app[SPEC] = spec(kinds)
    app[HEADERS] = security_headers()
    app[SEARCH_FORM] = render_page("search_form.html.j2").encode()
    collected = metrics if metrics is not None else CollectorRegistry()
    app[SEARCH_SECONDS] = Histogram("openminutes_search_seconds", "Time to answer a search",
                                    registry=collected)
    add_health_routes(app, health or (lambda: database_problems(storage)), collected)
    app.router.add_get("/api/openapi.json", api_openapi)
    app.router.add_get("/api/meetings", api_meetings)
    app.router.add_get("/api/meetings/{id}", api_meeting)
    app.router.add_get("/api/search", api_search)
    app.router.add_get("/api/decisions", api_decisions)
    app.router.add_get("/api/actions", api_actions)
    app.router.add_get("/search", search_page)
    if live is not None:
        add_live_routes(app, live, app[HEADERS])
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/{path:.*}", archive_file)
    return app
