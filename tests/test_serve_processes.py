"""`python bot.py serve` as users run it: two processes on one PostgreSQL database answer
alike, as stateless web workers behind a load balancer would."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.servers import free_port, wait_for_port
from tests.test_import import LOG

ROOT = Path(__file__).resolve().parent.parent


def _get(port: int, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def _serve(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "serve", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_two_serve_processes_share_one_postgresql(postgres_url: str,
                                                        tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    configs = []
    for port in ports:
        config = tmp_path / f"config-{port}.toml"
        config.write_text(f'[storage]\nurl = "{postgres_url}"\n'
                          f'[publish]\ndir = "{tmp_path}/minutes"\n'
                          f'[web]\nlisten = "127.0.0.1:{port}"\n')
        configs.append(config)
    log = tmp_path / "weekly.2026-01-01-18.00.log.txt"
    log.write_text(LOG)
    imported = await asyncio.to_thread(subprocess.run, [
        sys.executable, str(ROOT / "bot.py"), "import", str(log), "-q", "-c", str(configs[0])],
        capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    servers = [_serve(c) for c in configs]
    try:
        for port in ports:
            await asyncio.to_thread(wait_for_port, port, "serve", 20)
        answers = [await asyncio.to_thread(_get, port, "/api/search?q=ship") for port in ports]
        assert answers[0] == answers[1]
        assert answers[0]["total"] == 1
        meetings = [await asyncio.to_thread(_get, port, "/api/meetings") for port in ports]
        assert meetings[0] == meetings[1]
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            await asyncio.to_thread(server.wait, 15)
    assert all(server.returncode == 0 for server in servers)
