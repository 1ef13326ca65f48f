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

from openminutes.storage.migrations.fts import create_fts, drop_fts
from openminutes.storage.search import scope_of

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lines", "items")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            drop_fts(table)  # rebuilt once below, not row by row while scopes are filled
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
            create_fts(table, "text, scope")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            drop_fts(table)
        op.drop_column(table, "scope")
        if sqlite:
            create_fts(table, "text")
