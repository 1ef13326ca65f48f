"""The SQL of a recorder group (runtime/group.py): leases of rooms on the database's
clock, the epoch that fences every write of lines, and the processes' reports.

PostgreSQL only: a group shares one database. A lease is taken by one statement that
succeeds only where the room is free or its lease has expired; every write of lines
locks its rooms' lease rows FOR SHARE and checks holder and epoch in the same
transaction, so a takeover (which must lock the row to raise the epoch) waits for a
write in flight, and a write after a takeover finds the new epoch and is refused."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openminutes.storage.errors import FencedError, retryable
from openminutes.storage.models import LeaseRow, RecorderRow

RoomKey = tuple[str, str]  # (network, room as the recorder keys it: lower-cased)
# The room of a lease on a whole network (Matrix: one process syncs the account's rooms).
WHOLE_NETWORK = "*"
_LEASES = cast(Table, LeaseRow.__table__)
_RECORDERS = cast(Table, RecorderRow.__table__)
# A process that has not reported for this many lease lengths is gone from the group's
# live processes (whose nicks are ignored); its row is deleted after an hour.
PEER_SILENCE_LEASES = 3
_FORGET = timedelta(hours=1)


def _now() -> Any:
    """The database's clock, as the naive UTC the columns hold: every process of a group
    compares leases with one clock, whatever its own says."""
    return func.timezone("UTC", func.clock_timestamp())


@dataclass(frozen=True)
class Fence:
    """What a write of lines must still hold: this process's epoch for each room."""

    holder: str
    epochs: Mapping[RoomKey, int]


@dataclass(frozen=True)
class Report:
    """A process as it tells the group about itself each renewal."""

    holder: str
    host: str
    pid: int
    started_at: datetime
    nicks: Mapping[str, str]  # network -> nick
    buffers: Mapping[str, tuple[str, int]]  # "network room" -> (since, lines held)


@dataclass(frozen=True)
class Renewal:
    held: dict[RoomKey, int]  # every room whose lease this process holds, with its epoch
    renewed: frozenset[RoomKey]  # those renewed now (the others are lapsing)
    acquired: frozenset[RoomKey]  # taken in this renewal (a takeover, or a first start)
    peers: dict[str, set[str]]  # network -> nicks of the group's other live processes
    previous: dict[RoomKey, str]  # who held each acquired room before (if anyone)


@dataclass(frozen=True)
class LeaseState:
    network: str
    room: str
    holder: str
    epoch: int
    acquired_at: datetime
    expires_in: float  # seconds; negative: lapsed


@dataclass(frozen=True)
class ProcessState:
    holder: str
    host: str
    pid: int
    nicks: dict[str, str]
    buffers: dict[str, tuple[str, int]]
    started_at: datetime
    seen_ago: float


async def check_fence(conn: AsyncConnection, fence: Fence, rooms: Iterable[RoomKey]) -> None:
    """Inside a write's transaction: raise FencedError unless this process still holds
    every room at its epoch (a room of a network leased whole: that network's lease). The
    rows stay locked (shared) until the write commits."""
    wanted: dict[RoomKey, int | None] = {}
    for network, room in set(rooms):
        key = (network, room) if (network, room) in fence.epochs \
            or (network, WHOLE_NETWORK) not in fence.epochs else (network, WHOLE_NETWORK)
        wanted[key] = fence.epochs.get(key)
    known = [(n, r, e) for (n, r), e in wanted.items() if e is not None]
    found: set[RoomKey] = set()
    if known:
        rows = await conn.execute(
            select(_LEASES.c.network, _LEASES.c.room)
            .where(_LEASES.c.holder == fence.holder,
                   tuple_(_LEASES.c.network, _LEASES.c.room, _LEASES.c.epoch).in_(known))
            .with_for_update(read=True))
        found = {(row.network, row.room) for row in rows}
    lost = frozenset(wanted) - found
    if lost:
        raise FencedError(lost)


class GroupStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @retryable
    async def renew(self, me: Report, keep: Iterable[RoomKey],
                    want: Iterable[RoomKey] | Mapping[RoomKey, float],
                    lease: float) -> Renewal:
        """One renewal, in one transaction: report this process, renew the leases of
        `keep` it holds, take those of `want` that are free or lapsed (a mapping: lapsed
        for at least so many seconds), and read the group's other processes."""
        graces = dict(want) if isinstance(want, Mapping) else dict.fromkeys(want, 0.0)
        length = timedelta(seconds=lease)
        keep = list(set(keep))
        async with self.engine.begin() as conn:
            await self._report(conn, me)
            renewed: set[RoomKey] = set()
            if keep:
                rows = await conn.execute(
                    update(_LEASES)
                    .where(_LEASES.c.holder == me.holder,
                           tuple_(_LEASES.c.network, _LEASES.c.room).in_(keep))
                    .values(expires_at=_now() + length)
                    .returning(_LEASES.c.network, _LEASES.c.room))
                renewed = {(row.network, row.room) for row in rows}
            held = {(row.network, row.room): row.epoch for row in await conn.execute(
                select(_LEASES.c.network, _LEASES.c.room, _LEASES.c.epoch)
                .where(_LEASES.c.holder == me.holder))}
            acquired: set[RoomKey] = set()
            previous: dict[RoomKey, str] = {}
            for network, room in sorted(set(graces) - set(held)):
                before = (await conn.execute(
                    select(_LEASES.c.holder).where(_LEASES.c.network == network,
                                                   _LEASES.c.room == room))).scalar()
                statement = pg_insert(_LEASES).values(
                    network=network, room=room, holder=me.holder, epoch=1,
                    expires_at=_now() + length, acquired_at=_now())
                epoch = (await conn.execute(statement.on_conflict_do_update(
                    index_elements=[_LEASES.c.network, _LEASES.c.room],
                    set_={"holder": me.holder, "epoch": _LEASES.c.epoch + 1,
                          "expires_at": _now() + length, "acquired_at": _now()},
                    where=_LEASES.c.expires_at
                    < _now() - timedelta(seconds=graces[(network, room)]),
                ).returning(_LEASES.c.epoch))).scalar()
                if epoch is not None:
                    held[(network, room)] = int(epoch)
                    acquired.add((network, room))
                    renewed.add((network, room))
                    if before is not None:
                        previous[(network, room)] = str(before)
            peers: dict[str, set[str]] = {}
            for row in await conn.execute(
                    select(_RECORDERS.c.nicks)
                    .where(_RECORDERS.c.holder != me.holder,
                           _RECORDERS.c.seen_at > _now() - PEER_SILENCE_LEASES * length)):
                for network, nick in json.loads(row.nicks).items():
                    peers.setdefault(network, set()).add(nick)
        return Renewal(held, frozenset(renewed), frozenset(acquired), peers, previous)

    @staticmethod
    async def _report(conn: AsyncConnection, me: Report) -> None:
        values = {"host": me.host, "pid": me.pid, "nicks": json.dumps(dict(me.nicks)),
                  "buffers": json.dumps({k: list(v) for k, v in me.buffers.items()}),
                  "seen_at": _now()}
        await conn.execute(pg_insert(_RECORDERS).values(
            holder=me.holder, started_at=me.started_at, **values,
        ).on_conflict_do_update(index_elements=[_RECORDERS.c.holder], set_=values))
        await conn.execute(delete(_RECORDERS).where(_RECORDERS.c.seen_at < _now() - _FORGET))

    @retryable
    async def release(self, holder: str) -> None:
        """A clean shutdown: every lease lapses now, so a standby takes the rooms at its
        next renewal; the process leaves the group's list."""
        async with self.engine.begin() as conn:
            await conn.execute(update(_LEASES).where(_LEASES.c.holder == holder)
                               .values(expires_at=_now() - timedelta(seconds=1)))
            await conn.execute(delete(_RECORDERS).where(_RECORDERS.c.holder == holder))

    async def state(self) -> tuple[list[ProcessState], list[LeaseState]]:
        """What `openminutes status` shows: the processes and every room's lease."""
        async with self.engine.connect() as conn:
            now = (await conn.execute(select(_now()))).scalar_one().replace(tzinfo=UTC)
            processes = [
                ProcessState(row.holder, row.host, row.pid, json.loads(row.nicks),
                             {k: (v[0], int(v[1])) for k, v in json.loads(row.buffers).items()},
                             row.started_at, (now - row.seen_at).total_seconds())
                for row in await conn.execute(select(_RECORDERS).order_by(
                    _RECORDERS.c.started_at))
            ]
            leases = [
                LeaseState(row.network, row.room, row.holder, row.epoch, row.acquired_at,
                           (row.expires_at - now).total_seconds())
                for row in await conn.execute(select(_LEASES).order_by(
                    _LEASES.c.network, _LEASES.c.room))
            ]
        return processes, leases
