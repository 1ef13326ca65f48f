"""Where a database's schema stands against the migrations this version ships, read
without changing anything (`openminutes check`, `openminutes db current`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from openminutes.storage.repository import _STATE, alembic_config, async_url


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: str | None  # None: an empty database
    head: str  # the newest migration this version ships
    pending: int  # migrations `run` or `db upgrade` would apply

    def describe(self) -> str:
        if self.pending == 0:
            return f"schema {self.current} (up to date)"
        at = f"schema {self.current}" if self.current else "no schema yet"
        return (f"{at}, {self.pending} migration{'s' if self.pending > 1 else ''} pending "
                f"(to {self.head}; `openminutes db upgrade` applies them)")


def _read(connection: Connection) -> SchemaStatus:
    from alembic.runtime.migration import MigrationContext  # only where asked: memory
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    current = MigrationContext.configure(connection).get_current_revision()
    pending = len(list(script.iterate_revisions(head, current))) if current != head else 0
    return SchemaStatus(current, head, pending)


async def schema_status(url: str) -> SchemaStatus:
    """The schema of the database at `url`; raises what the driver raises when it cannot
    be reached."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_read)
    finally:
        await engine.dispose()


def safe_url(url: str) -> str:
    """A database URL fit for a message or a log: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"


def new_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL that does not exist yet (`run` would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database \
            or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


async def read_state(url: str, network: str) -> dict[str, str]:
    """An adapter's kept state (a Matrix access token), read without migrating anything;
    empty where there is none yet."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            def read(sync: Connection) -> dict[str, str]:
                if not inspect(sync).has_table(_STATE.name):
                    return {}
                rows = sync.execute(select(_STATE.c.key, _STATE.c.value)
                                    .where(_STATE.c.network == network))
                return {str(k): str(v) for k, v in rows}
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def url_password(url: str) -> str:
    """The password in a database URL ("" when there is none), for masking in logs."""
    try:
        return make_url(url).password or ""
    except Exception:
        return ""
