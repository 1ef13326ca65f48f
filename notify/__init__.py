"""Telling the world when a meeting starts and ends: webhooks and email, in the
background, so the bot never waits for them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from openminutes.meetings.model import Applied
from openminutes.meetings.state import Meeting
from openminutes.notify import email, events, webhooks
from openminutes.notify.config import NotifyConfig

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, config: NotifyConfig) -> None:
        self.config = config
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _post(self, payload: dict[str, Any]) -> None:
        for hook in self.config.webhook:
            if payload["event"] in hook.events:
                self._spawn(webhooks.deliver(hook, payload))

    def started(self, meeting_id: int | None, meeting: Meeting) -> None:
        try:
            self._post(events.started(meeting_id, meeting))
        except Exception:  # never the recorder's problem
            log.exception("could not notify the start of meeting %s", meeting_id)

    def ended(self, meeting_id: int | None, meeting: Meeting, urls: dict[str, str],
              text_minutes: str) -> None:
        """Queue the webhooks and the email; nothing here waits or raises."""
        try:
            self._post(events.ended(meeting_id, meeting, urls))
        except Exception:
            log.exception("could not notify the end of meeting %s", meeting_id)
        if not self.config.email.to:
            return
        try:
            subject = (f"Minutes: {meeting.title} "
                       f"({meeting.started_at:%Y-%m-%d} {meeting.channel})")
            body = (f"Minutes:        {urls.get('html', '')}\n"
                    f"Minutes (text): {urls.get('txt', '')}\n"
                    f"Log:            {urls.get('log_html', '')}\n\n{text_minutes}")
            msg = email.message(self.config.email, subject, body)
        except Exception:
            log.exception("could not write the email for meeting %s", meeting_id)
            return
        self._spawn(email.send(self.config.email, msg))

    def amended(self, meeting_id: int, meeting: Meeting, urls: dict[str, str],
                applied: Applied) -> None:
        try:
            self._post(events.amended(meeting_id, meeting, urls, applied))
        except Exception:
            log.exception("could not notify the amendment of meeting %s", meeting_id)

    async def drain(self, seconds: float = 10.0) -> None:
        """At shutdown: let deliveries under way finish, for a while."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True),
                                       seconds)
