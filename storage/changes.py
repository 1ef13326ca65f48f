"""Telling `serve` that lines were stored, across processes and hosts, without reading
the tables: PostgreSQL by LISTEN/NOTIFY (the recorder notifies in the transaction that
stores a batch), SQLite by `PRAGMA data_version` (a counter in the file header that moves
when another connection commits)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from urllib.parse import quote

from sqlalchemy.engine import make_url

CHANNEL = "openminutes_lines"  # the NOTIFY channel; the payload is the meeting id
SQLITE_CHECK_SECONDS = 0.1  # how often the SQLite file's change counter is read


async def changes(url: str) -> AsyncIterator[int | None]:
    """Yields when lines were stored: the meeting id (PostgreSQL) or None (SQLite: some
    meeting). Runs until cancelled; a lost connection raises (the caller retries)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        import psycopg  # PostgreSQL only: SQLite never loads it

        async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            async for note in conn.notifies():
                yield int(note.payload) if note.payload.isdigit() else None
        return
    path = parsed.database or ":memory:"
    db = await asyncio.to_thread(sqlite3.connect, f"file:{quote(path)}?mode=ro", uri=True,
                                 check_same_thread=False)
    try:
        seen = await asyncio.to_thread(_data_version, db)
        while True:
            await asyncio.sleep(SQLITE_CHECK_SECONDS)
            now = await asyncio.to_thread(_data_version, db)
            if now != seen:
                seen = now
                yield None
    finally:
        db.close()


def _data_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA data_version").fetchone()[0])
