"""action owners on items, and an index for the decision register

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        # JSON list of the nicks an action item names; empty for other kinds.
        batch.add_column(sa.Column("owners", sa.Text(), nullable=False, server_default="[]"))
    op.create_index("ix_items_kind_time", "items", ["kind", "time"])


def downgrade() -> None:
    op.drop_index("ix_items_kind_time", "items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("owners")
