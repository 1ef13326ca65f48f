"""Timed work on the bot's event loop (APScheduler): reminders before scheduled
meetings, and ending meetings left open too long.

Every decision is taken by `tick()` from the clock it is given, so tests inject one;
the scheduler only decides when to call it. Nothing is kept in APScheduler's memory that
a restart would lose or repeat: a reminder sent is written to the database (never sent
twice), a reminder whose time passed while the bot was down is not sent late, and a
meeting that overran while the bot was down is ended at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from openminutes.chat.base import StateStore
from openminutes.runtime.recorder import Recorder, Sender
from openminutes.schedules.model import Series
from openminutes.schedules.recurrence import occurrences

log = logging.getLogger(__name__)
REMINDER_GRACE = timedelta(minutes=2)  # later than this, a reminder is not sent at all
CHECK_EVERY = 30  # seconds between checks for overrunning meetings
STOP_WAIT = 10  # seconds a check in progress may take to finish at shutdown
STATE_NETWORK = "schedule"  # the chat_state rows of sent reminders


Targets = Callable[[str], list[tuple[Sender, str]]]  # a schedule room -> (sender, room)


class Timekeeper:
    def __init__(self, recorder: Recorder, series: list[Series], store: StateStore,
                 targets: Targets, *, reminder_minutes: int, auto_end: bool,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.recorder = recorder
        self.series = series
        self.store = store
        self.targets = targets
        self.lead = timedelta(minutes=reminder_minutes)
        self.auto_end = auto_end
        self.clock = clock
        self.scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task[Any] | None = None  # a check in progress
        self._stopped = False

    def start(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # First run now: a meeting that overran while the bot was down ends at start.
        self.scheduler.add_job(self._run, "interval", seconds=CHECK_EVERY, id="check",
                               next_run_time=datetime.now(UTC), coalesce=True,
                               max_instances=1)
        self.scheduler.start()

    async def stop(self) -> None:
        """No new checks; a check in progress finishes (it may be ending a meeting)."""
        self._stopped = True  # a check the scheduler has already handed out does nothing
        if self._running is not None:  # before shutdown, which cancels running jobs
            await asyncio.wait([self._running], timeout=STOP_WAIT)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)

    async def _run(self) -> None:
        if self._stopped:
            return
        self._running = asyncio.current_task()
        try:
            upcoming = await self.tick()
        except Exception:
            log.exception("timed work failed")
            return
        finally:
            self._running = None
        if upcoming is not None and self.scheduler is not None:
            # Wake exactly when the next reminder is due (the interval check is coarser).
            self.scheduler.add_job(self._run, "date", run_date=upcoming, id="reminder",
                                   replace_existing=True, misfire_grace_time=None)

    async def tick(self) -> datetime | None:
        """Do what is due now; returns when the next reminder is due."""
        now = self.clock()
        if self.auto_end:
            self._end_overrunning(now)
        if not self.lead:
            return None
        sent = await self.store.state(STATE_NETWORK)
        upcoming: datetime | None = None
        for series in self.series:
            for entry in series.entries:
                # Meetings whose reminder time is in [now - grace, now] are due; the first
                # later one tells when to wake next.
                start = now + self.lead - REMINDER_GRACE
                for when in occurrences(entry, start, now + timedelta(days=400)):
                    remind_at = when - self.lead
                    if remind_at > now:
                        upcoming = remind_at if upcoming is None else min(upcoming, remind_at)
                        break
                    key = f"reminded:{series.meeting_id}:{when:%Y-%m-%dT%H:%MZ}"
                    # Marked sent only where said: in a recorder group, by the process
                    # that records the room (the others have no target).
                    if key not in sent and self._remind(series, entry.rooms, when):
                        await self.store.put_state(STATE_NETWORK, key, now.isoformat())
        return upcoming

    def _remind(self, series: Series, rooms: tuple[str, ...], when: datetime) -> bool:
        minutes = round(self.lead.total_seconds() / 60)
        text = f"Reminder: {series.project} ({series.meeting_id}) starts at {when:%H:%M} UTC"
        text += f", in {minutes} minute{'' if minutes == 1 else 's'}."
        if series.agenda_url:
            text += f" Agenda: {series.agenda_url}"
        if series.chair:
            text += f" Chair: {series.chair}"
        targets = [target for room in rooms for target in self.targets(room)]
        for sender, target in targets:
            sender.say(target, text)
        if targets:
            log.info("reminded %s of %s at %s", rooms, series.meeting_id, when)
        return bool(targets)

    def _end_overrunning(self, now: datetime) -> None:
        for om in list(self.recorder.open.values()):
            meeting = om.meeting
            if not meeting.started or meeting.ended or meeting.started_at is None:
                continue
            if meeting.scheduled_minutes:
                limit = timedelta(minutes=2 * meeting.scheduled_minutes)
                why = f"twice its scheduled {meeting.scheduled_minutes} minutes"
            else:
                limit = 2 * meeting.settings.max_length
                why = f"twice the {round(meeting.settings.max_length.total_seconds() / 60)}" \
                      " minutes a meeting is expected to last"
            if now - meeting.started_at > limit and not om.closing:
                om.closing = True
                self.recorder.close(om.meeting.network, om.meeting.channel,
                                    f"ended by the bot: still open after {why}")
                log.info("ending meeting %s in %s: overran", om.id, om.meeting.channel)
