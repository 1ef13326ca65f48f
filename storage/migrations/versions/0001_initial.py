"""meetings, lines and items

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from openminutes.storage.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("network", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("founder", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("stem", sa.String(400), nullable=True, unique=True),
    )
    op.create_index("ix_meetings_open", "meetings", ["network", "channel", "ended_at"])
    op.create_table(
        "lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "meeting_id", sa.Integer(), sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("nick", sa.String(200), nullable=False),
        sa.Column("identity", sa.String(300), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("own", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(300), nullable=True),
        sa.UniqueConstraint("meeting_id", "seq", name="uq_lines_meeting_seq"),
        sa.UniqueConstraint("meeting_id", "event_id", name="uq_lines_meeting_event"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "meeting_id", sa.Integer(), sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("nick", sa.String(200), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
    )
    op.create_index("ix_items_meeting", "items", ["meeting_id", "position"])


def downgrade() -> None:
    op.drop_table("items")
    op.drop_table("lines")
    op.drop_table("meetings")
