"""`openminutes amend`: correct an ended meeting's record, leaving a public audit trail.

Each amendment is checked against the meeting as it stands (replayed with it applied)
before it is stored; then the meeting is published again, its series' amendments feed
written, the webhooks told, and for a redaction the database scrubbed of the text."""

from __future__ import annotations

import getpass
import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from openminutes.meetings.commands import parse_command
from openminutes.meetings.engine import END_COMMAND, START_COMMAND
from openminutes.meetings.model import Action, Amendment, Applied, Line
from openminutes.meetings.state import Meeting
from openminutes.notify import Notifier
from openminutes.publish.viewmodel import iso
from openminutes.runtime.app import Services, open_services
from openminutes.runtime.config import Config
from openminutes.runtime.recorder import replay_stored
from openminutes.storage import AmendmentRecord, MeetingRecord

NOTIFY_SECONDS = 30.0  # how long the command waits for the webhooks to take the event


class AmendError(Exception):
    """The amendment was refused; nothing was stored. The message says why."""


@dataclass(frozen=True, slots=True)
class AmendResult:
    applied: Applied
    changes: list[str]  # the minutes' items that went (-) and came (+)
    minutes: str  # the URL (or path) of the minutes published again


def operator(given: str | None) -> str:
    """Who amends: `--by`, else the OS user."""
    name = (given or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


def _items(meeting: Meeting) -> list[str]:
    owners = {a.item.line: a.owners for a in meeting.actions()}
    return [item.describe() + (f" ({', '.join(owners[item.line])})"
                               if owners.get(item.line) else "")
            for item in meeting.items]


def _diff(before: list[str], after: list[str]) -> list[str]:
    gone = [f"- {text}" for text in before if text not in after]
    came = [f"+ {text}" for text in after if text not in before]
    return gone + came


async def _ended(services: Services, meeting_id: int) -> MeetingRecord:
    record = await services.storage.meeting(meeting_id)
    if record is None:
        raise AmendError(f"no meeting {meeting_id}")
    if record.ended_at is None or record.stem is None:
        raise AmendError(f"meeting {meeting_id} is still open; amend it once it has ended "
                         "and its minutes are published")
    return record


async def _line(services: Services, meeting_id: int, seq: int) -> Line:
    found = await services.storage.lines(meeting_id, after=seq - 1, upto=seq)
    if not found:
        raise AmendError(f"meeting {meeting_id} has no line {seq}")
    return found[0]


def _kept(services: Services, record: MeetingRecord, line: Line) -> str:
    """What a redaction keeps of a line: the command word of a #startmeeting or
    #endmeeting (so the meeting still starts and ends, and its title goes), else
    nothing."""
    parsed = parse_command(line.text, services.settings.prefixes_for(record.network))
    command = services.engine.registry.lookup(parsed.name) if parsed is not None else None
    if command is None or command.name not in (START_COMMAND, END_COMMAND):
        return ""
    return line.text.split()[0]


async def amend(config: Config, meeting_id: int, amendment: Amendment) -> AmendResult:
    """Check, store and publish one amendment. Raises AmendError (nothing stored)."""
    services = await open_services(config, scrub=amendment.action is Action.REDACT)
    try:
        return await _amend(services, config, meeting_id, amendment)
    finally:
        await services.storage.close()


async def _amend(services: Services, config: Config, meeting_id: int,
                 amendment: Amendment) -> AmendResult:
    if amendment.action is Action.REDACT and not amendment.reason:
        raise AmendError("a redaction needs --reason: the log shows it at that line")
    record = await _ended(services, meeting_id)
    line = await _line(services, meeting_id, amendment.line)
    if amendment.action is Action.REDACT:
        amendment = replace(amendment, digest=hashlib.sha256(line.text.encode()).hexdigest(),
                            text=_kept(services, record, line))
    earlier = [r.amendment for r in await services.storage.amendments(meeting_id)]
    storage, engine, settings = services.storage, services.engine, services.settings
    before = await replay_stored(storage, engine, record, settings, earlier)
    trial = await replay_stored(storage, engine, record, settings, [*earlier, amendment])
    applied = trial.amendments[-1]
    if applied.error:
        raise AmendError(applied.error)
    if not trial.started:
        raise AmendError(f"line {amendment.line} started the meeting: without it there "
                         "would be no meeting")
    if not trial.ended:
        raise AmendError(f"line {amendment.line} ended the meeting: without it the meeting "
                         "would be open again")
    changes = _diff(_items(before), _items(trial))
    amendment = replace(amendment, change=applied.change)
    amendment = replace(amendment, id=await storage.add_amendment(meeting_id, amendment))
    meeting = await replay_stored(storage, engine, record, settings)
    try:  # stored: a publish that fails here is done by the next `render`
        published = await services.publisher.publish(meeting_id, meeting)
    finally:
        if amendment.action is Action.REDACT:
            await storage.purge()
    stored = meeting.amendments[-1]
    notify = config.notify
    if notify.webhook:
        notifier = Notifier(notify)
        notifier.amended(meeting_id, meeting, published.urls, stored)
        await notifier.drain(NOTIFY_SECONDS)
    return AmendResult(stored, changes, published.urls["html"])


def new_amendment(action: Action, line: int, *, by: str | None, reason: str,
                  kind: str = "", text: str = "", owners: tuple[str, ...] = ()) -> Amendment:
    return Amendment(action, line, operator(by), datetime.now(UTC), reason.strip(), kind,
                     text, owners)


async def trail(config: Config, meeting_id: int | None) -> list[AmendmentRecord]:
    """`amend list`: the amendments, oldest first."""
    services = await open_services(config)
    try:
        if meeting_id is not None and await services.storage.meeting(meeting_id) is None:
            raise AmendError(f"no meeting {meeting_id}")
        return await services.storage.amendments(meeting_id)
    finally:
        await services.storage.close()


def as_dict(record: AmendmentRecord) -> dict[str, Any]:
    """An amendment as `amend list` prints it (the digest too: the operator's view)."""
    a = record.amendment
    return {"id": a.id, "time": iso(a.at), "meeting_id": record.meeting.id,
            "channel": record.meeting.channel, "meeting": record.meeting.name,
            "line": a.line, "action": str(a.action), "by": a.by, "reason": a.reason,
            "change": a.change, "kind": a.kind, "text": a.text, "owners": list(a.owners),
            "sha256": a.digest}
