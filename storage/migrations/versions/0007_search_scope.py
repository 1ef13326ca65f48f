"""series and channel scope tokens in the full-text index

Every line and item gets `scope` (storage.search.scope_of: digests of its meeting's name
and channel). On SQLite the FTS5 tables index it beside the text, so a series or channel
filter is intersected inside the index; PostgreSQL keeps the column for symmetry.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.search import scope_of

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lines", "items")


def _fts(table: str, columns: str) -> None:
    """(Re)create a table's external-content FTS5 index and the triggers that keep it."""
    fts = f"{table}_fts"
    cols = columns.split(", ")
    new = ", ".join(f"new.{c}" for c in cols)
    old = ", ".join(f"old.{c}" for c in cols)
    op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({columns}, content='{table}', "
               "content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
               f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.id, {new}); END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {columns}) VALUES('delete', old.id, {old}); "
               "END")
    op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {columns} ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {columns}) VALUES('delete', old.id, {old}); "
               f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.id, {new}); END")
    op.execute(f"INSERT INTO {fts}({fts}) VALUES('rebuild')")


def _drop_fts(table: str) -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {table}_fts")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            _drop_fts(table)  # rebuilt once below, not row by row while scopes are filled
        op.add_column(table, sa.Column("scope", sa.String(64), nullable=False,
                                       server_default=""))
    bind = op.get_bind()
    meetings = bind.execute(sa.text("SELECT id, name, channel FROM meetings")).all()
    for meeting_id, name, channel in meetings:
        for table in TABLES:
            bind.execute(sa.text(f"UPDATE {table} SET scope = :scope WHERE meeting_id = :id"),
                         {"scope": scope_of(name, channel), "id": meeting_id})
    if sqlite:
        for table in TABLES:
            _fts(table, "text, scope")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            _drop_fts(table)
        op.drop_column(table, "scope")
        if sqlite:
            _fts(table, "text")
