"""full-text search over log lines and minutes items

SQLite: FTS5 indexes whose content is the lines and items tables themselves, kept current
by triggers. PostgreSQL: GIN indexes on to_tsvector('simple', text).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lines", "items")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            fts = f"{table}_fts"
            op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5(text, content='{table}', "
                       "content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
            op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
                       f"INSERT INTO {fts}(rowid, text) VALUES (new.id, new.text); END")
            op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
                       f"INSERT INTO {fts}({fts}, rowid, text) VALUES('delete', old.id, old.text); "
                       "END")
            op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF text ON {table} BEGIN "
                       f"INSERT INTO {fts}({fts}, rowid, text) VALUES('delete', old.id, old.text); "
                       f"INSERT INTO {fts}(rowid, text) VALUES (new.id, new.text); END")
            op.execute(f"INSERT INTO {fts}({fts}) VALUES('rebuild')")
        else:
            op.execute(f"CREATE INDEX ix_{table}_fts ON {table} "
                       "USING gin (to_tsvector('simple', text))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
