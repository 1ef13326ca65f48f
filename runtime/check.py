"""`openminutes check`: everything `run` needs, tried before going live. One line per
check; the process exits 0 only when all pass."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from openminutes.chat.base import ProbeError
from openminutes.chat.irc import IrcAdapter
from openminutes.runtime.app import load_schedule, registry_of
from openminutes.runtime.config import Config, ConfigError, load
from openminutes.schedules.model import ScheduleError
from openminutes.storage.schema import new_sqlite_file, read_state, safe_url, schema_status

PROBE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    what: str  # the config key or part checked
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}: {self.detail}"


async def _database(config: Config) -> Result:
    url = config.storage.url
    shown = safe_url(url)
    new = new_sqlite_file(url)
    if new is not None:
        folder = new.resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            return Result(False, "storage.url", f"{shown}: cannot create it in {folder}")
        return Result(True, "storage.url", f"{shown}: new (`run` creates it)")
    try:
        status = await schema_status(url)
    except Exception as exc:  # the driver's own error says why (refused, auth, no database)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Result(False, "storage.url", f"cannot open {shown}: {reason}")
    behind = status.current is not None and status.pending > 0
    return Result(not behind, "storage.url", f"{shown}: {status.describe()}")


def _publish_dir(config: Config) -> Result:
    folder = Path(config.publish.dir).resolve()
    probe = folder
    while not probe.exists():  # `run` creates the missing folders
        probe = probe.parent
    if not probe.is_dir():
        return Result(False, "publish.dir", f"{folder}: {probe} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".openminutes-check-"):
            pass
    except OSError as exc:
        return Result(False, "publish.dir", f"{folder} is not writable: {exc.strerror}")
    return Result(True, "publish.dir", f"{folder} is writable")


async def _network(what: str, probe: Awaitable[str]) -> Result:
    try:
        return Result(True, what, await probe)
    except ProbeError as exc:
        return Result(False, what, str(exc))


async def run_checks(path: Path | None, emit: Callable[[Result], None]) -> bool:
    """Each check in turn, said as it completes; True when all passed."""
    try:
        config = load(path)
    except ConfigError as exc:
        emit(Result(False, "config", str(exc)))
        return False
    results = [Result(True, "config", f"{path or 'config.toml'} is valid"
                      if not config.console else "no config file: the console chat")]
    emit(results[0])
    try:  # what `run` loads at start besides the config itself
        registry_of(config)
        series = load_schedule(config)
    except (ConfigError, ScheduleError) as exc:
        results[0] = Result(False, "config", str(exc))
        emit(results[0])
    else:
        if config.schedule.dir:
            emit(Result(True, "schedule.dir", f"{len(series)} meeting series"))
    results.append(await _database(config))
    emit(results[-1])
    results.append(_publish_dir(config))
    emit(results[-1])
    for i, irc in enumerate(config.irc):
        results.append(await _network(f"irc[{i}] {irc.name}",
                                      IrcAdapter(irc).probe(PROBE_SECONDS)))
        emit(results[-1])
    if config.matrix:
        from openminutes.chat.matrix import MatrixAdapter  # nio only where configured
    for i, matrix in enumerate(config.matrix):
        store = _KeptState(config.storage.url if results[1].ok else "")
        results.append(await _network(f"matrix[{i}] {matrix.name}",
                                      MatrixAdapter(matrix, store).probe()))
        emit(results[-1])
    return all(r.ok for r in results)


class _KeptState:
    """What the adapters kept in the database (a Matrix access token), read only: a
    check changes nothing."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def state(self, network: str) -> dict[str, str]:
        if not self.url or new_sqlite_file(self.url) is not None:
            return {}
        return await read_state(self.url, network)

    async def put_state(self, network: str, key: str, value: str) -> None:
        return None
