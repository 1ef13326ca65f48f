"""Matrix adapter on matrix-nio: sync with a token committed with the lines it covers,
backfill after a gap, invites, power-level chairs, and sends that respect rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedRoomsResponse,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    RoomMessagesResponse,
    RoomPutStateResponse,
    RoomResolveAliasResponse,
    SyncResponse,
    WhoamiResponse,
)

from openminutes.chat.base import (
    Checkpoint,
    EventSink,
    ProbeError,
    StateStore,
    jittered_backoff,
    replaced_topic_state,
    replaced_topics,
)
from openminutes.chat.config import MatrixConfig
from openminutes.chat.matrix_events import RoomView, convert
from openminutes.chat.outbox import Outbox

log = logging.getLogger(__name__)

# Enough timeline per room and sync that a busy meeting rarely needs a backfill.
_SYNC_FILTER = {"room": {"timeline": {"limit": 100}}, "presence": {"types": []},
                "account_data": {"types": []}}
_BACKFILL_PAGE = 100
_BACKFILL_MAX = 10_000  # events fetched after one gap; a meeting is never longer
_RETRY_CAP = 60.0
_REFUSED_RETRY_CAP = 300.0  # a refused login is tried again at most this often
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
ENCRYPTED_NOTICE = ("This room is end-to-end encrypted: openminutes cannot read it, so it "
                    "records and publishes nothing here. Meet in an unencrypted room to "
                    "keep public minutes.")


class MatrixAdapter:
    """One Matrix account on a homeserver: login, joins, syncs (token committed with the
    lines it covers), backfill, and sending notices through its Outbox with 429 handling.
    Knows nothing about meetings."""

    replays_missed = True  # a restart catches up from the sync token: nothing is missed

    def __init__(self, config: MatrixConfig, store: StateStore) -> None:
        self.config = config
        self.name = config.name
        self.store = store
        # Every line it logs names its network ([logging] format = "json").
        self.log = logging.LoggerAdapter(log, {"network": config.name})
        self.client = AsyncClient(
            config.homeserver.rstrip("/"), config.user_id,
            # nio must not retry on its own: sends keep one transaction id across retries
            # here, and a sync that fails is simply made again.
            config=AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                     request_timeout=config.sync_timeout + 30),
        )
        self._token: str | None = None
        self._labels: dict[str, str] = {}  # room id -> the name meetings use
        self._ids: dict[str, str] = {}  # that name, folded -> room id
        self._views: dict[str, RoomView] = {}
        self._warned: set[str] = set()  # encrypted rooms told once
        self._outbox = Outbox()
        self._ready = asyncio.Event()  # something was put in the outbox
        self._pending = 0  # messages said and not yet sent (or given up)
        self._sent = asyncio.Event()
        self._sent.set()
        self._sender_task: asyncio.Task[None] | None = None
        self._closing = False
        self._display_name = ""
        self._replaced_topics: dict[str, str] = {}  # room id -> topic a meeting replaced
        self._sync_failing = False  # the last sync failed (for /healthz)
        self.reconnects = 0  # syncs that succeeded after failing (for /metrics)
        self.delayed = 0  # sends the homeserver rate-limited (HTTP 429) (for /metrics)
        self._topic_tasks: set[asyncio.Task[None]] = set()
        # Whether the bot may speak in a room now (a recorder group: only while this
        # process holds the network's lease); asked as each message leaves.
        self.speaks: Callable[[str], bool] = lambda _room: True

    @property
    def nick(self) -> str:
        """The bot's display name, as its lines are shown in the log."""
        return self._display_name or self.config.user_id.split(":", 1)[0].lstrip("@")

    async def run(self, sink: EventSink) -> None:
        state = await self.store.state(self.name)
        self._token = state.get("next_batch")
        self._warned = {k.split(":", 1)[1] for k in state if k.startswith("warned:")}
        self._replaced_topics = replaced_topics(state)
        for key, label in state.items():
            if key.startswith("room:"):
                self._remember(key.split(":", 1)[1], label)
        await self._until_done("login", self._login, state)
        with contextlib.suppress(*_NETWORK_ERRORS):
            shown = await self.client.get_displayname(self.config.user_id)
            self._display_name = str(getattr(shown, "displayname", "") or "")
        if self._sender_task is None:  # run() again after a failure keeps the one sender
            self._sender_task = asyncio.create_task(self._sender())
        catch_up = self._token is not None  # the first sync after a restart: recorded quietly
        joined = False
        attempt = 0
        while not self._closing:
            if self._token is not None and not joined:
                # Joined after the first sync ever, so what rooms said before is not taken
                # for the meeting; later syncs carry the join and all that follows it.
                await self._until_done("joining rooms", self._join_configured)
                joined = True
            try:
                response = await self.client.sync(
                    timeout=self.config.sync_timeout * 1000 if joined else 0,
                    sync_filter=_SYNC_FILTER, since=self._token, set_presence="online")
                if not isinstance(response, SyncResponse):
                    attempt += 1
                    if getattr(response, "status_code", "") == "M_UNKNOWN_TOKEN" \
                            and self.config.password:
                        await self._login({})
                    self._sync_failing = True
                    await self._pause(attempt, f"sync refused: {response}")
                    continue
                # A failure in here (the homeserver going away mid-backfill) leaves the
                # token where it was: the same events come again and are stored once.
                await self._handle(response, sink, catch_up=catch_up,
                                   first=self._token is None)
            except _NETWORK_ERRORS as exc:
                attempt += 1
                self._sync_failing = True
                await self._pause(attempt, f"sync failed: {exc!r}")
                continue
            except Exception:  # the database away, say: the bot must not stop for it
                attempt += 1
                self.log.exception("%s: handling a sync failed", self.name)
                await self._pause(attempt, "handling a sync failed")
                continue
            attempt = 0
            if self._sync_failing:
                self.reconnects += 1
                self._sync_failing = False
            self._token = response.next_batch
            sink(Checkpoint(self.name, "next_batch", response.next_batch))
            if joined:
                catch_up = False

    async def _until_done(self, what: str, step: Any, *args: Any) -> None:
        """Run a start-up step again, with backoff, while the homeserver is unreachable."""
        attempt = 0
        while True:
            try:
                await step(*args)
                return
            except _NETWORK_ERRORS as exc:
                attempt += 1
                await self._pause(attempt, f"{what} failed: {exc!r}")

    async def _pause(self, attempt: int, why: str, *, cap: float = 0) -> None:
        delay = jittered_backoff(attempt, cap or _RETRY_CAP, first=0.5)
        self.log.warning("%s: %s; again in %.1fs", self.name, why, delay)
        await asyncio.sleep(delay)

    async def _login(self, state: dict[str, str]) -> None:
        """The configured access token, the one kept from an earlier login, or a new login
        with the password (whose token and device are kept for next time)."""
        if self.config.access_token:
            self.client.access_token = self.config.access_token
            return
        if state.get("access_token") and state.get("user_id") == self.config.user_id:
            self.client.access_token = state["access_token"]
            self.client.device_id = state.get("device_id", "")
            return
        attempt = 0
        while True:
            response = await self.client.login(password=self.config.password,
                                               device_name=self.config.device_name)
            if isinstance(response, LoginResponse):
                break
            attempt += 1
            if getattr(response, "status_code", "") == "M_FORBIDDEN":
                # A wrong password, or a deactivated account: nothing else stops for it,
                # and a fixed account is picked up without a restart.
                self.log.error("%s: the homeserver refused the login of %s: %s", self.name,
                               self.config.user_id, response.message)
                await self._pause(attempt, "login refused", cap=_REFUSED_RETRY_CAP)
                continue
            await self._pause(attempt, f"login failed: {response}")
        for key, value in (("user_id", self.config.user_id),
                           ("access_token", response.access_token),
                           ("device_id", response.device_id)):
            await self.store.put_state(self.name, key, value)

    async def _join_configured(self) -> None:
        for room in self.config.rooms:
            response = await self.client.join(room)
            if isinstance(response, JoinResponse):
                if room.startswith("#"):
                    await self._label(response.room_id, room)
            else:
                self.log.error("%s: cannot join %s: %s", self.name, room, response)

    def _remember(self, room_id: str, label: str) -> None:
        self._labels[room_id] = label
        self._ids[label.lower()] = room_id

    async def _label(self, room_id: str, label: str | None = None) -> str:
        """The name meetings know a room by: its configured alias, else its canonical
        alias when first seen, else its id; kept, so that it never changes under a meeting."""
        known = self._labels.get(room_id)
        if known is not None and (label is None or known == label):
            return known
        if label is None:
            room = self.client.rooms.get(room_id)
            label = getattr(room, "canonical_alias", None) or room_id
        self._remember(room_id, label)
        await self.store.put_state(self.name, f"room:{room_id}", label)
        return label

    async def _view(self, room_id: str, label: str) -> RoomView:
        """The room as the bot knows it; on first sight in this process, read from the
        room's full state (members' names, power levels, encryption)."""
        view = self._views.get(room_id)
        if view is None:
            view = RoomView(self.name, label, self.config.user_id, self.config.chair_power_level)
            response = await self.client.room_get_state(room_id)
            for event in getattr(response, "events", None) or []:
                if isinstance(event, dict):
                    convert(view, event)
            self._views[room_id] = view
        view.label = label
        return view

    async def _handle(self, response: SyncResponse, sink: EventSink, *, catch_up: bool,
                      first: bool) -> None:
        for room_id, info in response.rooms.invite.items():
            await self._invited(room_id, info)
        for room_id, info in response.rooms.join.items():
            label = await self._label(room_id)
            view = await self._view(room_id, label)
            for event in info.state:  # state between the last sync and this timeline
                convert(view, getattr(event, "source", {}))
            events = [getattr(e, "source", {}) for e in info.timeline.events]
            if view.encrypted or any(e.get("type") == "m.room.encryption" for e in events):
                await self._refuse_encrypted(room_id, label)
                continue
            missed: list[dict[str, Any]] = []
            if not first and info.timeline.limited and info.timeline.prev_batch:
                missed = await self._backfill(room_id, info.timeline.prev_batch, events)
            # Only what was said after the bot joined is its to record.
            since_join = self._after_own_join([*missed, *events])
            for number, event in enumerate([*missed, *events]):
                record = not first and number >= since_join
                for chat in convert(view, event, catch_up=catch_up or number < len(missed)):
                    if record:
                        sink(chat)

    def _after_own_join(self, events: list[dict[str, Any]]) -> int:
        """Index of the first event after the bot's own join (0 if it joined earlier)."""
        start = 0
        for number, event in enumerate(events):
            content = event.get("content")
            if event.get("type") == "m.room.member" \
                    and event.get("state_key") == self.config.user_id \
                    and isinstance(content, dict) and content.get("membership") == "join":
                unsigned = event.get("unsigned")
                prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
                if not (isinstance(prev, dict) and prev.get("membership") == "join"):
                    start = number + 1
        return start

    async def _backfill(self, room_id: str, start: str,
                        timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Events a limited sync left out, between the last sync and its timeline, oldest
        first, read back with /messages."""
        seen = {e.get("event_id") for e in timeline}
        found: list[dict[str, Any]] = []
        token: str | None = start
        while token and len(found) < _BACKFILL_MAX:
            response = await self.client.room_messages(
                room_id, start=token, end=self._token, direction=MessageDirection.back,
                limit=_BACKFILL_PAGE)
            if not isinstance(response, RoomMessagesResponse):
                self.log.error("%s: backfill of %s failed: %s", self.name, room_id, response)
                break
            chunk = [getattr(e, "source", {}) for e in response.chunk]
            found.extend(e for e in chunk if e.get("event_id") not in seen)
            if not chunk or response.end in (None, token):
                break
            token = response.end
        self.log.info("%s: backfilled %d events in %s", self.name, len(found), room_id)
        return list(reversed(found))

    async def _invited(self, room_id: str, info: Any) -> None:
        inviter = ""
        for event in info.invite_state:
            source = getattr(event, "source", {}) or {}
            if source.get("type") == "m.room.member" \
                    and source.get("state_key") == self.config.user_id:
                inviter = str(source.get("sender", ""))
        server = inviter.split(":", 1)[1] if ":" in inviter else ""
        if server and server in self.config.invite_servers:
            self.log.info("%s: joining %s, invited by %s", self.name, room_id, inviter)
            response = await self.client.join(room_id)
            if not isinstance(response, JoinResponse):
                self.log.error("%s: cannot join %s: %s", self.name, room_id, response)
        else:
            self.log.info("%s: declining the invitation to %s from %s (server not in "
                          "invite_servers)", self.name, room_id, inviter or "unknown")
            await self.client.room_leave(room_id)

    async def _refuse_encrypted(self, room_id: str, label: str) -> None:
        if room_id in self._warned:
            return
        self._warned.add(room_id)
        await self.store.put_state(self.name, f"warned:{room_id}", "encrypted")
        self.log.warning("%s: %s is encrypted; not recording it", self.name, label)
        self.say(label, ENCRYPTED_NOTICE)

    def say(self, room: str, text: str, *, urgent: bool = False) -> None:
        if self._outbox.put(room, text, [text], urgent=urgent):
            self._pending += 1
            self._sent.clear()
            self._ready.set()

    @property
    def connected(self) -> bool:
        """Logged in and syncing (for /healthz)."""
        return bool(self.client.access_token) and self._token is not None \
            and not self._sync_failing

    @property
    def waiting(self) -> int:
        return self._pending

    async def probe(self) -> str:
        """Log in (or check the token) and resolve every configured room, then leave,
        for `openminutes check`; raises ProbeError saying what failed."""
        server = self.config.homeserver
        state = await self.store.state(self.name)
        token = self.config.access_token or (
            state.get("access_token", "") if state.get("user_id") == self.config.user_id else "")
        fresh = False
        try:
            if token:
                self.client.access_token = token
                who = await self.client.whoami()
                if not isinstance(who, WhoamiResponse):
                    key = "access_token" if self.config.access_token else "password"
                    raise ProbeError(f"{server} refused the access token of "
                                     f"{self.config.user_id} ({key}): {who}")
            else:
                login = await self.client.login(password=self.config.password,
                                                device_name=f"{self.config.device_name} check")
                if not isinstance(login, LoginResponse):
                    raise ProbeError(f"{server} refused the login of {self.config.user_id} "
                                     f"(password): {getattr(login, 'message', login)}")
                fresh = True
            joined = await self.client.joined_rooms()
            member_of = set(joined.rooms) if isinstance(joined, JoinedRoomsResponse) else set()
            found = []
            for i, room in enumerate(self.config.rooms):
                if room.startswith("#"):
                    resolved = await self.client.room_resolve_alias(room)
                    if not isinstance(resolved, RoomResolveAliasResponse):
                        raise ProbeError(f"rooms[{i}] {room!r} does not resolve on {server}: "
                                         f"{getattr(resolved, 'message', resolved)}")
                    found.append(f"{room} -> {resolved.room_id}")
                else:
                    found.append(f"{room} ({'joined' if room in member_of else 'run joins it'})")
        except _NETWORK_ERRORS as exc:
            raise ProbeError(f"cannot reach {server}: {exc!r}") from None
        finally:
            if fresh:  # the check's own device does not outlive it
                with contextlib.suppress(*_NETWORK_ERRORS):
                    await self.client.logout()
            await self.client.close()
        rooms = "; ".join(found) or "no rooms configured"
        return f"logged in as {self.config.user_id} on {server}; {rooms}"

    def set_topic(self, room: str, text: str) -> None:
        """Set the room topic where the bot's power level allows; say nothing where not."""
        room_id = self._ids.get(room.lower(), room)
        view = self._views.get(room_id)
        if not self.config.set_topic or view is None \
                or not view.may_send_state(self.config.user_id, "m.room.topic"):
            return
        if room_id not in self._replaced_topics:
            self._replaced_topics[room_id] = view.topic
            self._in_background(self.store.put_state(
                self.name, *replaced_topic_state(room_id, view.topic)))
        self._in_background(self._put_topic(room_id, text))

    def restore_topic(self, room: str) -> None:
        """Put back the topic the meeting's first #topic replaced."""
        room_id = self._ids.get(room.lower(), room)
        if room_id not in self._replaced_topics:
            return
        before = self._replaced_topics.pop(room_id)
        self._in_background(self.store.put_state(
            self.name, *replaced_topic_state(room_id, None)))
        view = self._views.get(room_id)
        if view is not None and view.may_send_state(self.config.user_id, "m.room.topic"):
            self._in_background(self._put_topic(room_id, before))

    async def _put_topic(self, room_id: str, text: str) -> None:
        try:
            response = await self.client.room_put_state(room_id, "m.room.topic",
                                                        {"topic": text})
        except _NETWORK_ERRORS as exc:
            self.log.warning("%s: setting the topic of %s failed: %r", self.name, room_id, exc)
            return
        if not isinstance(response, RoomPutStateResponse):
            self.log.warning("%s: setting the topic of %s failed: %s", self.name, room_id, response)

    def _in_background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._topic_tasks.add(task)
        task.add_done_callback(self._topic_tasks.discard)

    async def flushed(self) -> None:
        """Wait until everything said so far has been sent (or given up)."""
        await self._sent.wait()

    async def _sender(self) -> None:
        while True:
            popped = self._outbox.pop()
            if popped is None:
                self._ready.clear()
                await self._ready.wait()
                continue
            room, text = popped
            room_id = self._ids.get(room.lower(), room)
            try:
                if self.speaks(room):  # else dropped: the network's lease is not held
                    await self._send(room_id, {"msgtype": "m.notice", "body": text})
            except Exception:
                self.log.exception("%s: sending to %s failed", self.name, room)
            self._pending -= 1
            if self._pending == 0:
                self._sent.set()

    async def _send(self, room_id: str, content: dict[str, Any]) -> None:
        """PUT one message. On HTTP 429 wait as long as the server says (Retry-After or
        retry_after_ms); retries keep the transaction id, so the server stores it once."""
        txn = uuid.uuid4().hex
        path = (f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/"
                f"{txn}")
        body = json.dumps(content, ensure_ascii=False)
        for attempt in range(self.config.send_retries + 1):
            wait: float | None
            try:
                response = await self.client.send(
                    "PUT", path, body, {"Content-Type": "application/json",
                                        "Authorization": f"Bearer {self.client.access_token}"})
                status = response.status
                data = await _json(response)
                retry_after = response.headers.get("Retry-After")
                response.release()
            except _NETWORK_ERRORS as exc:
                status, data, retry_after = 0, {"error": repr(exc)}, None
            if status == 200:
                return
            if status == 429:
                self.delayed += 1
                wait = _retry_delay(retry_after, data)
            elif status == 0 or status >= 500:
                wait = min(_RETRY_CAP, 0.5 * 2 ** attempt)
            else:
                self.log.error("%s: the homeserver refused a message to %s: %s %s", self.name,
                               room_id, status, data)
                return
            self.log.warning("%s: send to %s got %s; retrying in %.1fs", self.name, room_id,
                             status or data.get("error"), wait)
            await asyncio.sleep(wait)
        self.log.error("%s: gave up sending to %s after %d attempts", self.name, room_id,
                       self.config.send_retries + 1)

    async def close(self) -> None:
        self._closing = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.flushed(), 10)
        if self._sender_task is not None:
            self._sender_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender_task
        await self.client.close()


async def _json(response: Any) -> dict[str, Any]:
    with contextlib.suppress(aiohttp.ContentTypeError, ValueError):
        data = await response.json()
        if isinstance(data, dict):
            return data
    return {}


def _retry_delay(header: str | None, data: dict[str, Any]) -> float:
    """Seconds to wait after a 429: the Retry-After header, else retry_after_ms, else 1."""
    if header is not None:
        with contextlib.suppress(ValueError):
            return min(_RETRY_CAP, max(0.0, float(header)))
    millis = data.get("retry_after_ms")
    if isinstance(millis, int | float) and not isinstance(millis, bool):
        return min(_RETRY_CAP, max(0.0, millis / 1000))
    return 1.0
