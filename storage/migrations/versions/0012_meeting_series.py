"""meetings.series: the series an imported archive filed a meeting under

MeetBot archives name their files by series (`logs/oci/opencontainers.2016-04-13-17.01`)
and years of links point at those paths; an imported meeting keeps that name whatever its
#startmeeting says, through every later render. Empty for meetings recorded live.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("meetings", sa.Column("series", sa.String(200), nullable=False,
                                        server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("series")
