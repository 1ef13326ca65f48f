"""The stores a benchmark runs against: `--storage sqlite` (the default) and/or
`--storage postgresql://USER@HOST:PORT/DATABASE`, given once or more, measured one after the
other in the same run so that their figures are printed side by side.

A PostgreSQL database named for a benchmark is dropped and created again before each use,
so name one that holds nothing else (`bench_archive`, say)."""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
from pathlib import Path

SQLITE = "sqlite"


def add_storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage", action="append", metavar="URL",
        help="'sqlite' (default) or a postgresql:// URL whose database the benchmark may "
             "drop and create; give it twice to measure both in one run")


def chosen(args: argparse.Namespace) -> list[str]:
    stores: list[str] = args.storage or [SQLITE]
    for store in stores:
        if store != SQLITE and not store.startswith(("postgresql://", "postgres://")):
            raise SystemExit(f"--storage {store!r}: 'sqlite' or a postgresql:// URL")
    return stores


def label(store: str) -> str:
    return "SQLite" if store == SQLITE else "PostgreSQL"


def fresh_url(store: str, work: Path, name: str = "bench.db") -> str:
    """A storage URL for an empty store: a new SQLite file in `work`, or the PostgreSQL
    database of `store`, dropped and created again."""
    if store == SQLITE:
        path = work / name
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    server, database = store.rsplit("/", 1)
    for sql in (f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
                f'CREATE DATABASE "{database}"'):
        subprocess.run(["psql", f"{server}/postgres", "-qc", sql], check=True,
                       capture_output=True)
    return store


def kept_url(store: str, work: Path, name: str = "bench.db") -> str:
    """The storage URL of a store an earlier run filled (--keep)."""
    return f"sqlite:///{work / name}" if store == SQLITE else store


def server_version(store: str) -> str:
    if store == SQLITE:
        return f"SQLite {sqlite3.sqlite_version}"
    server = store.rsplit("/", 1)[0]
    done = subprocess.run(["psql", f"{server}/postgres", "-Atc", "SHOW server_version"],
                          capture_output=True, text=True, check=False)
    return f"PostgreSQL {done.stdout.strip() or '?'}"
