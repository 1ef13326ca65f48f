"""Fixtures that start real servers: PostgreSQL databases and ngIRCd."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from openminutes.storage import Storage
from tests.matrix_server import Synapse
from tests.servers import InspIrcd, NgIrcd, free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg_running() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The local PostgreSQL server, started if it is installed but stopped."""
    if not _pg_running() and shutil.which("pg_ctlcluster"):
        versions = sorted(Path("/etc/postgresql").iterdir())
        if versions:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name,
                            "main", "start"], check=False, capture_output=True)
    if not _pg_running():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (make test installs it)")
    return PG_ADMIN


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"openminutes_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'openminutes.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    store = await Storage.open(database_url)
    yield store
    await store.close()


def _running_ngircd(factory: pytest.TempPathFactory, *, flood_limits: bool) -> Iterator[NgIrcd]:
    server = NgIrcd(factory.mktemp("ngircd"), free_port(), flood_limits=flood_limits)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ngircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NgIrcd]:
    """A real ngIRCd with flood limits off."""
    yield from _running_ngircd(tmp_path_factory, flood_limits=False)


@pytest.fixture
def ngircd_default_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NgIrcd]:
    """A real ngIRCd with its default flood limits, as the bot meets on a real network."""
    yield from _running_ngircd(tmp_path_factory, flood_limits=True)


@pytest.fixture
def inspircd(tmp_path: Path) -> Iterator[InspIrcd]:
    """A real InspIRCd with its default limits."""
    server = InspIrcd(tmp_path, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A real Synapse with rate limits lifted, shared by the tests (each uses new rooms)."""
    server = Synapse(tmp_path_factory.mktemp("synapse"), free_port())
    server.start()
    yield server
    server.stop()
