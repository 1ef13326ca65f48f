"""Event -> committed line -> engine -> replies and publishing, for every open meeting."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from openminutes.chat.base import ChatEvent, Checkpoint, History, Outage
from openminutes.meetings.amendments import apply_amendments, redacted_lines
from openminutes.meetings.commands import ParsedCommand, parse_command
from openminutes.meetings.engine import END_COMMAND, START_COMMAND, Engine
from openminutes.meetings.model import Amendment, Line, LineKind
from openminutes.meetings.registry import Outcome
from openminutes.meetings.state import Meeting, MeetingSettings
from openminutes.publish.publisher import Published, Publisher, derived_of
from openminutes.runtime.group import RecorderGroup
from openminutes.runtime.merge import SKEW, unstored
from openminutes.storage import MeetingRecord, StorageUnavailableError
from openminutes.storage.errors import FencedError
from openminutes.storage.group import WHOLE_NETWORK, Fence, RoomKey
from openminutes.storage.protocols import LineLog
from openminutes.storage.records import MeetingRef, Written

log = logging.getLogger(__name__)
T = TypeVar("T")
_MAX_BATCH = 2000
# Pre-render a meeting's outputs once it has been quiet this long (seconds), so that
# #endmeeting only assembles them; never while lines are still pouring in.
_WARM_AFTER_QUIET = 0.1
_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)  # then every 5 s, for as long as it takes
# A publish that failed (disk full, read-only, a template error) is tried again after
# these many seconds, then every 5 minutes, until it succeeds and is announced.
PUBLISH_RETRY_DELAYS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)


class Sender(Protocol):
    @property
    def nick(self) -> str: ...

    # The network hands over what was said while the bot was away (Matrix's sync): a
    # restart leaves no gap to mark.
    @property
    def replays_missed(self) -> bool: ...

    def say(self, room: str, text: str, *, urgent: bool = False) -> None: ...

    # The room topic (#topic), where the network lets the bot set it; the one it replaced
    # is put back at the end. Adapters that may not set it do nothing.
    def set_topic(self, room: str, text: str) -> None: ...

    def restore_topic(self, room: str) -> None: ...


@runtime_checkable
class HistorySource(Protocol):
    """A network whose server may keep the rooms' history (IRC with chathistory)."""

    async def history(self, room: str, since: datetime) -> History | None: ...


@dataclass
class OpenMeeting:
    """A room's open meeting: its state, and its id in storage (None until its first
    line is committed). The one object the recorder holds per room."""

    meeting: Meeting
    opened_at: datetime  # the time of its first line: the stored meeting's start
    id: int | None = None
    next_seq: int = 1
    closing: bool = False  # the bot is ending it (left open too long)

    @property
    def ref(self) -> MeetingRef:
        """The meeting as storage knows it, from the state itself (never a copy to sync)."""
        m = self.meeting
        return MeetingRef(m.network, m.channel, self.opened_at, self.id, m.name)


class TakeOver(NamedTuple):
    """This process has just been given a room's lease (runtime/group.py): it records
    the room from here, after storing what it heard that was never stored."""

    network: str
    room: str  # as configured


class Resume(NamedTuple):
    """A meeting resumed at start on a network whose server may keep history: once the
    bot is back in the room, what was said since `since` is asked for, else a gap."""

    network: str
    room: str
    since: datetime


@dataclass(frozen=True, slots=True)
class _Queued:
    event: ChatEvent | Checkpoint | Outage | TakeOver | Resume
    own: bool = False
    parsed: ParsedCommand | None = None  # the command a ChatEvent's text starts with


class Notifications(Protocol):
    def started(self, meeting_id: int | None, meeting: Meeting) -> None: ...

    def ended(self, meeting_id: int | None, meeting: Meeting, urls: dict[str, str],
              text_minutes: str) -> None: ...


