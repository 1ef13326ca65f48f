"""`openminutes db copy --to URL`: a whole archive from one database to another (SQLite
to PostgreSQL, say), ids kept, so that the copy renders the same files. It fills an
empty target only; interrupted, it resumes where it stopped (a marker in the target
says which source it is being filled from); at the end it compares the row counts and a
checksum of every meeting's lines on both sides."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from openminutes.storage.repository import (
    _AMENDMENTS,
    _ITEMS,
    _LINES,
    _MEETINGS,
    _SOURCES,
    _STATE,
    Storage,
)

# Tables with an integer id, in the order their foreign keys need; copied by id ranges.
_BY_ID = (_MEETINGS, _LINES, _ITEMS, _SOURCES, _AMENDMENTS)
_CHUNK = 5000
_MARKER = ("openminutes", "db-copy-from")  # (network, key) of the target's chat_state row


class CopyError(Exception):
    """The copy cannot start or did not verify; the message says why."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the target
    meetings_verified: int = 0
    resumed: bool = False


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _max_id(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.max(table.c.id)))).scalar_one() or 0)


async def _marker(conn: AsyncConnection) -> str | None:
    value = (await conn.execute(select(_STATE.c.value).where(
        _STATE.c.network == _MARKER[0], _STATE.c.key == _MARKER[1]))).scalar_one_or_none()
    return None if value is None else str(value)


async def line_checksums(conn: AsyncConnection) -> dict[int, str]:
    """Per meeting, a SHA-256 of its lines in order, every stored column included."""
    digests: dict[int, Any] = {}
    columns = [c for c in _LINES.c if c.name != "id"]
    result = await conn.stream(select(*columns).order_by(_LINES.c.meeting_id, _LINES.c.seq))
    async for row in result:
        digest = digests.setdefault(row.meeting_id, hashlib.sha256())
        digest.update(repr(tuple(v.astimezone(UTC).isoformat() if isinstance(v, datetime)
                                 else v for v in row)).encode())
    return {meeting: d.hexdigest() for meeting, d in digests.items()}


async def copy_archive(source: Storage, target: Storage, source_name: str,
                       progress: Callable[[str, int], None] = lambda _t, _n: None
                       ) -> CopyReport:
    """Copy every row of `source` into `target` (both migrated to the same schema)."""
    report = CopyReport()
    async with target.engine.begin() as out:
        marker = await _marker(out)
        meetings, sources = await _count(out, _MEETINGS), await _count(out, _SOURCES)
        if marker is None and (meetings or sources):
            raise CopyError(f"the target already holds {meetings} meetings and {sources} "
                            "imported files; db copy fills an empty database only")
        if marker is not None and marker != source_name:
            raise CopyError(f"the target is half filled from another database ({marker})")
        report.resumed = marker is not None
        if marker is None:
            await out.execute(insert(_STATE), {"network": _MARKER[0], "key": _MARKER[1],
                                               "value": source_name})
    async with source.engine.connect() as src:
        for table in _BY_ID:
            async with target.engine.connect() as out:
                after = await _max_id(out, table)
            copied = 0
            while True:
                rows = (await src.execute(select(table).where(table.c.id > after)
                                          .order_by(table.c.id).limit(_CHUNK))).mappings().all()
                if not rows:
                    break
                async with target.engine.begin() as out:  # each chunk whole or not at all
                    await out.execute(insert(table), [dict(r) for r in rows])
                after = int(rows[-1]["id"])
                copied += len(rows)
                progress(table.name, copied)
        state = (await src.execute(select(_STATE))).mappings().all()
        async with target.engine.begin() as out:
            await out.execute(delete(_STATE))
            if state:
                await out.execute(insert(_STATE), [dict(r) for r in state])
            if target.engine.dialect.name == "postgresql":
                for table in _BY_ID:  # new rows continue after the copied ids
                    await out.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"GREATEST((SELECT MAX(id) FROM {table.name}), 1))"))
        await _verify(src, target, report)
    await target.analyze()
    return report


async def _verify(src: AsyncConnection, target: Storage, report: CopyReport) -> None:
    async with target.engine.connect() as out:
        for table in (*_BY_ID, _STATE):
            theirs, ours = await _count(src, table), await _count(out, table)
            if theirs != ours:
                raise CopyError(f"{table.name}: {theirs} rows in the source, {ours} in the "
                                "copy")
            report.rows[table.name] = ours
        expected, got = await line_checksums(src), await line_checksums(out)
    differing = sorted(m for m in expected.keys() | got.keys() if expected.get(m) != got.get(m))
    if differing:
        raise CopyError(f"the lines of meetings {differing[:10]} differ after the copy")
    report.meetings_verified = len(expected)
