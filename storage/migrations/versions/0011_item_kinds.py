"""items: any kind a plugin declares (64 characters), and whether it is a decision

Item kinds are data declared by plugins, so storage no longer knows their names: an item
says itself whether it is a decision. Items stored before are the bundled kinds, whose
decisions were agreed, accepted, rejected and vote results.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECISION = sa.text("decision")


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR's length (and altering it would rebuild the table
    # and lose its search triggers): only PostgreSQL needs the wider column.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("items", "kind", type_=sa.String(64), existing_type=sa.String(16))
    op.add_column("items", sa.Column("decision", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.execute("UPDATE items SET decision = TRUE "
               "WHERE kind IN ('agreed', 'accepted', 'rejected', 'vote')")
    op.create_index("ix_items_decisions", "items", ["time"], sqlite_where=DECISION,
                    postgresql_where=DECISION)


def downgrade() -> None:
    op.drop_index("ix_items_decisions", "items")
    op.drop_column("items", "decision")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("items", "kind", type_=sa.String(16), existing_type=sa.String(64))
