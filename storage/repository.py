"""The repository the recorder, publisher and CLI call. All SQL of the project lives here."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    delete,
    event,
    exists,
    extract,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from openminutes.meetings.model import Action, Amendment, Line, LineKind
from openminutes.storage.changes import CHANNEL, changes
from openminutes.storage.errors import InUseError, retryable
from openminutes.storage.group import Fence, GroupStore, check_fence
from openminutes.storage.models import (
    AmendmentRow,
    ChatStateRow,
    ItemRow,
    LineRow,
    MeetingRow,
    SourceRow,
    UTCDateTime,
)
from openminutes.storage.records import (
    AmendmentRecord,
    Derived,
    ImportedFile,
    ItemRecord,
    MeetingRecord,
    MeetingRef,
    SeriesRecord,
    Written,
)
from openminutes.storage.search import DECISION, Filters, SearchPage, person_token, scope_of
from openminutes.storage.search import search as full_text_search

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration shipped (tests/test_architecture.py checks it against
# Alembic's own head). A database already there is opened without loading Alembic,
# Mako and Pygments at all: about 10 MiB of a running bot.
SCHEMA_HEAD = "0017"
_LINES = cast(Table, LineRow.__table__)
_ITEMS = cast(Table, ItemRow.__table__)
_MEETINGS = cast(Table, MeetingRow.__table__)
_SOURCES = cast(Table, SourceRow.__table__)
_STATE = cast(Table, ChatStateRow.__table__)
_AMENDMENTS = cast(Table, AmendmentRow.__table__)
# Ended and given its files: what the archive lists.
_LINE_COLUMNS = (_LINES.c.seq, _LINES.c.time, _LINES.c.kind, _LINES.c.nick, _LINES.c.text,
                 _LINES.c.identity, _LINES.c.own, _LINES.c.event_id, _LINES.c.privileged,
                 _LINES.c.relates_to)
LINE_CHUNK = 2000  # lines read at a time when a whole log is replayed or rendered
_PUBLISHED = (_MEETINGS.c.ended_at.is_not(None), _MEETINGS.c.stem.is_not(None))
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def async_url(url: str) -> str:
    """The async driver for a plain `sqlite:///` or `postgresql://` URL."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(False) if driver else url


def _in_year(column: Any, year: int) -> tuple[Any, Any]:
    """Conditions: a time column within a (UTC) calendar year."""
    return (column >= datetime(year, 1, 1, tzinfo=UTC),
            column < datetime(year + 1, 1, 1, tzinfo=UTC))


def _record(row: MeetingRow) -> MeetingRecord:
    return MeetingRecord(
        row.id, row.network, row.channel, row.name, row.title, row.founder,
        row.started_at, row.ended_at, row.stem, row.series,
    )


def _published(with_open: bool) -> Any:
    """Condition: a published meeting (or one open now)."""
    published = and_(*_PUBLISHED)
    return or_(published, _MEETINGS.c.ended_at.is_(None)) if with_open else published


def _kinds_condition(kinds: Iterable[str]) -> Any:
    """Items of these kinds; DECISION among them stands for every kind that is one."""
    wanted = [k for k in kinds if k != DECISION]
    condition = _ITEMS.c.kind.in_(wanted)
    return condition | _ITEMS.c.decision.is_(True) if DECISION in kinds else condition


def _event_parts(event_id: str) -> Any:
    """Condition: a line of the message with this event id (see model.part_id)."""
    prefix = f"{event_id}|"  # the later lines of a multi-line message
    return (_LINES.c.event_id == event_id) | (
        func.substr(_LINES.c.event_id, 1, len(prefix)) == prefix)


async def _merge_fts(conn: AsyncConnection) -> None:
    """Merge each SQLite full-text index into one segment (dropping deleted rows' words)."""
    for table in ("lines_fts", "items_fts"):
        await conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES('optimize')")


def _amendment(row: Any) -> Amendment:
    return Amendment(Action(row.action), row.line, row.by, row.at, row.reason, row.kind,
                     row.text, tuple(json.loads(row.owners)), row.digest, row.change, row.id)


def _line(row: Any) -> Line:
    return Line(
        row.seq, row.time, LineKind(row.kind), row.nick, row.text, row.identity, row.own,
        row.event_id, row.privileged, row.relates_to,
    )


async def _notify(conn: AsyncConnection, meeting_ids: Iterable[int]) -> None:
    """PostgreSQL: tell `serve` processes these meetings changed (delivered at commit;
    storage/changes.py). SQLite needs nothing: readers see the file's counter move."""
    if conn.dialect.name == "postgresql":
        for meeting_id in sorted(meeting_ids):
            await conn.execute(select(func.pg_notify(CHANNEL, str(meeting_id))))


