"""The live meeting pages of `serve`: `/live` (the meetings open now), `/live/{id}` (the
minutes so far and the log, readable without JavaScript) and `/live/{id}/events`
(Server-Sent Events: each stored line is an event, with the sections of the minutes that
changed).

The recorder may run in another process or on another host: `serve` learns that lines
were stored from the database (storage/changes.py), one listener per process, and reads
them from storage. Each open meeting followed is replayed once through the engine and
then kept up to date with the lines stored since; an ended one is dropped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web
from markupsafe import Markup

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line
from openminutes.meetings.state import Meeting, MeetingSettings
from openminutes.publish.files import files_for
from openminutes.publish.render import TEMPLATES, environment, render_page
from openminutes.storage import MeetingRecord

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0  # a comment line on an idle stream, so proxies keep it open
FOLLOWED = 100  # open meetings held at once (the least recently asked for go first)
BATCH = 200  # lines read and sent at a time
SECTIONS = ("summary", "votes", "actions")  # of the minutes, each sent when it changed
EVENTS = 500  # events of a followed meeting kept for streams to send (and resume from)
CLIENT_CHECK_SECONDS = 1.0  # how often an idle stream checks that its client is there


class LiveStore(Protocol):
    async def meeting(self, meeting_id: int) -> MeetingRecord | None: ...

    async def open_meetings(self, network: str | None = None) -> list[MeetingRecord]: ...

    async def lines(self, meeting_id: int, *, after: int = 0, upto: int | None = None,
                    limit: int | None = None) -> list[Line]: ...

    async def corrected_events(self, meeting_id: int) -> frozenset[str]: ...

    def changes(self) -> AsyncIterator[int | None]: ...


@dataclass
class Followed:
    """An open meeting as `serve` follows it: its state, and the events of its newest
    lines, each encoded once for every stream."""

    record: MeetingRecord
    meeting: Meeting
    following: bool = True  # False: ended, not replayed (its lines go out as stored)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    events: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=EVENTS))
    sections: dict[str, Markup] = field(default_factory=dict)  # the minutes so far
    sections_seq: int = -1  # the last line `sections` were rendered at
    sent: dict[str, Markup] = field(default_factory=dict)  # as the events carried them
    seen: asyncio.Event | None = None  # the wake-up it was last brought up to date at

    @property
    def floor(self) -> int:
        """`events` hold every line after this one."""
        return self.events[0][0] - 1 if self.events else self.meeting.last_seq


class Wakeup:
    """One event per process that is set when lines were stored anywhere; each waiter
    takes the current one before reading, so no change between reading and waiting is
    missed."""

    def __init__(self, changes: Callable[[], AsyncIterator[int | None]]) -> None:
        self._changes = changes
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stopping = False

    def current(self) -> asyncio.Event:
        if self._task is None:
            self._task = asyncio.create_task(self._listen())
        return self._event

    async def _listen(self) -> None:
        while True:
            try:
                async for _ in self._changes():
                    self._fire()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: streams fall back on time
                log.warning("live pages: lost the change listener (%r); again in 1s", exc)
            self._fire()  # whatever happened meanwhile is read again
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        """Shutting down: every stream ends now (clients reconnect to another server)."""
        self.stopping = True
        self._fire()

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LiveMeetings:
    def __init__(self, storage: LiveStore, engine: Engine, settings: MeetingSettings, *,
                 max_streams: int = 500, per_client: int = 6) -> None:
        self.storage = storage
        self.engine = engine
        self.settings = settings
        self.max_streams = max_streams
        self.per_client = per_client
        self.streams: dict[str, int] = {}  # client address -> open streams
        self.headers: dict[str, str] = {}  # the security headers every response carries
        self.wakeup = Wakeup(storage.changes)
        self._followed: OrderedDict[int, Followed] = OrderedDict()
        self._starting = asyncio.Lock()  # a meeting first asked for is replayed once

    @property
    def open_streams(self) -> int:
        return sum(self.streams.values())

    async def get(self, meeting_id: int, woken: asyncio.Event | None = None
                  ) -> Followed | None:
        """The meeting as it stands now (its lines applied up to the newest stored).
        `woken`: the wake-up the caller took; when the meeting was brought up to date at
        it already, nothing is read again (one stream reads for all)."""
        if meeting_id not in self._followed:
            async with self._starting:
                if meeting_id not in self._followed:
                    return await self._start(meeting_id, woken)
        followed = self._followed.get(meeting_id)
        if followed is not None:
            self._followed.move_to_end(meeting_id)
            async with followed.lock:  # the first stream reads; the others find it done
                if woken is None or followed.seen is not woken:
                    record = await self.storage.meeting(meeting_id)
                    if record is None:
                        return None
                    await self._catch_up(followed, encode=True)
                    followed.record, followed.seen = record, woken
            if followed.record.ended_at is not None:
                self._followed.pop(meeting_id, None)
            return followed
        return await self.get(meeting_id, woken)  # dropped meanwhile (the cap)

    async def _start(self, meeting_id: int, woken: asyncio.Event | None) -> Followed | None:
        record = await self.storage.meeting(meeting_id)
        if record is None:
            return None
        meeting = Meeting(record.network, record.channel, self.settings)
        if record.ended_at is not None:
            # Over: its minutes say it all; not replayed again for each request.
            return Followed(record, meeting, following=False)
        meeting.pinned = await self.storage.corrected_events(meeting_id)
        followed = Followed(record, meeting)
        async with followed.lock:
            await self._catch_up(followed, encode=False)  # replayed whole: no history
            followed.seen = woken
        self._followed[meeting_id] = followed
        while len(self._followed) > FOLLOWED:
            self._followed.popitem(last=False)
        return followed

    async def _catch_up(self, followed: Followed, *, encode: bool) -> None:
        meeting = followed.meeting
        while lines := await self.storage.lines(followed.record.id, after=meeting.last_seq,
                                                limit=BATCH * 10):
            self.engine.replay(meeting, lines)
            if encode:
                self._encode(followed, lines)

    def _encode(self, followed: Followed, lines: list[Line]) -> None:
        """The events of new lines, once for every stream; the last carries the
        sections of the minutes that changed."""
        followed.events.extend(_line_events(followed.meeting, lines,
                                            self.sections_of(followed), followed.sent))

    def sections_of(self, followed: Followed) -> dict[str, Markup]:
        """The minutes so far, by section (templates/live_minutes.html.j2)."""
        if followed.sections_seq != followed.meeting.last_seq:
            module = environment().get_template("live_minutes.html.j2").module
            followed.sections = {name: getattr(module, name)(followed.meeting)
                                 for name in SECTIONS}
            followed.sections_seq = followed.meeting.last_seq
        return followed.sections


def _add_changed(data: dict[str, Any], sections: dict[str, Markup],
                 sent: dict[str, Markup]) -> None:
    """Put into an event's data the sections that differ from those sent (and note
    them sent)."""
    changed = {name: str(html) for name, html in sections.items() if sent.get(name) != html}
    if changed:
        data["sections"] = changed
        sent.update(sections)


LIVE = web.AppKey("live", LiveMeetings)


def _meeting_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound(text="No such meeting.")
    return int(raw)


def _minutes_url(record: MeetingRecord) -> str:
    return f"/{files_for(record.stem)['html']}" if record.stem else ""


def _running(started: datetime) -> str:
    minutes = int((datetime.now(UTC) - started).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


async def live_index(request: web.Request) -> web.Response:
    live = request.app[LIVE]
    rows = []
    for record in await live.storage.open_meetings():
        followed = await live.get(record.id)
        if followed is None or not followed.meeting.started:
            continue
        rows.append((followed, _running(record.started_at)))
    return _page(render_page("live_index.html.j2", root="/", feed="/feed.atom", rows=rows))


async def live_page(request: web.Request) -> web.Response:
    live = request.app[LIVE]
    followed = await live.get(_meeting_id(request))
    if followed is None or not (followed.meeting.started or followed.record.ended_at):
        raise web.HTTPNotFound(text="No such meeting.")
    if followed.record.ended_at is not None:
        return _page(render_page("live_ended.html.j2", root="/", feed="/feed.atom",
                                 record=followed.record,
                                 minutes_url=_minutes_url(followed.record)))
    meeting = followed.meeting
    shown = [meeting.as_shown(ln) for ln in await live.storage.lines(followed.record.id)]
    return _page(render_page("live_meeting.html.j2", root="/", feed="/feed.atom",
                             record=followed.record, m=meeting,
                             sections=live.sections_of(followed), log=_log_rows()(shown),
                             running=_running(followed.record.started_at)))


def _page(html: str) -> web.Response:
    """A live page: the state of this moment, never cached."""
    return web.Response(text=html, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def live_script(request: web.Request) -> web.FileResponse:
    """Our scripts, from the package: the live pages need them before any meeting was
    published (which writes localtime.js into the publish dir)."""
    return web.FileResponse(TEMPLATES / "static" / request.match_info["script"],
                            headers={"Content-Type": "text/javascript; charset=utf-8"})


def _resume_from(request: web.Request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after", "0")
    return int(raw) if raw.isdigit() and len(raw) < 12 else 0


async def live_events(request: web.Request) -> web.StreamResponse:
    live = request.app[LIVE]
    meeting_id = _meeting_id(request)
    client = request.remote or "unknown"
    # At the wake-up the stream then starts from: it finds the meeting read already.
    if await live.get(meeting_id, live.wakeup.current()) is None:
        raise web.HTTPNotFound(text="No such meeting.")
    if live.open_streams >= live.max_streams:
        raise web.HTTPServiceUnavailable(text="Too many live streams; reload later.",
                                         headers={"Retry-After": "30"})
    if live.streams.get(client, 0) >= live.per_client:
        raise web.HTTPTooManyRequests(text="Too many live streams from here.",
                                      headers={"Retry-After": "30"})
    live.streams[client] = live.streams.get(client, 0) + 1
    try:
        return await _stream(request, live, meeting_id, _resume_from(request))
    except ConnectionResetError:  # gone: nobody to answer
        return web.Response(status=499)
    finally:
        live.streams[client] -= 1
        if not live.streams[client]:
            del live.streams[client]


async def _stream(request: web.Request, live: LiveMeetings, meeting_id: int,
                  after: int) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no", **live.headers})  # the middleware's come too late
    await response.prepare(request)
    sent: dict[str, Markup] = {}  # the sections this stream sent itself (read as stored)
    await response.write(b"retry: 2000\n\n")
    while not live.wakeup.stopping:
        woken = live.wakeup.current()  # taken before reading: nothing slips between
        followed = await live.get(meeting_id, woken)
        if followed is None:
            break
        if followed.following and after >= followed.floor:
            for seq, event in list(followed.events):  # encoded once, for every stream
                if seq > after:
                    await response.write(event)
                    after = seq
        else:  # further back than the events kept, or ended: read, as stored
            lines = await live.storage.lines(meeting_id, after=after, limit=BATCH)
            sections = live.sections_of(followed) if followed.following else {}
            for seq, event in _line_events(followed.meeting, lines, sections, sent):
                await response.write(event)
                after = seq
            if lines:
                continue
        record = followed.record
        if record.ended_at is not None and record.stem:
            await response.write(_event("ended", {"minutes": _minutes_url(record)}))
            break
        # Ended but not yet published: its files come without a line; look again soon.
        if not await _woken(request, woken, 1.0 if record.ended_at else HEARTBEAT_SECONDS):
            await response.write(b": heartbeat\n\n")
    return response


async def _woken(request: web.Request, woken: asyncio.Event, seconds: float) -> bool:
    """Wait for stored lines, for `seconds` at most; a client gone meanwhile ends the
    stream (aiohttp would only notice at the next write), so it frees its place."""
    waited = 0.0
    while waited < seconds:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), min(CLIENT_CHECK_SECONDS, seconds - waited))
            return True
        waited += CLIENT_CHECK_SECONDS
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("the client went away")
    return False


def _line_events(meeting: Meeting, lines: list[Line], sections: dict[str, Markup],
                 sent: dict[str, Markup]) -> list[tuple[int, bytes]]:
    """The `line` events of these lines, by seq; the last carries the sections of the
    minutes that differ from `sent` (which it updates)."""
    rows = _log_rows()
    events = []
    for n, line in enumerate(lines):
        shown = meeting.as_shown(line)
        data: dict[str, Any] = {"line": shown.seq, "nick": shown.nick,
                                "kind": shown.kind.value, "text": shown.text,
                                "row": str(rows([shown]))}
        if n == len(lines) - 1:
            _add_changed(data, sections, sent)
        events.append((line.seq, _event("line", data, line.seq)))
    return events


def _log_rows() -> Any:
    return environment().get_template("fragments.html.j2").module.log_rows  # type: ignore[attr-defined]


def _event(name: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {name}\ndata: {body}\n\n".encode()


def add_routes(app: web.Application, live: LiveMeetings, headers: dict[str, str]) -> None:
    app[LIVE] = live
    live.headers = headers
    app.router.add_get("/live", live_index)
    app.router.add_get("/static/{script:live\\.js|localtime\\.js}", live_script)
    app.router.add_get("/live/{id}", live_page)
    app.router.add_get("/live/{id}/events", live_events)

    async def stop(_app: web.Application) -> None:
        live.wakeup.stop()

    async def close(_app: web.Application) -> None:
        await live.wakeup.close()

    app.on_shutdown.append(stop)
    app.on_cleanup.append(close)
