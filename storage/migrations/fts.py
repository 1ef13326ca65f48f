"""SQLite FTS5 indexes of lines and items, as migrations create and drop them."""

from __future__ import annotations

from alembic import op


def create_fts(table: str, columns: str) -> None:
    """(Re)create a table's external-content FTS5 index and the triggers that keep it,
    then index what the table holds."""
    fts = f"{table}_fts"
    cols = columns.split(", ")
    new = ", ".join(f"new.{c}" for c in cols)
    old = ", ".join(f"old.{c}" for c in cols)
    op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({columns}, content='{table}', "
               "content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
               f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.id, {new}); END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {columns}) VALUES('delete', old.id, {old}); "
               "END")
    op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {columns} ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {columns}) VALUES('delete', old.id, {old}); "
               f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.id, {new}); END")
    op.execute(f"INSERT INTO {fts}({fts}) VALUES('rebuild')")


def drop_fts(table: str) -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {table}_fts")