async def _write_meeting_row(conn: AsyncConnection, meeting_id: int, derived: Derived,
                             **more: Any) -> None:
    await _notify(conn, (meeting_id,))  # ended, renamed, published: live pages follow
    await conn.execute(
        update(_MEETINGS).where(_MEETINGS.c.id == meeting_id).values(
            name=derived.name, title=derived.title, founder=derived.founder,
            ended_at=derived.ended_at, series=derived.series, **more,
        )
    )


async def _write_derived(conn: AsyncConnection, meeting_id: int, derived: Derived) -> None:
    await _write_meeting_row(conn, meeting_id, derived)
    channel = (await conn.execute(
        select(_MEETINGS.c.channel).where(_MEETINGS.c.id == meeting_id))).scalar_one()
    # Lines said before the meeting had its name (or before a rename) are indexed anew.
    scope = scope_of(derived.name, channel)
    await conn.execute(update(_LINES).where(_LINES.c.meeting_id == meeting_id,
                                            _LINES.c.scope != scope).values(scope=scope))
    await conn.execute(delete(_ITEMS).where(_ITEMS.c.meeting_id == meeting_id))
    rows = _item_rows(meeting_id, derived, scope)
    if rows:
        await conn.execute(insert(_ITEMS), rows)


def _item_rows(meeting_id: int | None, derived: Derived, scope: str) -> list[dict[str, Any]]:
    return [
        {"meeting_id": meeting_id, "position": i, "kind": str(it.kind),
         "decision": it.kind.decision, "text": it.text,
         "nick": it.nick, "time": it.time, "line": it.line, "scope": scope,
         "who": person_token(it.nick),
         "owners": json.dumps(list(derived.owners.get(it.line, ())), ensure_ascii=False)}
        for i, it in enumerate(derived.items)
    ]


def _line_row(meeting_id: int | None, line: Line, scope: str) -> dict[str, Any]:
    return {"meeting_id": meeting_id, "seq": line.seq, "time": line.time,
            "kind": str(line.kind), "nick": line.nick, "identity": line.identity,
            "text": line.text, "own": line.own, "event_id": line.event_id,
            "privileged": line.privileged, "relates_to": line.relates_to, "scope": scope,
            "who": person_token(line.nick)}


