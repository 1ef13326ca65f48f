"""What every adapter hands the recorder, and what the recorder asks of an adapter."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, Protocol

from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.text import clean_text as clean_text  # the adapters' one cleaner


class ChatEvent(NamedTuple):
    """What an adapter hands the recorder (a tuple: one is made per line received)."""

    network: str
    room: str
    nick: str
    text: str
    kind: LineKind
    time: datetime  # UTC; the server's when it says
    identity: str | None = None
    event_id: str | None = None
    privileged: bool = False  # the network ranks the sender as a chair (power level)
    relates_to: str | None = None  # the event an edit or a redaction is about
    catch_up: bool = False  # said while the bot was away: recorded and applied, not answered

    def line(self, seq: int, *, own: bool = False) -> Line:
        """The line this event is stored as (the one conversion of an event to a line)."""
        return Line(seq, self.time, self.kind, self.nick, self.text, self.identity, own,
                    self.event_id, self.privileged, self.relates_to)


class Checkpoint(NamedTuple):
    """State an adapter needs after a restart (a sync token), committed together with
    the events submitted before it, never ahead of them."""

    network: str
    key: str
    value: str


# A topic a meeting replaced, kept in the adapter's state across restarts: the key is
# this prefix and the room, the value "=" and the topic ("" once it is put back).
_TOPIC_STATE = "topic-before:"


def replaced_topic_state(room: str, topic: str | None) -> tuple[str, str]:
    """The (key, value) that keeps `topic` as replaced in `room` (None: put back)."""
    return _TOPIC_STATE + room, "" if topic is None else "=" + topic


def replaced_topics(state: dict[str, str]) -> dict[str, str]:
    """The topics kept by replaced_topic_state in an adapter's state, by room."""
    return {key[len(_TOPIC_STATE):]: value[1:] for key, value in state.items()
            if key.startswith(_TOPIC_STATE) and value.startswith("=")}


class ProbeError(Exception):
    """A network the config names cannot be used (`openminutes check`); the message says
    which server and why."""


class Outage(NamedTuple):
    """The adapter's own connection was down (people may have gone on talking): lines
    said in its rooms from `since` to `until` may be missing."""

    network: str
    since: datetime
    until: datetime


class History(NamedTuple):
    """What a server kept of a room's lines (IRCv3 draft/chathistory): `complete` when
    it handed over everything since the time asked for."""

    events: list[ChatEvent]
    complete: bool


EventSink = Callable[[ChatEvent | Checkpoint | Outage], None]


class StateStore(Protocol):
    """Where adapters and timed work keep what a restart must find (storage.Storage)."""

    async def state(self, network: str) -> dict[str, str]: ...

    async def put_state(self, network: str, key: str, value: str) -> None: ...


def jittered_backoff(attempt: int, cap: float, first: float = 1.0) -> float:
    """Seconds to wait before retry number `attempt`: doubling from `first`, capped,
    jittered, so a flapping server sees no tight loop and clients no lockstep."""
    return min(cap, first * 2.0 ** min(attempt, 16)) * random.uniform(0.5, 1.0)


class ChatAdapter(Protocol):
    name: str

    @property
    def nick(self) -> str: ...

    async def run(self, sink: EventSink) -> None:
        """Connect and deliver events until closed; reconnects on its own."""

    def say(self, room: str, text: str, *, urgent: bool = False) -> None:
        """Queue a message; never blocks, never floods. Urgent messages (the minutes'
        URLs) go before everything else waiting."""

    async def close(self) -> None: ...
