"""an index of published meetings by series and start

Partial (ended and given an output path) and covering: the archive's series list (names,
counts, first and last meeting) is read from this index alone, not from the meetings' rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED = sa.text("ended_at IS NOT NULL AND stem IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_meetings_published", "meetings",
                    ["name", "started_at", "ended_at", "stem"],
                    sqlite_where=PUBLISHED, postgresql_where=PUBLISHED)


def downgrade() -> None:
    op.drop_index("ix_meetings_published", "meetings")