def _sqlite_pragmas(durable: bool, scrub: bool) -> Any:
    def apply(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        _set_sqlite_pragmas(dbapi_conn, durable, scrub)

    return apply


def _set_sqlite_pragmas(dbapi_conn: Any, durable: bool, scrub: bool = False) -> None:
    cursor = dbapi_conn.cursor()
    if scrub:  # what is deleted or overwritten is zeroed in the file, not left behind
        cursor.execute("PRAGMA secure_delete=ON")
    # WAL lets readers (the web archive, `meetings`) run beside the recorder; FULL makes
    # each commit durable before the bot acts on the line. NORMAL (bulk imports, which
    # are idempotent and re-runnable) is safe against a crash of the process, not of
    # the machine.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_MIGRATION_LOCK = 0x6F6D_6967  # PostgreSQL advisory lock key: one migrator at a time


@contextlib.asynccontextmanager
async def _migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """One migrator at a time across processes. PostgreSQL takes an advisory lock inside
    the migration; a SQLite file gets an exclusive lock on a file beside it."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    handle = await asyncio.to_thread(_lock_file, Path(f"{database}.migrate-lock"))
    try:
        yield
    finally:
        handle.close()  # closing releases the lock


def _lock_file(path: Path) -> BinaryIO:
    handle = path.open("a+b")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle


def _try_lock(path: Path) -> BinaryIO:
    """An exclusive lock on `path` held by this process (its pid inside), or InUseError
    naming the process that holds it."""
    handle = path.open("a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().decode(errors="replace").strip() or "another process"
        handle.close()
        raise InUseError(holder) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}".encode())
    handle.flush()
    return handle


def alembic_config() -> Config:
    """Alembic's view of the migrations this version ships."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    if _revision(connection) == SCHEMA_HEAD:
        return
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _revision(connection: Connection) -> str | None:
    """The schema's migration, as Alembic records it (None: no schema yet)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if found is None else str(found)


class Storage:
    """The database: the line log the recorder appends to, the meetings and items the
    publisher and the archive read, search, and the adapters' state. The only code that
    writes SQL; it knows no plugin (an item says itself whether it is a decision)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        # Leases of a recorder group; PostgreSQL only (SQLite keeps one recorder).
        self.group = GroupStore(engine) if engine.dialect.name == "postgresql" else None

    @classmethod
    async def open(cls, url: str, *, durable: bool = True, scrub: bool = False) -> Storage:
        """Connect and bring the schema up to date. `scrub`: on SQLite, deleted and
        overwritten text is zeroed in the file (for redactions; see `purge`)."""
        # pre_ping: after a PostgreSQL restart, pooled connections are dead; test first
        # (a SQLite file has no server to lose: there it would be one more round trip to
        # the database thread for every query). On PostgreSQL each process names its
        # sessions (pg_stat_activity), so an operator sees which recorder holds which
        # connection.
        postgresql = make_url(url).get_backend_name() == "postgresql"
        connect_args = {"application_name": f"openminutes[{os.getpid()}]"} \
            if postgresql else {}
        engine = create_async_engine(async_url(url), pool_pre_ping=postgresql,
                                     connect_args=connect_args)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas(durable, scrub))
        try:
            async with _migration_lock(engine), engine.begin() as conn:
                await conn.run_sync(_upgrade)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    async def close(self) -> None:
        if self.engine.dialect.name == "sqlite":
            with contextlib.suppress(Exception):  # advice only; never fails a shutdown
                async with self.engine.begin() as conn:
                    await conn.exec_driver_sql("PRAGMA optimize")
        await self.engine.dispose()

    def hold_single_recorder(self) -> BinaryIO | None:
        """SQLite keeps one recorder: a lock on a file beside the database, held while the
        returned handle is open; InUseError when another `run` holds it. None on
        PostgreSQL, where recorders form a group (runtime/group.py)."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        return _try_lock(Path(f"{database}.run-lock"))

    def changes(self) -> AsyncIterator[int | None]:
        """Yields whenever lines were stored, by any process (storage/changes.py)."""
        return changes(self.engine.url.render_as_string(hide_password=False))

    async def ping(self) -> None:
        """Raises when the database cannot be reached (for /healthz)."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def analyze(self) -> None:
        """After bulk changes (imports, copies): refresh the planner's statistics. On SQLite
        also merge the full-text indexes' segments, which a bulk import leaves in the
        hundreds (searching 10 million lines took half the time afterwards); on PostgreSQL
        VACUUM, which also merges the GIN indexes' pending lists into them and marks the
        pages all-visible (bench/RESULTS.md: searches 30 times slower without it)."""
        if self.engine.dialect.name == "postgresql":
            await self._vacuum("VACUUM (ANALYZE)")
            return
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            await _merge_fts(conn)
            await conn.exec_driver_sql("ANALYZE")

    async def _vacuum(self, statement: str) -> None:
        async with self.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(statement)

    @retryable
    async def write_lines(self, batch: Sequence[tuple[MeetingRef, Line]],
                          state: Sequence[tuple[str, str, str]] = (),
                          fence: Fence | None = None) -> Written:
        """Commit lines in one transaction, creating meetings on their first line (a ref
        without an id; lines under equal refs go to the one meeting created for them).

        A line whose event id the meeting already has is skipped (False), so a
        replayed bouncer buffer or a re-sent event is stored once. `state` (network, key,
        value) is committed in the same transaction: a Matrix sync token never gets ahead
        of the lines it covers. A redaction blanks the removed line and its edits here.
        This is the hot path of the bot, so it uses a Core connection, not an ORM session.
        `fence`: in a recorder group, the leases the rooms' lines need (FencedError when
        another process has taken one over; nothing is written).
        """
        async with self.engine.begin() as conn:
            if fence is not None:
                await check_fence(conn, fence, {(ref.network, ref.channel.lower())
                                                for ref, _ in batch})
            created: dict[MeetingRef, int] = {}
            for ref, _ in batch:
                if ref.id is None and ref not in created:
                    result = await conn.execute(
                        insert(_MEETINGS).returning(_MEETINGS.c.id),
                        {"network": ref.network, "channel": ref.channel,
                         "started_at": ref.started_at, "name": "", "title": "", "founder": ""},
                    )
                    created[ref] = result.scalar_one()
            batch = [(ref if ref.id is not None else replace(ref, id=created[ref]), line)
                     for ref, line in batch]
            seen = await self._known_event_ids(conn, batch)
            inserted: list[bool] = []
            rows: list[dict[str, Any]] = []
            for ref, line in batch:
                key = (ref.id, line.event_id)
                if line.event_id is not None and key in seen:
                    inserted.append(False)
                    continue
                seen.add(key)
                inserted.append(True)
                rows.append(_line_row(ref.id, line, scope_of(ref.name, ref.channel)))
            if rows:
                await conn.execute(insert(_LINES), rows)
                await _notify(conn, {r["meeting_id"] for r in rows})
            for ref, line in batch:
                if line.kind is LineKind.REDACTION and line.relates_to:
                    await self._blank(conn, ref.id, line.relates_to)
            for network, name, value in state:
                await self._put_state(conn, network, name, value)
        return Written(inserted, created)

    @staticmethod
    async def _blank(conn: AsyncConnection, meeting_id: int | None, event_id: str) -> None:
        """Remove a redacted message's words (every line of it, and its edits) for good."""
        parts = _event_parts(event_id)
        ids = select(_LINES.c.event_id).where(_LINES.c.meeting_id == meeting_id, parts)
        await conn.execute(
            update(_LINES)
            .where(_LINES.c.meeting_id == meeting_id, parts | _LINES.c.relates_to.in_(ids))
            .values(text="")
        )

    @staticmethod
    async def _put_state(conn: AsyncConnection, network: str, key: str, value: str) -> None:
        where = (_STATE.c.network == network, _STATE.c.key == key)
        changed = await conn.execute(update(_STATE).where(*where).values(value=value))
        if changed.rowcount == 0:
            await conn.execute(insert(_STATE).values(network=network, key=key, value=value))

    @retryable
    async def put_state(self, network: str, key: str, value: str) -> None:
        async with self.engine.begin() as conn:
            await self._put_state(conn, network, key, value)

    async def state(self, network: str) -> dict[str, str]:
        """Everything an adapter kept for a network (sync token, access token ...)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(_STATE.c.key, _STATE.c.value).where(_STATE.c.network == network))).all()
        return {row.key: row.value for row in rows}

    async def meeting_of_event(self, network: str, channel: str, event_id: str) -> int | None:
        """The meeting in a room that recorded an event (an edit's or redaction's target)."""
        query = (select(_LINES.c.meeting_id)
                 .join(_MEETINGS, _MEETINGS.c.id == _LINES.c.meeting_id)
                 .where(_LINES.c.event_id == event_id, _MEETINGS.c.network == network,
                        func.lower(_MEETINGS.c.channel) == channel.lower())
                 .limit(1))
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        return None if found is None else int(found)

    @staticmethod
    async def _known_event_ids(
        conn: AsyncConnection, batch: Sequence[tuple[MeetingRef, Line]]
    ) -> set[tuple[int | None, str | None]]:
        wanted = {(ref.id, line.event_id) for ref, line in batch if line.event_id is not None}
        if not wanted:
            return set()
        ids = {m for m, _ in wanted}
        events = [e for _, e in wanted]
        found: set[tuple[int | None, str | None]] = set()
        for chunk in range(0, len(events), 500):
            result = await conn.execute(
                select(_LINES.c.meeting_id, _LINES.c.event_id).where(
                    _LINES.c.meeting_id.in_(ids), _LINES.c.event_id.in_(events[chunk:chunk + 500])
                )
            )
            found.update((m, e) for m, e in result.all())
        return found

    async def open_meetings(self, network: str | None = None) -> list[MeetingRecord]:
        query = select(MeetingRow).where(MeetingRow.ended_at.is_(None))
        if network is not None:
            query = query.where(MeetingRow.network == network)
        async with self._session() as session:
            rows = (await session.scalars(query.order_by(MeetingRow.id))).all()
        return [_record(r) for r in rows]

    async def meeting(self, meeting_id: int) -> MeetingRecord | None:
        async with self._session() as session:
            row = await session.get(MeetingRow, meeting_id)
        return None if row is None else _record(row)

    async def lines(self, meeting_id: int, *, after: int = 0, upto: int | None = None,
                    limit: int | None = None) -> list[Line]:
        """A meeting's lines in order, from the one after seq `after` (to seq `upto`)."""
        query = (select(*_LINE_COLUMNS)
                 .where(_LINES.c.meeting_id == meeting_id, _LINES.c.seq > after)
                 .order_by(_LINES.c.seq).limit(limit))
        if upto is not None:
            query = query.where(_LINES.c.seq <= upto)
        return await self._fetch_lines(query)

    async def _fetch_lines(self, query: Any) -> list[Line]:
        async with self.engine.connect() as conn:
            return [_line(row) for row in (await conn.execute(query)).all()]

    async def iter_lines(self, meeting_id: int, *, after: int = 0, upto: int | None = None,
                         chunk: int = LINE_CHUNK) -> AsyncIterator[list[Line]]:
        """A meeting's lines, `chunk` at a time, so no caller holds a whole long log."""
        while True:
            lines = await self.lines(meeting_id, after=after, upto=upto, limit=chunk)
            if not lines:
                return
            yield lines
            after = lines[-1].seq

    async def room_tail(self, network: str, channel: str, since: datetime) -> list[Line]:
        """The lines stored in a room since a time, across its meetings, in order: what
        a recorder taking the room over aligns what it heard with."""
        query = (select(*_LINE_COLUMNS)
                 .join(_MEETINGS, _MEETINGS.c.id == _LINES.c.meeting_id)
                 .where(_MEETINGS.c.network == network,
                        func.lower(_MEETINGS.c.channel) == channel.lower(),
                        or_(_MEETINGS.c.ended_at.is_(None), _MEETINGS.c.ended_at >= since),
                        _LINES.c.time >= since)
                 .order_by(_LINES.c.meeting_id, _LINES.c.seq))
        return await self._fetch_lines(query)

    async def last_line(self, meeting_id: int) -> Line | None:
        found = await self._fetch_lines(
            select(*_LINE_COLUMNS).where(_LINES.c.meeting_id == meeting_id)
            .order_by(_LINES.c.seq.desc()).limit(1))
        return found[0] if found else None

    async def event_lines(self, meeting_id: int, event_id: str) -> list[Line]:
        """The lines of one message (several when it had several lines; see part_id)."""
        query = (select(*_LINE_COLUMNS)
                 .where(_LINES.c.meeting_id == meeting_id, _event_parts(event_id))
                 .order_by(_LINES.c.seq))
        return await self._fetch_lines(query)

    async def corrected_events(self, meeting_id: int) -> frozenset[str]:
        """The events of a meeting that later lines of it edit or remove."""
        query = select(_LINES.c.relates_to).distinct().where(
            _LINES.c.meeting_id == meeting_id, _LINES.c.relates_to.is_not(None))
        async with self.engine.connect() as conn:
            return frozenset((await conn.execute(query)).scalars().all())

    async def published(
        self,
        *,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        with_open: bool = False,
    ) -> list[MeetingRecord]:
        """Ended, published meetings, newest first: of a series, a period, or the latest
        (`with_open`: and the meetings open now)."""
        query = (select(_MEETINGS).where(_published(with_open))
                 .order_by(_MEETINGS.c.started_at.desc(), _MEETINGS.c.id.desc()))
        if name is not None:
            query = query.where(_MEETINGS.c.name == name)
        if since is not None:
            query = query.where(_MEETINGS.c.started_at >= since)
        if until is not None:
            query = query.where(_MEETINGS.c.started_at < until)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [MeetingRecord(r.id, r.network, r.channel, r.name, r.title, r.founder,
                              r.started_at, r.ended_at, r.stem) for r in rows]

    async def years(self) -> list[int]:
        """Years with published meetings, newest first. One indexed probe per year between
        the first and the last, instead of reading every meeting."""
        started = _MEETINGS.c.started_at
        async with self.engine.connect() as conn:
            # Two ordered probes: min() and max() together would read every row.
            ends = [(await conn.execute(select(started).where(*_PUBLISHED)
                                        .order_by(order).limit(1))).scalar()
                    for order in (started.asc(), started.desc())]
            first, last = ends
            if first is None or last is None:
                return []
            probes = [
                select(literal(year).label("year")).where(exists(
                    select(_MEETINGS.c.id).where(*_PUBLISHED, *_in_year(started, year))))
                for year in range(last.year, first.year - 1, -1)
            ]
            found = (await conn.execute(union_all(*probes))).scalars().all()
            return sorted((int(year) for year in found), reverse=True)

    async def published_per_month(self, year: int) -> list[tuple[int, int]]:
        """(month, number of published meetings) of a year, newest month first."""
        started = _MEETINGS.c.started_at
        month = extract("month", started)
        query = (select(month, func.count()).where(*_PUBLISHED, *_in_year(started, year))
                 .group_by(month).order_by(month.desc()))
        async with self.engine.connect() as conn:
            return [(int(m), int(n)) for m, n in (await conn.execute(query)).all()]

    async def count_published(self, name: str | None = None, *,
                              with_open: bool = False) -> int:
        query = select(func.count()).select_from(_MEETINGS).where(_published(with_open))
        if name is not None:
            query = query.where(_MEETINGS.c.name == name)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def series(self) -> list[SeriesRecord]:
        """Every meeting name with its number of published meetings, first and last."""
        started = _MEETINGS.c.started_at
        query = (select(_MEETINGS.c.name, func.count(),
                        func.min(started, type_=UTCDateTime), func.max(started, type_=UTCDateTime))
                 .where(*_PUBLISHED)
                 .group_by(_MEETINGS.c.name).order_by(_MEETINGS.c.name))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [SeriesRecord(r[0], r[1], r[2], r[3]) for r in rows]

    async def search(self, query: str, filters: Filters | None = None, *, limit: int = 20,
                     offset: int = 0) -> SearchPage:
        """Full-text search (see storage.search): hits, best first."""
        return await full_text_search(self.engine, query, filters or Filters(), limit=limit,
                                      offset=offset)

    async def count_lines(self, meeting_id: int) -> int:
        async with self._session() as session:
            count = await session.scalar(
                select(func.count()).select_from(LineRow).where(LineRow.meeting_id == meeting_id)
            )
            return int(count or 0)

    async def meetings(self) -> list[MeetingRecord]:
        async with self._session() as session:
            rows = await session.scalars(
                select(MeetingRow).order_by(MeetingRow.started_at, MeetingRow.id)
            )
            return [_record(r) for r in rows]

    async def save_meeting(self, meeting_id: int, derived: Derived) -> None:
        async with self.engine.begin() as conn:
            await _write_derived(conn, meeting_id, derived)

    @retryable
    async def end_meeting(self, meeting_id: int, derived: Derived) -> None:
        """The meeting ended: stored as ended, with its publishing still owed (see
        published_and_announced), before any file is written. Its items and search scope
        are stored by the publish that follows (save_meeting), which owes them anyway:
        the end is as quick as one row."""
        async with self.engine.begin() as conn:
            await _write_meeting_row(conn, meeting_id, derived, publish_pending=True)

    @retryable
    async def published_and_announced(self, meeting_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(_MEETINGS).where(_MEETINGS.c.id == meeting_id)
                               .values(publish_pending=False))

    async def pending_publish(self) -> list[MeetingRecord]:
        """Meetings that ended live and are not yet published and announced."""
        query = select(MeetingRow).where(MeetingRow.publish_pending.is_(True))
        async with self._session() as session:
            rows = (await session.scalars(query.order_by(MeetingRow.id))).all()
        return [_record(r) for r in rows]

    def _items_query(self, kinds: Iterable[str], channel: str | None, name: str | None,
                     since: datetime | None, until: datetime | None, meeting_id: int | None,
                     meeting_ids: Sequence[int] | None, owner: str | None = None) -> Any:
        query = (
            select(_MEETINGS, _ITEMS.c.kind, _ITEMS.c.text, _ITEMS.c.nick, _ITEMS.c.time,
                   _ITEMS.c.line, _ITEMS.c.owners)
            .join(_ITEMS, _ITEMS.c.meeting_id == _MEETINGS.c.id)
            .where(_kinds_condition(kinds))
        )
        if channel is not None:
            query = query.where(func.lower(_MEETINGS.c.channel) == channel.lower())
        if name is not None:
            query = query.where(_MEETINGS.c.name == name)
        if since is not None:
            query = query.where(_ITEMS.c.time >= since)
        if until is not None:
            query = query.where(_ITEMS.c.time < until)
        if meeting_id is not None:
            query = query.where(_MEETINGS.c.id == meeting_id)
        if meeting_ids is not None:
            query = query.where(_MEETINGS.c.id.in_(list(meeting_ids)))
        if owner is not None:
            # owners is a JSON list: match the quoted name, case-insensitively, literally.
            quoted = json.dumps(owner.lower(), ensure_ascii=False)
            literal = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(_ITEMS.c.owners).like(f"%{literal}%", escape="\\"))
        if meeting_id is not None or meeting_ids is not None or name is not None:
            # A few meetings' items, or a series': SQLite would otherwise walk every item of
            # the kind in time order (a series' decisions of a year: 25,000 items at
            # OpenStack scale, instead of its 500 meetings' own).
            query = query.with_hint(_ITEMS, "INDEXED BY ix_items_meeting", "sqlite")
        return query

    async def items(
        self,
        kinds: Iterable[str],
        *,
        channel: str | None = None,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        meeting_id: int | None = None,
        meeting_ids: Sequence[int] | None = None,
        owner: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ItemRecord]:
        """Items of the given kinds across meetings, newest first; `owner`: action items
        that name this nick."""
        query = self._items_query(kinds, channel, name, since, until, meeting_id, meeting_ids,
                                  owner)
        query = query.order_by(_ITEMS.c.time.desc(), _ITEMS.c.id.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ItemRecord(
                MeetingRecord(r.id, r.network, r.channel, r.name, r.title, r.founder,
                              r.started_at, r.ended_at, r.stem),
                r.kind, r.text, r.nick, r.time, r.line, tuple(json.loads(r.owners)),
            )
            for r in rows
        ]

    async def count_items(self, kinds: Iterable[str], *, channel: str | None = None,
                          name: str | None = None, since: datetime | None = None,
                          until: datetime | None = None, owner: str | None = None) -> int:
        query = self._items_query(kinds, channel, name, since, until, None, None, owner)
        async with self.engine.connect() as conn:
            return int((await conn.execute(
                select(func.count()).select_from(query.subquery()))).scalar_one())

    async def items_per_year(self, kinds: Iterable[str], *, name: str) -> list[tuple[int, int]]:
        """(year, number of items) of a series' items of these kinds, newest year first."""
        subquery = self._items_query(kinds, None, name, None, None, None, None).subquery()
        year = extract("year", subquery.c.time)
        query = select(year, func.count()).group_by(year).order_by(year.desc())
        async with self.engine.connect() as conn:
            return [(int(y), int(n)) for y, n in (await conn.execute(query)).all()]

    async def previous_meeting(self, name: str, before: datetime,
                               exclude: int) -> MeetingRecord | None:
        """The latest ended meeting of a series that started before `before`."""
        async with self._session() as session:
            row = await session.scalar(
                select(MeetingRow)
                .where(MeetingRow.name == name, MeetingRow.ended_at.is_not(None),
                       MeetingRow.started_at < before, MeetingRow.id != exclude)
                .order_by(MeetingRow.started_at.desc(), MeetingRow.id.desc())
                .limit(1)
            )
        return None if row is None else _record(row)

    async def neighbours(self, name: str, started_at: datetime, meeting_id: int
                         ) -> tuple[MeetingRecord | None, MeetingRecord | None]:
        """The published meetings of a series just before and just after one (by start,
        then id): what its pages link to as previous and next."""
        published = (MeetingRow.name == name, MeetingRow.ended_at.is_not(None),
                     MeetingRow.stem.is_not(None), MeetingRow.id != meeting_id)
        earlier = (MeetingRow.started_at < started_at) | (
            (MeetingRow.started_at == started_at) & (MeetingRow.id < meeting_id))
        later = (MeetingRow.started_at > started_at) | (
            (MeetingRow.started_at == started_at) & (MeetingRow.id > meeting_id))
        async with self._session() as session:
            before = await session.scalar(
                select(MeetingRow).where(*published, earlier)
                .order_by(MeetingRow.started_at.desc(), MeetingRow.id.desc()).limit(1))
            after = await session.scalar(
                select(MeetingRow).where(*published, later)
                .order_by(MeetingRow.started_at, MeetingRow.id).limit(1))
        return (None if before is None else _record(before),
                None if after is None else _record(after))

    async def claim_stem(self, meeting_id: int, candidates: Iterable[str]) -> str:
        """Give a meeting its output path for good: its own if it has one, else the first free."""
        async with self._session() as session:
            current = await session.scalar(
                select(MeetingRow.stem).where(MeetingRow.id == meeting_id)
            )
        if current:
            return current
        for stem in candidates:
            try:
                async with self._session.begin() as session:
                    await session.execute(
                        update(MeetingRow).where(MeetingRow.id == meeting_id).values(stem=stem)
                    )
            except IntegrityError:
                continue
            return stem
        raise RuntimeError(f"no free output path for meeting {meeting_id}")

    async def reclaim_stem(self, meeting_id: int, candidates: Iterable[str]) -> str:
        """Give up the meeting's output path (it was renamed) and claim a new one."""
        async with self._session.begin() as session:
            await session.execute(
                update(MeetingRow).where(MeetingRow.id == meeting_id).values(stem=None)
            )
        return await self.claim_stem(meeting_id, candidates)

    async def sources(self, paths: Sequence[str]) -> dict[str, tuple[str, list[int]]]:
        """(digest, meeting ids) of the files among `paths` imported before."""
        found: dict[str, tuple[str, list[int]]] = {}
        async with self.engine.connect() as conn:
            for chunk in range(0, len(paths), 500):
                rows = await conn.execute(
                    select(_SOURCES.c.path, _SOURCES.c.digest, _SOURCES.c.meeting_ids)
                    .where(_SOURCES.c.path.in_(paths[chunk:chunk + 500])))
                found.update((r.path, (r.digest, list(json.loads(r.meeting_ids))))
                             for r in rows)
        return found

    async def source(self, path: str) -> tuple[str, list[int]] | None:
        return (await self.sources([path])).get(path)

    async def replace_imported(
        self, files: Sequence[ImportedFile],
    ) -> list[list[int]]:
        """In one transaction: forget what earlier imports of these files made, store their
        meetings, lines and what replay derived, and remember the files. Returns the new
        meetings' ids, file by file. Every meeting is whole or absent, never half-stored."""
        async with self.engine.begin() as conn:
            paths = [f.path for f in files]
            stale: list[int] = []
            for chunk in range(0, len(paths), 500):
                rows = await conn.execute(select(_SOURCES.c.meeting_ids)
                                          .where(_SOURCES.c.path.in_(paths[chunk:chunk + 500])))
                stale.extend(i for r in rows for i in json.loads(r.meeting_ids))
            for chunk in range(0, len(stale), 500):
                gone = stale[chunk:chunk + 500]
                await conn.execute(delete(_ITEMS).where(_ITEMS.c.meeting_id.in_(gone)))
                await conn.execute(delete(_LINES).where(_LINES.c.meeting_id.in_(gone)))
                await conn.execute(delete(_MEETINGS).where(_MEETINGS.c.id.in_(gone)))
            for chunk in range(0, len(paths), 500):
                await conn.execute(delete(_SOURCES).where(
                    _SOURCES.c.path.in_(paths[chunk:chunk + 500])))
            meetings = [m for f in files for m in f.meetings]
            ids: list[int] = []
            if meetings:
                result = await conn.execute(
                    insert(_MEETINGS).returning(_MEETINGS.c.id, sort_by_parameter_order=True),
                    [{"network": ref.network, "channel": ref.channel,
                      "started_at": ref.started_at, "name": d.name, "title": d.title,
                      "founder": d.founder, "ended_at": d.ended_at, "series": d.series}
                     for ref, _, d in meetings],
                )
                ids = list(result.scalars().all())
                lines = [_line_row(new_id, ln, scope_of(d.name, ref.channel))
                         for (ref, lns, d), new_id in zip(meetings, ids, strict=True)
                         for ln in lns]
                if lines:
                    await conn.execute(insert(_LINES), lines)
                items = [row for (ref, _, d), new_id in zip(meetings, ids, strict=True)
                         for row in _item_rows(new_id, d, scope_of(d.name, ref.channel))]
                if items:
                    await conn.execute(insert(_ITEMS), items)
            per_file: list[list[int]] = []
            for f in files:
                per_file.append(ids[:len(f.meetings)])
                ids = ids[len(f.meetings):]
            await conn.execute(insert(_SOURCES), [
                {"path": f.path, "digest": f.digest, "meeting_ids": json.dumps(file_ids)}
                for f, file_ids in zip(files, per_file, strict=True)
            ])
        return per_file

    async def amendments(self, meeting_id: int | None = None, *, name: str | None = None,
                         limit: int | None = None) -> list[AmendmentRecord]:
        """Amendments in the order they were made (of one meeting, of a series, or all);
        with `limit`, the newest that many."""
        query = (select(_AMENDMENTS, MeetingRow)
                 .join(MeetingRow, MeetingRow.id == _AMENDMENTS.c.meeting_id)
                 .order_by(_AMENDMENTS.c.id.desc()).limit(limit))
        if meeting_id is not None:
            query = query.where(_AMENDMENTS.c.meeting_id == meeting_id)
        if name is not None:
            query = query.where(MeetingRow.name == name)
        async with self._session() as session:
            rows = (await session.execute(query)).all()
        return [AmendmentRecord(_record(row.MeetingRow), _amendment(row))
                for row in reversed(rows)]

    @retryable
    async def add_amendment(self, meeting_id: int, amendment: Amendment) -> int:
        """Store an amendment; a redaction blanks its line (to `amendment.text`: the
        command word of a line that started or ended the meeting) and the line's edits in
        the same transaction. Returns its id."""
        async with self.engine.begin() as conn:
            if amendment.action is Action.REDACT:
                event_id = (await conn.execute(select(_LINES.c.event_id).where(
                    _LINES.c.meeting_id == meeting_id, _LINES.c.seq == amendment.line)
                )).scalar_one_or_none()
                edits = (_LINES.c.relates_to == event_id.split("|", 1)[0]) \
                    if event_id else literal(False)
                await conn.execute(update(_LINES).where(
                    _LINES.c.meeting_id == meeting_id, edits).values(text=""))
                await conn.execute(update(_LINES).where(  # all but the command it kept
                    _LINES.c.meeting_id == meeting_id, _LINES.c.seq == amendment.line
                ).values(text=amendment.text))
            result = await conn.execute(insert(_AMENDMENTS).returning(_AMENDMENTS.c.id), {
                "meeting_id": meeting_id, "action": str(amendment.action),
                "line": amendment.line, "kind": amendment.kind, "text": amendment.text,
                "owners": json.dumps(list(amendment.owners), ensure_ascii=False),
                "by": amendment.by, "at": amendment.at, "reason": amendment.reason,
                "digest": amendment.digest, "change": amendment.change})
            return int(result.scalar_one())

    async def purge(self) -> None:
        """After a redaction: no copy of removed text stays anywhere in the database.
        SQLite: the full-text indexes are merged (a deleted row's words stay in older
        segments until then) with secure_delete on, and the WAL is checkpointed and
        emptied. PostgreSQL: VACUUM drops the old row versions and their index entries
        (the bytes of dead rows stay in free space until reused; `VACUUM FULL` rewrites
        the tables)."""
        if self.engine.dialect.name == "postgresql":
            await self._vacuum("VACUUM lines, items, amendments")
            return
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA secure_delete=ON")
            await _merge_fts(conn)
            await conn.commit()
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
