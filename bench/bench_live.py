"""Live pages under load: a meeting said over ngIRCd to `openminutes run`, while a
separate `openminutes serve` process holds N open event streams of its live page
(`/live/{id}/events`). For each line: the time from the speaker sending it on IRC to its
event arriving on every stream (median and p99 over lines x streams), and the RSS of
`serve` before the streams open and with them open (peak).

hcoop-meetbot has no live page, so there is no reference figure; the floor printed is
ngIRCd relaying the same line to a second plain client.

Usage: python bench/bench_live.py [--streams 100] [--lines 200] [--rate 10]
       [--storage sqlite|URL ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import stores  # noqa: E402
from bench.bench_irc import peak_rss_kib, poll, spawn  # noqa: E402
from openminutes.storage import Storage  # noqa: E402
from tests.servers import IrcClient, NgIrcd, free_port, wait_for_port  # noqa: E402

CHANNEL = "#live"


def rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


async def follow(http: aiohttp.ClientSession, url: str, arrived: dict[str, list[float]],
                 ready: asyncio.Event) -> None:
    """One open stream: the arrival time of each line event, by its text."""
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
        ready.set()
        event: dict[str, str] = {}
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                event["data"] = line[6:]
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif not line and event.get("event") == "line":
                text = json.loads(event["data"])["text"]
                arrived.setdefault(text, []).append(time.monotonic())
                event = {}
            elif not line:
                event = {}


async def one(store: str, streams: int, count: int, rate: float, tmp: Path) -> dict[str, float]:
    irc_port, web_port = free_port(), free_port()
    (tmp / "ircd").mkdir()
    ircd = NgIrcd(tmp / "ircd", irc_port, flood_limits=False)
    ircd.start()
    url = stores.fresh_url(store, tmp)
    await (await Storage.open(url)).close()
    config = tmp / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n[publish]\ndir = "{tmp / "minutes"}"\n'
        f'[web]\nlisten = "127.0.0.1:{web_port}"\n'
        f'[[irc]]\nname = "bench"\nhost = "127.0.0.1"\nport = {irc_port}\nnick = "omb"\n'
        f'channels = ["{CHANNEL}"]\nsend_rate = 1000.0\nsend_burst = 100\n')
    bot = spawn([sys.executable, str(ROOT / "bot.py"), "run", "-c", str(config)], tmp)
    (tmp / "serve").mkdir()
    serve = spawn([sys.executable, str(ROOT / "bot.py"), "serve", "-c", str(config)],
                  tmp / "serve")
    speaker, listener = IrcClient("chair"), IrcClient("watcher")
    try:
        await asyncio.to_thread(wait_for_port, web_port, "serve", 30)
        for client in (speaker, listener):
            await client.connect(irc_port)
            await client.join(CHANNEL)
        await speaker.wait_joined("omb")
        speaker.say(CHANNEL, "#startmeeting live bench")
        await speaker.wait_for("Meeting started")
        storage = await Storage.open(url)
        meeting_id = (await storage.open_meetings())[0].id
        await storage.close()
        idle_rss = rss_kib(serve.pid)
        arrived: dict[str, list[float]] = {}
        # Readers come from many addresses (serve allows 6 streams per address).
        sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            limit=0, local_addr=(f"127.0.0.{2 + n}", 0))) for n in range(streams // 6 + 1)]
        try:
            readies = [asyncio.Event() for _ in range(streams)]
            tasks = [asyncio.create_task(follow(
                sessions[n // 6], f"http://127.0.0.1:{web_port}/live/{meeting_id}/events",
                arrived, ready)) for n, ready in enumerate(readies)]
            await asyncio.gather(*(r.wait() for r in readies))
            await asyncio.sleep(1.0)
            sent: dict[str, float] = {}
            relayed: list[float] = []
            for n in range(count):
                text = f"line {n} of the live benchmark"
                sent[text] = time.monotonic()
                speaker.say(CHANNEL, text)
                await listener.wait_for(text)
                relayed.append(time.monotonic() - sent[text])
                await asyncio.sleep(max(0.0, 1 / rate - relayed[-1]))
            with contextlib.suppress(TimeoutError):  # what never came is counted below
                await poll(lambda: all(len(arrived.get(t, ())) >= streams for t in sent), 10)
            streaming_rss = rss_kib(serve.pid)
            for task in tasks:
                task.cancel()
        finally:
            for session in sessions:
                await session.close()
        latencies = sorted(at - sent[t] for t in sent for at in arrived.get(t, ()))
        missing = count * streams - len(latencies)
        peak = peak_rss_kib(serve.pid)
    finally:
        for client in (speaker, listener):
            await client.close()
        for proc in (bot, serve):
            proc.terminate()
            proc.wait(timeout=20)
        ircd.stop()
    return {"median": statistics.median(latencies), "p99": latencies[
        int(len(latencies) * 0.99) - 1], "max": latencies[-1], "missing": missing,
        "relay_median": statistics.median(relayed), "idle_rss": idle_rss / 1024,
        "streaming_rss": streaming_rss / 1024, "peak_rss": peak / 1024}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="lines said per second")
    stores.add_storage_option(parser)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, Python "
          f"{platform.python_version()}; {args.streams} streams, {args.lines} lines at "
          f"{args.rate:g}/s")
    for store in stores.chosen(args):
        with tempfile.TemporaryDirectory() as folder:
            r = await one(store, args.streams, args.lines, args.rate, Path(folder))
        print(f"{stores.label(store)}: said on IRC -> event on each of {args.streams} "
              f"streams: median {r['median'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, "
              f"max {r['max'] * 1000:.1f} ms, {r['missing']:.0f} events missing; floor "
              f"(ngIRCd relaying to a plain client) median {r['relay_median'] * 1000:.1f} ms; "
              f"serve RSS {r['idle_rss']:.0f} MiB idle, {r['streaming_rss']:.0f} MiB with "
              f"the streams open, peak {r['peak_rss']:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
