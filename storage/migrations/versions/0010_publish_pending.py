"""meetings.publish_pending: ended live, minutes not yet published and announced

A meeting is ended in the database before its files are written, so a publish that fails
(disk full, read-only) loses nothing and lets no later line join it; this flag says that
publishing and announcing it is still owed, across restarts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("publish_pending", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("publish_pending")
