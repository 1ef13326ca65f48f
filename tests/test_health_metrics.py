"""GET /healthz and GET /metrics as a monitoring system sees them: `serve` on a real
PostgreSQL that is stopped and started again, and `run` on a real ngIRCd holding a
meeting, its metrics parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import IrcClient, NgIrcd, free_port, wait_for_port
from tests.test_database_outage import _cluster_version
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot

ROOT = Path(__file__).resolve().parent.parent


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def _until(url: str, status: int, seconds: float = 30) -> str:
    async with asyncio.timeout(seconds):
        while True:
            got, body = await _get(url)
            if got == status:
                return body
            await asyncio.sleep(0.2)


def _start_serve(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "serve", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None, reason="needs a local cluster")
async def test_serve_healthz_follows_postgresql(postgres_url: str, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{postgres_url}"\n[publish]\ndir = "{tmp_path}/m"\n'
                      f'[web]\nlisten = "127.0.0.1:{port}"\n')
    serve = _start_serve(config)
    cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main"]
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for_port, port, "serve", 30)
        assert await _get(f"{base}/healthz") == (200, "ok\n")
        await _get(f"{base}/api/search?q=anything")
        metrics = _samples((await _get(f"{base}/metrics"))[1])
        assert metrics[("openminutes_search_seconds_count", ())] == 1
        await asyncio.to_thread(subprocess.run, [*cluster, "stop", "-m", "fast"], check=True)
        try:
            body = await _until(f"{base}/healthz", 503)
            assert body.startswith("database: ")
        finally:
            await asyncio.to_thread(subprocess.run, [*cluster, "start"], check=True)
        assert await _until(f"{base}/healthz", 200) == "ok\n"
    finally:
        serve.terminate()
        await asyncio.to_thread(serve.wait, 15)


async def test_run_metrics_rise_with_a_meeting_and_healthz_sees_the_network(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    port = free_port()
    bot = _start_bot(_config(tmp_path, ngircd.port, "send_rate = 20.0\nsend_burst = 10\n"
                             f'[metrics]\nlisten = "127.0.0.1:{port}"\n'))
    alice = IrcClient("alice")
    base = f"http://127.0.0.1:{port}"
    try:
        await alice.connect(ngircd.port)
        await alice.join(CHANNEL)
        await alice.wait_joined("minutebot")
        await _until(f"{base}/healthz", 200)
        before = _samples((await _get(f"{base}/metrics"))[1])
        net = (("network", "test"),)
        assert before[("openminutes_network_connected", net)] == 1
        assert before[("openminutes_meetings_open", ())] == 0
        alice.say(CHANNEL, "#startmeeting metrics")
        await alice.wait_for("The meeting name has been set")
        for n in range(10):
            alice.say(CHANNEL, f"line {n}")
        alice.say(CHANNEL, "#info counted")
        await asyncio.sleep(0.5)
        during = _samples((await _get(f"{base}/metrics"))[1])
        assert during[("openminutes_meetings_open", ())] == 1
        assert during[("openminutes_lines_recorded_total", ())] >= \
            before[("openminutes_lines_recorded_total", ())] + 12
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:")
        # The URLs are said once the meeting's own files are written; the publish (and
        # its timing) ends with the archive pages, a moment later.
        async with asyncio.timeout(10):
            while True:
                after = _samples((await _get(f"{base}/metrics"))[1])
                if after[("openminutes_publish_seconds_count", ())] >= 1:
                    break
                await asyncio.sleep(0.05)
        assert after[("openminutes_meetings_open", ())] == 0
        assert after[("openminutes_lines_refused_total", ())] == 0
        assert ("openminutes_reconnects_total", net) in after
        ngircd.stop()
        body = await _until(f"{base}/healthz", 503)
        assert "test: not connected" in body
    finally:
        await alice.close()
        await _stop_bot(bot)