class Recorder:
    """Owns the open meetings: every event the adapters submit is committed (in batches,
    one transaction each), then run through the engine; it says the replies through the
    adapters and has meetings published, ended in the database first, retried until
    published. It writes no SQL (storage does) and no files (the publisher does)."""

    def __init__(self, storage: LineLog, engine: Engine, publisher: Publisher,
                 settings: MeetingSettings, max_pending: int = 10_000,
                 notifier: Notifications | None = None,
                 publish_retry_delays: tuple[float, ...] = PUBLISH_RETRY_DELAYS) -> None:
        self.notifier = notifier
        self.publish_retry_delays = publish_retry_delays
        self._publishing: dict[int, asyncio.Task[None]] = {}  # meeting id -> retries
        self._announced: set[int] = set()  # ended meetings whose URLs were said, owing pages
        self.storage = storage
        self.engine = engine
        self.publisher = publisher
        self.settings = settings
        self.senders: dict[str, Sender] = {}
        self.open: dict[tuple[str, str], OpenMeeting] = {}
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._warming: asyncio.Task[None] | None = None
        self.max_pending = max_pending
        self._dropped: dict[tuple[str, str], int] = {}  # lines dropped while the queue is full
        self._last_event = 0.0
        # What /metrics reads (runtime/metrics.py): plain numbers, kept as they happen.
        self.recorded = 0  # lines committed
        self.refused = 0  # lines not recorded: the queue was full
        self.on_published: Callable[[float], None] = lambda _seconds: None
        # In a recorder group (PostgreSQL, several processes): the rooms this one records;
        # None: it records every room (SQLite, or tests of the recorder alone).
        self.group: RecorderGroup | None = None
        # A network leased whole (Matrix) was taken (True) or lost (False): the process
        # starts or stops syncing it (runtime/app.py).
        self.on_network: Callable[[str, bool], None] = lambda _network, _taken: None

    def join_group(self, group: RecorderGroup, rooms: dict[RoomKey, str]) -> None:
        """Record only the rooms whose lease `group` holds; `rooms`: each group room's
        key and its name as the config spells it."""
        self.group = group
        group.on_acquired = lambda key, _previous: self._enqueue(
            TakeOver(key[0], rooms.get(key, key[1])))
        group.on_lost = self._lost

    def _enqueue(self, event: ChatEvent | Checkpoint | Outage | TakeOver | Resume) -> None:
        self._idle.clear()
        self._queue.put_nowait(_Queued(event))

    def _lost(self, key: RoomKey) -> None:
        """Another process of the group records the room now: forget its meeting here
        (a later takeover replays it from storage)."""
        for held in self._meetings_of(key):
            self.open.pop(held, None)
        if key[1] == WHOLE_NETWORK:
            self.on_network(key[0], False)

    def _meetings_of(self, key: RoomKey) -> list[RoomKey]:
        """The open meetings a lease covers (a whole network's: all of its rooms)."""
        if key[1] == WHOLE_NETWORK:
            return [k for k in self.open if k[0] == key[0]]
        return [key] if key in self.open else []

    async def resume(self) -> None:
        """Replay every meeting left open by a previous run, so it carries on where it was;
        publish and announce those that ended without being published."""
        for rec in await self.storage.open_meetings():
            om = await self._carry_on(rec)
            if om is None:
                continue
            log.info("resumed meeting %s in %s on %s (%d lines)", rec.id, rec.channel,
                     rec.network, om.meeting.line_count, extra=_where(om.ref))
            await self._record_gap(om, om.meeting.last_time or rec.started_at)
        await self._publish_pending()

    async def _carry_on(self, rec: MeetingRecord) -> OpenMeeting | None:
        """A stored open meeting, replayed and held again (None: its end was stored as a
        line but its recorder stopped before the rest, which is done now)."""
        meeting = await replay_stored(self.storage, self.engine, rec, self.settings)
        om = OpenMeeting(meeting, rec.started_at, rec.id,
                         next_seq=meeting.last_seq + 1)  # the replay saw every line
        if meeting.ended:
            await self._end(om)
            return None
        self.open[(rec.network, rec.channel.lower())] = om
        return om

    async def _publish_pending(self, room: RoomKey | None = None,
                               network: str | None = None) -> None:
        """Publish and announce the meetings (of `room`, or of `network`) that ended and
        were never published: the bot, or the group's recorder of the room, stopped in
        between."""
        for rec in await self.storage.pending_publish():
            if rec.id in self._publishing or (
                    room is not None and (rec.network, rec.channel.lower()) != room) or (
                    network is not None and rec.network != network):
                continue
            meeting = await replay_stored(self.storage, self.engine, rec, self.settings)
            ref = MeetingRef(rec.network, rec.channel, rec.started_at, rec.id, meeting.name)
            if not await self._publish_ended(ref, meeting, announce=True, first=False):
                self._retry_publishing(ref, meeting)
            else:
                log.info("published meeting %s, which ended while the bot was away", rec.id)

    async def _take_over(self, take: TakeOver) -> None:
        """Record a room from now on: carry on its open meeting from storage, store the
        lines heard meanwhile that its last recorder never stored (in the order said,
        with their own times), mark as a gap only what this process did not hear, and
        say once that it took over."""
        assert self.group is not None
        key = (take.network, take.room.lower())
        if take.room == WHOLE_NETWORK:
            await self._take_over_network(take.network)
            return
        heard = self.group.take_heard(key)  # from here, the room's lines are queued
        events = list(heard.events)
        om: OpenMeeting | None = None
        for rec in await self.storage.open_meetings(take.network):
            if rec.channel.lower() == key[1]:
                om = await self._carry_on(rec) or om
        kept = None
        if om is not None and om.meeting.started:
            # What nobody of the group heard, from the server where it keeps history.
            kept = await self._history(take.network, take.room,
                                       om.meeting.last_time or om.opened_at)
            if kept is not None:
                events = _union(kept.events, events)
        since = min([heard.since, *(e.time for e in events)]) - SKEW
        fresh = unstored(await self.storage.room_tail(take.network, take.room, since), events)
        said = ""
        if om is not None and om.meeting.started:
            started = om.meeting.started_at or om.opened_at
            last = om.meeting.last_time or om.opened_at
            if kept is not None and kept.complete:
                said = _resumed_text(om)
            elif heard.since > last + SKEW:  # nobody here heard what came in between
                said = _resumed_text(
                    om, await self._write_gap(om, "recorder offline", last, heard.since))
            else:
                said = (f"Took over recording the meeting started at {started:%H:%M} UTC "
                        "from another recorder of this room; nothing said was missed.")
        log.info("%s on %s: took over; %d of %d lines heard were not stored yet", take.room,
                 take.network, len(fresh), len(events))
        await self._process([self._queued(event) for event in fresh])
        await self._publish_pending(key)
        if said and key in self.open:
            self._say(self.open[key].ref, said, record=True)

    async def _take_over_network(self, network: str) -> None:
        """A network leased whole (Matrix): carry on its open meetings from storage, then
        have it synced from the sync token its last recorder committed with the lines, so
        every line said meanwhile comes once, by event id, from the server's history."""
        assert self.group is not None
        self.group.take_heard((network, WHOLE_NETWORK))
        for rec in await self.storage.open_meetings(network):
            om = await self._carry_on(rec)
            if om is not None and om.meeting.started:
                started = om.meeting.started_at or om.opened_at
                self._say(om.ref, f"Took over recording the meeting started at {started:%H:%M} "
                                  "UTC; lines said meanwhile are recorded from the server's "
                                  "history.", record=False)
        await self._publish_pending(network=network)
        log.info("%s: recording it (the whole network)", network)
        self.on_network(network, True)

    async def _history(self, network: str, room: str, since: datetime) -> History | None:
        """What the network's server kept of a room since a time, if it keeps any."""
        sender = self.senders.get(network)
        if not isinstance(sender, HistorySource):
            return None
        # A second back: lines stamped in the same instant as the last one stored (those
        # already stored are recognised by their message ids).
        kept = await sender.history(room, since - timedelta(seconds=1))
        if kept is not None:
            log.info("%s on %s: the server kept %d lines since %s%s", room, network,
                     len(kept.events), f"{since:%H:%M:%S}",
                     "" if kept.complete else " (not all of them)")
        return kept

    async def _record_gap(self, om: OpenMeeting, last: datetime) -> None:
        """The recorder was down: say so in the log, the minutes and, once, the channel."""
        sender = self.senders.get(om.meeting.network)
        if sender is not None and sender.replays_missed:
            # The server hands over what was said meanwhile (Matrix): no gap, and nothing
            # recorded now, so the caught-up lines keep their order and times.
            self._say(om.ref, _resumed_text(om), record=False)
            return
        if isinstance(sender, HistorySource):  # decided once the bot is back in the room
            self._enqueue(Resume(om.meeting.network, om.meeting.channel, last))
            return
        await self._offline_gap(om, last)

    async def _offline_gap(self, om: OpenMeeting, last: datetime) -> None:
        """Nothing tells what was said since `last`: a gap, and the room is told once."""
        text = await self._write_gap(om, "recorder offline", last, datetime.now(UTC))
        self._say(om.ref, _resumed_text(om, text), record=True)

    async def _resumed(self, resume: Resume) -> None:
        """A resumed meeting's room, once the bot is in it again: what the server kept since
        its last stored line is stored in place; only where it keeps none is it a gap."""
        om = self.open.get((resume.network, resume.room.lower()))
        if om is None:
            return
        kept = await self._history(resume.network, resume.room, resume.since)
        if kept is not None:
            await self._process([self._queued(event) for event in kept.events])
        if kept is not None and kept.complete:
            self._say(om.ref, _resumed_text(om), record=False)
            return
        await self._offline_gap(om, resume.since)

    async def _write_gap(self, om: OpenMeeting, cause: str, since: datetime,
                         until: datetime) -> str:
        """A GAP line in the log and the minutes; returns its text."""
        text = (f"{cause} from {since:%H:%M:%S} to {until:%H:%M:%S} UTC; "
                "lines said meanwhile may be missing")
        gap = Line(om.next_seq, until, LineKind.GAP, "", text)
        om.next_seq += 1
        await self._write([(om.ref, gap)])
        self.engine.apply(om.meeting, gap)
        return text

    async def _outage(self, outage: Outage) -> None:
        """The adapter lost its connection and is back: every open meeting of its network
        gets a gap line, and each room is told once."""
        for om in [om for om in self.open.values() if om.meeting.network == outage.network]:
            if om.id is None or not om.meeting.started:
                continue
            kept = await self._history(outage.network, om.meeting.channel, outage.since)
            if kept is not None:
                await self._process([self._queued(event) for event in kept.events])
            if kept is not None and kept.complete:
                self._say(om.ref, "Reconnected; lines said meanwhile are recorded from the "
                                  "server's history.", record=False)
                continue
            text = await self._write_gap(om, "connection to the server lost", outage.since,
                                         outage.until)
            self._say(om.ref, f"Reconnected ({text}).", record=True)

    def submit(self, event: ChatEvent | Checkpoint | Outage) -> None:
        """Called by adapters for every event; cheap, never blocks."""
        group = self.group
        if group is not None and event.network in group.networks:
            if isinstance(event, ChatEvent):
                if group.is_peer(event.network, event.nick):
                    return  # another recorder of the group: not a participant
                if not group.records(event.network, event.room):
                    group.hear(event)
                    return
            elif isinstance(event, Outage):
                group.deaf(event)
        if self._queue.qsize() >= self.max_pending and isinstance(event, ChatEvent):
            self._drop(event)
            return
        self._idle.clear()
        self._last_event = time.monotonic()
        self._queue.put_nowait(self._queued(event))

    def _queued(self, event: ChatEvent | Checkpoint | Outage, own: bool = False) -> _Queued:
        """An event as it waits: a chat line with its command parsed, once (the bot's own
        lines never carry a command)."""
        if own or not isinstance(event, ChatEvent):
            return _Queued(event, own)
        prefixes = self.settings.prefixes_for(event.network)
        return _Queued(event, own, parse_command(event.text, prefixes))

    def _drop(self, event: ChatEvent) -> None:
        """The queue is full (the database has been away for long): never drop silently."""
        key = (event.network, event.room)
        if key not in self._dropped:
            sender = self.senders.get(event.network)
            if sender is not None:
                sender.say(event.room, f"The database is unavailable and {self.max_pending} "
                                       "lines are waiting: lines said now are NOT recorded "
                                       "until it is back.")
        self._dropped[key] = self._dropped.get(key, 0) + 1
        self.refused += 1
        log.error("queue full: dropped a line in %s on %s", event.room, event.network,
                  extra={"network": event.network, "room": event.room})

    async def drained(self) -> None:
        """Wait until every submitted event has been committed and handled."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < _MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                await self._process(batch)
            except Exception:
                log.exception("could not handle %d events", len(batch))
            if self._queue.empty():
                self._idle.set()
                self._schedule_warm()

    def _schedule_warm(self) -> None:
        if self._warming is None or self._warming.done():
            self._warming = asyncio.create_task(self._warm())

    def _quiet(self) -> bool:
        return self._queue.empty() and time.monotonic() - self._last_event >= _WARM_AFTER_QUIET

    async def _warm(self) -> None:
        """Pre-render open meetings a chunk at a time, only while nothing is arriving."""
        while True:
            await asyncio.sleep(_WARM_AFTER_QUIET)
            if self._quiet():
                break
            if not self._queue.empty():
                return  # busy: the next quiet moment schedules this again
        for om in list(self.open.values()):
            if om.id is None:
                continue
            try:
                while self._quiet() and await self.publisher.warm(om.id, om.meeting):
                    pass
            except Exception:
                log.exception("pre-rendering meeting %s failed", om.id)

    def _is_boundary(self, parsed: ParsedCommand | None) -> bool:
        """Lines that may open or close a meeting end a group commit, so the lines
        after them are assigned to the right meeting."""
        if parsed is None:
            return False
        cmd = self.engine.registry.lookup(parsed.name)
        return cmd is not None and cmd.name in (START_COMMAND, END_COMMAND)

    async def _process(self, batch: list[_Queued]) -> None:
        segment: list[_Queued] = []
        for queued in batch:
            ev = queued.event
            if isinstance(ev, TakeOver | Resume):
                await self._commit_and_apply(segment)
                segment = []
                await (self._take_over(ev) if isinstance(ev, TakeOver) else self._resumed(ev))
                continue
            if isinstance(ev, Outage):
                await self._commit_and_apply(segment)
                segment = []
                await self._outage(ev)
                continue
            if isinstance(ev, ChatEvent) and self._corrects_unheld(ev):
                await self._commit_and_apply(segment)
                segment = []
                # The line may have come in the same batch, and be held now.
                if self._corrects_unheld(ev) and not await self._recall(ev):
                    continue
            segment.append(queued)
            if isinstance(ev, ChatEvent) and not queued.own and self._is_boundary(queued.parsed):
                await self._commit_and_apply(segment)
                segment = []
        if segment:
            await self._commit_and_apply(segment)

    def _corrects_unheld(self, ev: ChatEvent) -> bool:
        """An edit or redaction of a line that the room's open meeting does not hold:
        an older line of it, or a line of an ended meeting."""
        if ev.kind not in (LineKind.EDIT, LineKind.REDACTION) or ev.relates_to is None:
            return False
        om = self.open.get((ev.network, ev.room.lower()))
        return om is None or om.meeting.event_line(ev.relates_to) is None

    async def _recall(self, ev: ChatEvent) -> bool:
        """Find the line an edit or redaction is about. True: it is an older line of the
        open meeting, read back from storage, and the correction goes on as any line.
        False: the correction has been dealt with here (applied to an ended meeting)."""
        assert ev.relates_to is not None
        meeting_id = await self.storage.meeting_of_event(ev.network, ev.room, ev.relates_to)
        om = self.open.get((ev.network, ev.room.lower()))
        if om is not None and meeting_id is not None and meeting_id == om.id:
            om.meeting.remember(await self.storage.event_lines(meeting_id, ev.relates_to))
            return True
        if meeting_id is not None:
            await self._correct_past(ev, meeting_id)
        return False  # not a line of any meeting (said outside one): nothing to correct

    async def _correct_past(self, ev: ChatEvent, meeting_id: int) -> None:
        """Apply an edit or redaction to the ended meeting that holds its line, and publish
        that meeting's outputs again (a redacted line leaves every output)."""
        rec = await self.storage.meeting(meeting_id)
        if rec is None or rec.ended_at is None:
            return
        last = await self.storage.last_line(rec.id)
        line = ev.line(last.seq + 1 if last else 1)
        ref = MeetingRef(rec.network, rec.channel, rec.started_at, rec.id, rec.name)
        if not (await self._write([(ref, line)]))[0]:
            return  # seen before
        meeting = await replay_stored(self.storage, self.engine, rec, self.settings)
        if not meeting.started:
            return
        try:
            await self.publisher.publish(rec.id, meeting)
        except Exception:  # the correction is stored: the next render applies it
            log.exception("publishing meeting %s again after a %s failed", rec.id,
                          ev.kind.value)
            return
        log.info("meeting %s published again after a %s", rec.id, ev.kind.value)

    def _assign(self, queued: _Queued) -> tuple[OpenMeeting, Line] | None:
        ev = queued.event
        assert isinstance(ev, ChatEvent)
        key = (ev.network, ev.room.lower())
        om = self.open.get(key)
        if om is not None and ev.event_id is not None \
                and om.meeting.event_line(ev.event_id) is not None:
            return None  # seen lately (older repeats are caught by storage)
        line = ev.line(om.next_seq if om is not None else 1, own=queued.own)
        if om is None:
            prefixes = self.settings.prefixes_for(ev.network)
            if not self.engine.starts_meeting(line, prefixes, queued.parsed):
                return None  # outside meetings nothing is recorded
            om = OpenMeeting(Meeting(ev.network, ev.room, self.settings), ev.time)
            self.open[key] = om
        om.next_seq += 1
        return om, line

    async def _commit_and_apply(self, segment: list[_Queued]) -> None:
        """Commit a segment's lines, and the checkpoints that came with them, in one
        transaction; then run them through the engine."""
        state = [(q.event.network, q.event.key, q.event.value) for q in segment
                 if isinstance(q.event, Checkpoint)]
        entries: list[tuple[OpenMeeting, Line, _Queued]] = []
        for queued in segment:
            if isinstance(queued.event, ChatEvent):
                assigned = self._assign(queued)
                if assigned is not None:
                    entries.append((*assigned, queued))
        if not entries and not state:
            return
        refs = [om.ref for om, _, _ in entries]
        written = await self._write([(ref, line) for ref, (_, line, _) in
                                     zip(refs, entries, strict=True)], state)
        for ref, (om, _, _) in zip(refs, entries, strict=True):
            if om.id is None:
                om.id = written.created.get(ref)
        for (om, line, queued), fresh in zip(entries, written, strict=True):
            if not fresh:
                continue
            self.recorded += 1
            try:
                assert isinstance(queued.event, ChatEvent)
                await self._handle(om, line, queued.parsed, queued.event.catch_up)
            except Exception:  # the line is stored; the lines after it are handled all the same
                log.exception("handling line %d of meeting %s failed", line.seq, om.id,
                              extra=_where(om.ref))

    async def _handle(self, om: OpenMeeting, line: Line, parsed: ParsedCommand | None,
                      catch_up: bool) -> None:
        was_started = om.meeting.started
        outcome = self.engine.apply(om.meeting, line, parsed)
        if catch_up:
            # Said while the bot was away: it counts, but answering now would
            # answer it late (and perhaps twice).
            outcome.replies.clear()
        await self._act(om, outcome, quiet=catch_up)
        if not was_started and om.meeting.started:
            if self.notifier is not None:
                self.notifier.started(om.id, om.meeting)
            if not catch_up:
                await self._mention_previous(om)

    async def _write(self, rows: list[tuple[MeetingRef, Line]],
                     state: list[tuple[str, str, str]] | None = None) -> Written:
        """Commit; lines arriving while the database is away wait in the bounded queue.
        In a group, the lines of rooms another process has taken over are not written
        (False), and this process stands by in those rooms again."""
        kept = list(range(len(rows)))
        while True:
            batch = [rows[i] for i in kept]
            if not batch and not state:
                written = Written([], {})
                break
            try:
                written = await self._until_stored(self._write_fenced, batch, state or [])
                break
            except FencedError as fenced:
                lost = {i for i in kept if _key(rows[i][0]) in fenced.rooms
                        or (rows[i][0].network, WHOLE_NETWORK) in fenced.rooms}
                self._give_back(fenced.rooms, [rows[i] for i in sorted(lost)])
                kept = [i for i in kept if i not in lost]
        if self._dropped:
            self._database_back()
        inserted = [False] * len(rows)
        for i, fresh in zip(kept, written, strict=True):
            inserted[i] = fresh
        return Written(inserted, written.created)

    async def _write_fenced(self, rows: list[tuple[MeetingRef, Line]],
                            state: list[tuple[str, str, str]]) -> Written:
        # The fence is read at each attempt: a retry may follow a renewal.
        fence: Fence | None = self.group.fence() if self.group is not None else None
        if fence is not None and not rows:
            fence = None
        return await self.storage.write_lines(rows, state, fence)

    def _give_back(self, rooms: frozenset[RoomKey],
                   unwritten: list[tuple[MeetingRef, Line]]) -> None:
        """Rooms another process has taken over: stand by in them again, keeping the
        lines this one could not write there, as heard."""
        assert self.group is not None
        for key in rooms:
            if key[1] == WHOLE_NETWORK:  # it syncs from the committed token: nothing to keep
                log.warning("%s: another process of the group records it now", key[0])
                self._lost(key)
                self.group.give_back(key)
                continue
            lines = [line for ref, line in unwritten if _key(ref) == key and not line.own]
            log.warning("%s on %s: another process of the group records it now; %d lines "
                        "left to it", key[1], key[0], len(lines))
            om = self.open.pop(key, None)
            channel = om.meeting.channel if om is not None else key[1]
            self.group.give_back(key, [
                ChatEvent(key[0], channel, ln.nick, ln.text, ln.kind, ln.time, ln.identity,
                          ln.event_id, ln.privileged, ln.relates_to) for ln in lines])

    def _database_back(self) -> None:
        for (network, room), count in self._dropped.items():
            sender = self.senders.get(network)
            if sender is not None:
                sender.say(room, f"Database is back; recording goes on. {count} line"
                                 f"{'' if count == 1 else 's'} could not be recorded.")
        self._dropped.clear()

    async def _act(self, om: OpenMeeting, outcome: Outcome, *, quiet: bool = False) -> None:
        for text in outcome.replies:
            # The end's replies ("Meeting ended ...") lead the minutes' announcement.
            self._say(om.ref, text, record=not outcome.ended, urgent=outcome.ended)
        sender = self.senders.get(om.meeting.network)
        if sender is not None:
            if outcome.topic is not None and not quiet:
                sender.set_topic(om.meeting.channel, outcome.topic)
            if outcome.restore_topic:  # even caught up: the meeting is over
                sender.restore_topic(om.meeting.channel)
        if om.id is None:
            return
        if outcome.ended:
            await self._end(om, announce=not quiet)
        elif outcome.publish:
            await self._save(om, quiet=quiet)

    async def _save(self, om: OpenMeeting, *, quiet: bool) -> None:
        """#save: the minutes so far; a failure is said, and the meeting goes on."""
        assert om.id is not None
        try:
            published = await self._timed_publish(om.id, om.meeting)
        except Exception as exc:
            log.exception("writing the minutes so far of meeting %s failed", om.id,
                          extra=_where(om.ref))
            if not quiet:
                self._say(om.ref, f"Could not write the minutes so far ({_reason(exc)}); "
                                  "every line is still recorded.", record=True)
            return
        if not quiet:
            self._say(om.ref, f"Minutes so far: {published.urls['html']}", record=True)

    async def _timed_publish(self, meeting_id: int, meeting: Meeting, on_files: Callable[
            [Published], Awaitable[None]] | None = None) -> Published:
        started = time.monotonic()
        published = await self.publisher.publish(meeting_id, meeting, on_files=on_files)
        self.on_published(time.monotonic() - started)
        return published

    @property
    def waiting(self) -> int:
        """Lines submitted and not yet committed (waiting for the database when it is away)."""
        return self._queue.qsize()

    async def _end(self, om: OpenMeeting, *, announce: bool = True) -> None:
        """The meeting ended: no later line joins it, the database says so before any
        file is written, then it is published and announced (or retried until it is)."""
        self.open.pop((om.meeting.network, om.meeting.channel.lower()), None)
        assert om.id is not None
        await self._until_stored(self.storage.end_meeting, om.id, derived_of(om.meeting))
        ref = om.ref
        if not await self._publish_ended(ref, om.meeting, announce=announce, first=True):
            self._retry_publishing(ref, om.meeting, announce=announce)

    async def _publish_ended(self, ref: MeetingRef, meeting: Meeting, *, announce: bool,
                             first: bool) -> bool:
        """Publish an ended meeting; announce its minutes first of all the bot says, as
        soon as its own files are written, then notify. False when publishing failed (said
        in the room the first time, unless the minutes were announced already)."""
        assert ref.id is not None
        meeting_id = ref.id

        async def files_written(published: Published) -> None:
            # The URLs work from here on: said before the archive pages are updated, and
            # not again if those fail and are retried.
            if announce and meeting_id not in self._announced:
                for text in _end_lines(published):
                    self._say(ref, text, record=False, urgent=True)
            self._announced.add(meeting_id)

        try:
            published = await self._timed_publish(meeting_id, meeting, files_written)
        except Exception as exc:
            log.exception("publishing meeting %s failed", ref.id, extra=_where(ref))
            if first and announce and meeting_id not in self._announced:
                self._say(ref, f"The meeting has ended and every line is kept, but its "
                               f"minutes could not be written ({_reason(exc)}); they will be "
                               "posted here as soon as they are.", record=False, urgent=True)
            if first:
                # Its items searchable and in the registers meanwhile; best effort: the
                # retried publish stores them too, and the recorder must not wait here.
                try:
                    await self.publisher.save_derived(meeting_id, meeting)
                except Exception:
                    log.exception("could not store the items of meeting %s", meeting_id)
            return False
        self._announced.discard(meeting_id)
        try:
            await self.storage.published_and_announced(ref.id)
        except StorageUnavailableError:  # published and announced again at the next start
            log.exception("could not mark meeting %s as published", ref.id)
        await self._tell_ended(ref.id, meeting, published)
        return True

    def _retry_publishing(self, ref: MeetingRef, meeting: Meeting, *,
                          announce: bool = True) -> None:
        assert ref.id is not None
        meeting_id = ref.id

        async def retry() -> None:
            for attempt in itertools.count():
                delays = self.publish_retry_delays
                await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
                if await self._publish_ended(ref, meeting, announce=announce, first=False):
                    log.info("meeting %s published after %d retries", meeting_id, attempt + 1)
                    return

        task = asyncio.create_task(retry())
        self._publishing[meeting_id] = task
        task.add_done_callback(lambda _: self._publishing.pop(meeting_id, None))

    async def _until_stored(self, step: Callable[..., Awaitable[T]], *args: Any) -> T:
        """A write that must happen: retried for as long as the database is away
        (PostgreSQL restarting, SQLite locked)."""
        attempt = 0
        while True:
            try:
                return await step(*args)
            except StorageUnavailableError:
                delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                attempt += 1
                log.warning("database write failed (attempt %d), retrying in %ss",
                            attempt, delay, exc_info=attempt == 1)
                await asyncio.sleep(delay)

    async def _tell_ended(self, meeting_id: int, meeting: Meeting, published: Published) -> None:
        if self.notifier is None:
            return
        try:
            text = await asyncio.to_thread(published.files["txt"].read_text, encoding="utf-8")
            self.notifier.ended(meeting_id, meeting, published.urls, text)
        except Exception:  # a notification must never stop the recorder
            log.exception("could not send the notifications of meeting %s", meeting_id)

    def close(self, network: str, room: str, reason: str) -> None:
        """End a room's open meeting from outside (left open too long): a CLOSE line,
        committed and applied in turn like every other line."""
        self._idle.clear()
        self._queue.put_nowait(self._queued(
            ChatEvent(network, room, "", reason, LineKind.CLOSE, datetime.now(UTC)), own=True))

    async def _mention_previous(self, om: OpenMeeting) -> None:
        """One line pointing at the open action items of the series' previous meeting."""
        if om.id is None or om.meeting.lurking:
            return
        previous = await self.publisher.previous_actions(om.id, om.meeting)
        if previous is None:
            return
        count = len(previous.actions)
        self._say(om.ref, f"Action items from the previous meeting "
                          f"({previous.started_at:%Y-%m-%d}): {count} item"
                          f"{'' if count == 1 else 's'}: {previous.minutes_url}#actions",
                  record=True)

    def _say(self, ref: MeetingRef, text: str, *, record: bool, urgent: bool = False) -> None:
        sender = self.senders.get(ref.network)
        if sender is None:
            return
        sender.say(ref.channel, text, urgent=urgent)
        if record:
            # The bot's own words are part of the log, as in MeetBot's.
            self._idle.clear()
            self._queue.put_nowait(self._queued(
                ChatEvent(ref.network, ref.channel, sender.nick, text,
                          LineKind.MESSAGE, datetime.now(UTC)), own=True))


