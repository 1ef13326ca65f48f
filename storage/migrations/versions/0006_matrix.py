"""Matrix: power-level chairs, edits and redactions, and per-network chat state

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch copy: on SQLite a copy would drop the full-text
    # search triggers that 0005 put on this table.
    op.add_column("lines", sa.Column("privileged", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("lines", sa.Column("relates_to", sa.String(300), nullable=True))
    # Edits and redactions find their line by event id, in ended meetings too. Partial:
    # most lines (IRC, imports) have none, and need not cost an index entry.
    op.create_index("ix_lines_event", "lines", ["event_id"],
                    sqlite_where=sa.text("event_id IS NOT NULL"),
                    postgresql_where=sa.text("event_id IS NOT NULL"))
    op.create_table(
        "chat_state",
        sa.Column("network", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_state")
    op.drop_index("ix_lines_event", "lines")
    op.drop_column("lines", "relates_to")
    op.drop_column("lines", "privileged")
