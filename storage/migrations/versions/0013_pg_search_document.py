"""PostgreSQL: a stored search document per line and item, with the filters inside it

Until now PostgreSQL searched an expression index on to_tsvector('simple', text): every
candidate row had its text parsed again to check and rank it, and the series, channel and
person filters were joins checked match by match. Each line and item now stores
`search`, generated from its text and, as upper-case lexemes, its scope and person tokens
(storage.search.scope_of, person_token) and the block of ids it is in (B<id >> 14>). A
query's words are folded to lower case, so they never match one of these; a filter is one
more lexeme in the tsquery, intersected inside the GIN index as FTS5 does on SQLite, and
the blocks let a search look for the newest matches a window at a time
(storage.search._pg_candidates). On both stores, items gain an index by meeting and line,
which a search asks of every matching log line (whether it made an item).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lines", "items")
# BLOCK_BITS of storage.search: the block of ids a row is in, as the token B<n>.
DOCUMENT = ("to_tsvector('simple', text) "
            "|| upper(scope || ' ' || who || ' b' || (id >> 14)::text)::tsvector")


def upgrade() -> None:
    # Both stores: a search asks of each matching log line whether it made an item.
    op.create_index("ix_items_line", "items", ["meeting_id", "line"])
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
        op.execute(f"ALTER TABLE {table} ADD COLUMN search tsvector "
                   f"GENERATED ALWAYS AS ({DOCUMENT}) STORED")
        # fastupdate: new rows gather in a pending list that is merged in bulk (by the
        # insert that fills it, by VACUUM, or after an import); see Storage.analyze.
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search) "
                   "WITH (fastupdate = on)")


def downgrade() -> None:
    op.drop_index("ix_items_line", "items")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
        op.execute(f"ALTER TABLE {table} DROP COLUMN search")
        op.execute(f"CREATE INDEX ix_{table}_fts ON {table} "
                   "USING gin (to_tsvector('simple', text))")