async def replay_stored(storage: LineLog, engine: Engine, record: MeetingRecord,
                        settings: MeetingSettings,
                        amendments: Sequence[Amendment] | None = None) -> Meeting:
    """A meeting's state from its stored lines, read a chunk at a time (the lines that
    later ones correct are held throughout), with its amendments applied (`amendments`:
    those to apply instead of the stored ones; a redacted line is replayed blank)."""
    if amendments is None:
        amendments = [r.amendment for r in await storage.amendments(record.id)]
    meeting = Meeting(record.network, record.channel, settings, series=record.series,
                      pinned=await storage.corrected_events(record.id))
    blank = redacted_lines(amendments)
    wanted = {a.line for a in amendments}
    amended: dict[int, Line] = {}
    async for lines in storage.iter_lines(record.id):
        if wanted:
            if blank:
                lines = [ln._replace(text=blank[ln.seq]) if ln.seq in blank else ln
                         for ln in lines]
            amended.update((ln.seq, ln) for ln in lines if ln.seq in wanted)
        engine.replay(meeting, lines)
    if amendments:
        apply_amendments(meeting, amendments, amended, engine.registry.kinds())
    return meeting


def _resumed_text(om: OpenMeeting, gap: str | None = None) -> str:
    """What the room is told when recording resumes: from the server's history, or with
    the gap written in the log."""
    started = om.meeting.started_at or om.opened_at
    if gap is None:
        return (f"Resumed recording the meeting started at {started:%H:%M} UTC; lines said "
                "while the bot was away are recorded from the server's history.")
    return f"Resumed recording the meeting started at {started:%H:%M} UTC ({gap})."


def _union(kept: list[ChatEvent], heard: list[ChatEvent]) -> list[ChatEvent]:
    """The server's history and what this process heard, each line once (by its message
    id), in the order said."""
    ids = {e.event_id for e in heard if e.event_id}
    merged = [e for e in kept if not e.event_id or e.event_id not in ids] + heard
    return sorted(merged, key=lambda e: e.time)


def _key(ref: MeetingRef) -> RoomKey:
    return ref.network, ref.channel.lower()


def _where(ref: MeetingRef) -> dict[str, object]:
    """What a log line about a meeting carries besides its message ([logging] json)."""
    return {"network": ref.network, "room": ref.channel, "meeting": ref.id}


def _reason(exc: BaseException) -> str:
    """A failure in a few words for the channel: never a path or a traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _end_lines(published: Published) -> list[str]:
    urls = published.urls
    return [
        f"Minutes:        {urls['html']}",
        f"Minutes (text): {urls['txt']}",
        f"Log:            {urls['log_html']}",
    ]
