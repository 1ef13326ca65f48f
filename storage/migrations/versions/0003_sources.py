"""imported files, so importing the same file twice changes nothing

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(1000), nullable=False, unique=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("meeting_ids", sa.Text(), nullable=False),  # JSON list
    )


def downgrade() -> None:
    op.drop_table("sources")
