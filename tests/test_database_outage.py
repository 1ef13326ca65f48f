"""Lines wait while the database is away and are committed when it is back; past the
bound the bot says so instead of dropping silently."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openminutes.chat.base import ChatEvent
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import LineKind
from openminutes.meetings.state import MeetingSettings
from openminutes.plugins import default_registry
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from tests.helpers import Room

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def _event(n: int, text: str) -> ChatEvent:
    return ChatEvent("net", "#c", "alice", text, LineKind.MESSAGE, T0 + timedelta(seconds=n))


async def _started(storage: Storage, tmp: Path, max_pending: int) -> tuple[Recorder, Room]:
    recorder = Recorder(storage, Engine(default_registry()), Publisher(storage, tmp / "out"),
                        MeetingSettings(), max_pending=max_pending)
    room = Room()
    recorder.senders["net"] = room
    recorder.submit(_event(0, "#startmeeting"))
    return recorder, room


async def _texts(storage: Storage) -> list[str]:
    (record,) = await storage.open_meetings()
    return [ln.text for ln in await storage.lines(record.id) if not ln.own]


async def test_sqlite_locked_lines_wait_and_the_overflow_is_announced(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    storage = await Storage.open(f"sqlite:///{path}")
    recorder, room = await _started(storage, tmp_path, max_pending=5)
    task = asyncio.create_task(recorder.run())
    await recorder.drained()

    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
    recorder.submit(_event(1, "while locked 1"))
    await asyncio.sleep(0.3)  # the recorder is now waiting on the lock with that line
    for n in range(2, 12):
        recorder.submit(_event(n, f"while locked {n}"))
    await asyncio.sleep(0.5)
    await asyncio.to_thread(locker.execute, "COMMIT")
    locker.close()
    await recorder.drained()
    task.cancel()

    warnings = [s for s in room.said if "NOT recorded" in s]
    assert len(warnings) == 1
    (back,) = [s for s in room.said if s.startswith("Database is back")]
    dropped = int(back.split(". ")[1].split()[0])
    texts = await _texts(storage)
    assert dropped > 0
    assert texts[0] == "#startmeeting"
    assert len(texts) - 1 + dropped == 11
    assert texts[1:] == [f"while locked {n}" for n in range(1, 12 - dropped)]
    await storage.close()


def _cluster_version() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]


@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None, reason="needs a local cluster")
async def test_postgresql_restart_loses_nothing(postgres_url: str, tmp_path: Path) -> None:
    storage = await Storage.open(postgres_url)
    recorder, _ = await _started(storage, tmp_path, max_pending=1000)
    task = asyncio.create_task(recorder.run())
    await recorder.drained()
    cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main"]
    await asyncio.to_thread(subprocess.run, [*cluster, "stop", "-m", "fast"], check=True)
    try:
        for n in range(1, 21):
            recorder.submit(_event(n, f"during the restart {n}"))
        await asyncio.sleep(1.0)
    finally:
        await asyncio.to_thread(subprocess.run, [*cluster, "start"], check=True)
    async with asyncio.timeout(60):
        await recorder.drained()
    task.cancel()
    texts = await _texts(storage)
    assert texts == ["#startmeeting"] + [f"during the restart {n}" for n in range(1, 21)]
    await storage.close()
