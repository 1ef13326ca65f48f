"""A recorder group: the processes that share a PostgreSQL database record each room
once. One process holds a room's lease and records it; the others stand by, silent,
keeping what they hear for a while, and take the room over when its lease lapses.

Timing (config [recorders]): the holder renews every `renew_seconds` a lease of
`lease_seconds` on the database's clock. It speaks in a room only until one renewal
period before its last renewal could lapse (measured from when that renewal began, on
its own monotonic clock), so it is silent before any standby may take over; its writes
are fenced by the lease's epoch in the database itself (storage/group.py), so a process
that lost a room cannot write to it even if it does not know yet. A standby takes a
lapsed lease at its next renewal: takeover comes `lease_seconds` to `lease_seconds +
renew_seconds` after the holder's last renewal."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from openminutes.chat.base import ChatEvent, Outage
from openminutes.meetings.nicks import fold
from openminutes.storage.errors import StorageUnavailableError
from openminutes.storage.group import (
    WHOLE_NETWORK,
    Fence,
    GroupStore,
    Renewal,
    Report,
    RoomKey,
)

log = logging.getLogger(__name__)
MAX_HEARD = 100_000  # lines a standby keeps per room, whatever the window


@dataclass
class Heard:
    """What a standby keeps of a room it does not record: every line said there since
    `since` (older ones leave the window)."""

    since: datetime
    events: deque[ChatEvent] = field(default_factory=deque)


@dataclass(frozen=True)
class Timing:
    lease: float = 3.5
    renew: float = 1.0
    window: timedelta = timedelta(minutes=10)


class RecorderGroup:
    """This process's membership: the rooms it holds, what it hears in the others, and
    the renewal loop. `rooms()` says which configured rooms the process has joined now
    (only those are taken or kept); `nicks()` its nick on each network."""

    def __init__(self, store: GroupStore, timing: Timing, networks: Iterable[str],
                 rooms: Callable[[], dict[RoomKey, bool]],
                 nicks: Callable[[], dict[str, str]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.timing = timing
        self.networks = frozenset(networks)  # those whose rooms the group shares
        self.rooms = rooms
        self.nicks = nicks
        self.clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.started_at = datetime.now(UTC)
        self.held: dict[RoomKey, int] = {}  # lease held, with its epoch
        self.active: set[RoomKey] = set()  # held and taken over: lines go to the recorder
        self._speak_until: dict[RoomKey, float] = {}
        self.heard: dict[RoomKey, Heard] = {}
        self.peers: dict[str, set[str]] = {}  # network -> folded nicks of the others
        self.on_acquired: Callable[[RoomKey, str | None], None] = lambda _k, _p: None
        self.on_lost: Callable[[RoomKey], None] = lambda _k: None
        self.renewed = asyncio.Event()  # set after each renewal that reached the database

    # -- what the recorder and the adapters ask -------------------------------------------

    def _lease_of(self, network: str, room: str) -> RoomKey:
        whole = (network, WHOLE_NETWORK)
        return whole if whole in self.held or whole in self.active else (network, room.lower())

    def records(self, network: str, room: str) -> bool:
        return self._lease_of(network, room) in self.active

    def may_speak(self, network: str, room: str) -> bool:
        key = self._lease_of(network, room)
        return key in self.active and self.clock() < self._speak_until.get(key, 0.0)

    def is_peer(self, network: str, nick: str) -> bool:
        """A nick of another process of the group: never an attendee, never recorded."""
        return fold(nick) in self.peers.get(network, ())

    def fence(self) -> Fence:
        return Fence(self.holder, dict(self.held))

    def hear(self, event: ChatEvent) -> None:
        """A line in a room this process does not record: kept for the window."""
        key = (event.network, event.room.lower())
        heard = self.heard.setdefault(key, Heard(datetime.now(UTC)))
        heard.events.append(event)
        oldest = datetime.now(UTC) - self.timing.window
        while heard.events and (heard.events[0].time < oldest
                                or len(heard.events) > MAX_HEARD):
            heard.since = heard.events.popleft().time

    def deaf(self, outage: Outage) -> None:
        """This process's connection was down: what it kept of the network's rooms ends
        before the outage, so it holds none of them since then."""
        for (network, _room), heard in self.heard.items():
            if network == outage.network:
                heard.events.clear()
                heard.since = outage.until

    def _heard_since(self, key: RoomKey) -> datetime:
        heard = self.heard.get(key)
        return heard.since if heard is not None else datetime.now(UTC)

    def take_heard(self, key: RoomKey) -> Heard:
        """The room is this process's now: what it heard, and from here on its lines go
        to the recorder. Called by the recorder in the order of its queue."""
        self.active.add(key)
        return self.heard.pop(key, Heard(datetime.now(UTC)))

    def give_back(self, key: RoomKey, unwritten: Iterable[ChatEvent] = ()) -> None:
        """The room was taken over by another process: stand by again, keeping the lines
        this one could not write (the new recorder heard them too, or will store what
        it heard of them)."""
        self.active.discard(key)
        self.held.pop(key, None)
        events = list(unwritten)
        heard = Heard(events[0].time if events else datetime.now(UTC), deque(events))
        self.heard[key] = heard

    # -- the renewal loop ------------------------------------------------------------------

    def _report(self) -> Report:
        return Report(
            self.holder, socket.gethostname(), os.getpid(), self.started_at, self.nicks(),
            {f"{network} {room}": (heard.since.isoformat(timespec="seconds"),
                                   len(heard.events))
             for (network, room), heard in self.heard.items()})

    async def renew_once(self) -> Renewal | None:
        began = self.clock()
        joined = self.rooms()
        for key, present in joined.items():
            if not present:
                self.heard.pop(key, None)  # not in the room: it hears nothing there
            elif key not in self.active:
                self.heard.setdefault(key, Heard(datetime.now(UTC)))
        keep = {key for key in self.held if joined.get(key)}
        # A standby that began hearing a room only lately may lack lines its recorder
        # never stored: it lets another process of the group, which may have heard
        # longer, take the room first (alone, it takes it as soon as the lease lapses).
        lately = datetime.now(UTC) - timedelta(seconds=self.timing.lease)
        want = {key: self.timing.lease if self.peers.get(key[0])
                and self._heard_since(key) > lately else 0.0
                for key, present in joined.items() if present}
        try:
            # A database that stopped answering (a black-holed link) must not hold the
            # loop past the lease: the next renewal tries again on a new connection.
            async with asyncio.timeout(self.timing.lease):
                renewal = await self.store.renew(self._report(), keep, want,
                                                 self.timing.lease)
        except (StorageUnavailableError, TimeoutError) as exc:
            # The leases lapse on their own: silence comes from _speak_until.
            log.warning("could not renew the recorder leases: %s", exc or "timed out")
            return None
        until = began + self.timing.lease - self.timing.renew
        for key in renewal.renewed:
            self._speak_until[key] = until
        for key in set(self.held) - set(renewal.held):
            log.warning("%s on %s: another process of the group records it now", key[1],
                        key[0])
            self.give_back(key)
            self.on_lost(key)
        self.held = dict(renewal.held)
        self.peers = {network: {fold(n) for n in nicks}
                      for network, nicks in renewal.peers.items()}
        for key in sorted(renewal.acquired):
            log.info("%s on %s: recording it (lease epoch %d)", key[1], key[0],
                     renewal.held[key])
            self.on_acquired(key, renewal.previous.get(key))
        self.renewed.set()
        return renewal

    async def run(self) -> None:
        while True:
            began = self.clock()
            try:
                await self.renew_once()
            except Exception:  # the loop must outlive any one failure
                log.exception("renewing the recorder leases failed")
            await asyncio.sleep(max(0.05, self.timing.renew - (self.clock() - began)))

    async def release(self) -> None:
        """A clean shutdown: silent at once, and the rooms free for a standby."""
        self._speak_until.clear()
        self.active.clear()
        try:
            await self.store.release(self.holder)
        except StorageUnavailableError as exc:
            log.warning("could not release the recorder leases (they lapse): %s", exc)
        self.held.clear()
