"""PostgreSQL: the newest line and item of each meeting, found in its index

A search filtered by series or channel looks for its newest matches from the newest id
of the rows in that scope, not of the whole table (storage.search._pg_candidates): in an
archive where a series' meetings ended years ago, the windows of blocks between the
newest rows and that series found nothing and cost as much as the rest of the search
(bench/RESULTS.md). With an index by meeting and id, the newest id of each of the
scope's meetings is one descent. SQLite's FTS5 walks its matches newest first and needs
none.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lines", "items")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.create_index(f"ix_{table}_meeting_id", table, ["meeting_id", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.drop_index(f"ix_{table}_meeting_id", table)
