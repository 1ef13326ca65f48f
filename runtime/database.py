"""`openminutes db current|upgrade|copy`: the schema and the archive's database, for
operators (Alembic and the copy live in storage/)."""

from __future__ import annotations

import sys

from openminutes.runtime.config import Config
from openminutes.storage import Storage
from openminutes.storage.copy import CopyError, CopyReport, copy_archive
from openminutes.storage.schema import SchemaStatus, safe_url, schema_status


async def current(config: Config) -> SchemaStatus:
    return await schema_status(config.storage.url)


async def upgrade(config: Config) -> SchemaStatus:
    """Apply pending migrations (under the same lock `run` takes at start)."""
    storage = await Storage.open(config.storage.url)
    await storage.close()
    return await schema_status(config.storage.url)


async def copy(config: Config, to_url: str, *, show_progress: bool) -> CopyReport:
    def progress(table: str, rows: int) -> None:
        if show_progress:
            sys.stderr.write(f"\rcopying {table}: {rows:,} rows ")
            sys.stderr.flush()

    source = await Storage.open(config.storage.url)
    try:
        target = await Storage.open(to_url)
    except BaseException:
        await source.close()
        raise
    try:
        report = await copy_archive(source, target, safe_url(config.storage.url), progress)
    finally:
        await source.close()
        await target.close()
        if show_progress:
            sys.stderr.write("\n")
    return report


__all__ = ["CopyError", "copy", "current", "upgrade"]
