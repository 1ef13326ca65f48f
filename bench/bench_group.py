"""Redundant recorders on PostgreSQL (README: "Running more than one recorder"), measured
through a real ngIRCd:

(a) takeover: two `openminutes run` processes in one channel while two people talk at
    20 lines/s; the room's recorder is SIGKILLed, 20 times (restarted each time, as a
    standby): from the kill to the first line stored by the new recorder (a second
    connection counts the stored lines every 2 ms), median and max; and at the end,
    the lines said against the lines stored: lost and doubled (both must be 0).
(b) the cost of fencing on the ingest path: bench_irc.py's 5,000-line meeting with one
    process, and with one more standing by on the same database, in the same run; and
    the reference bot (hcoop-meetbot on Limnoria), which has no standby, beside them.

Usage: python bench/bench_group.py --storage postgresql://postgres@127.0.0.1:5432/bench_group
       [--kills 20] [--runs 3] [--lines 5000] [--no-reference]
The database named is dropped and created again (bench/stores.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import stores  # noqa: E402
from bench.bench_irc import WORK, Result, meeting_lines, one_run, poll, report, spawn  # noqa: E402
from openminutes.runtime.config import RecordersConfig  # noqa: E402
from openminutes.storage import Storage  # noqa: E402
from tests.servers import IrcClient, NgIrcd, free_port  # noqa: E402

CHANNEL = "#ha"


def _config(tmp: Path, nick: str, port: int, url: str) -> Path:
    path = tmp / f"{nick}.toml"
    path.write_text(
        f'[storage]\nurl = "{url}"\n[publish]\ndir = "{tmp}/minutes"\n'
        f'[[irc]]\nname = "bench"\nhost = "127.0.0.1"\nport = {port}\nnick = "{nick}"\n'
        f'channels = ["{CHANNEL}"]\nsend_rate = 50.0\nsend_burst = 50\n')
    return path


def _recorder(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT r.nicks FROM recorder_leases l JOIN recorders r USING (holder) "
            "WHERE l.expires_at > timezone('UTC', clock_timestamp())").fetchone()
    return "" if row is None else str(json.loads(row[0])["bench"])


def _stored(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(n, t) for n, t in conn.execute(
            "SELECT nick, text FROM lines WHERE NOT own AND kind = 'message' "
            "AND text LIKE 'line %' ORDER BY meeting_id, seq")]


def _count(conn: psycopg.Connection[tuple[int]]) -> int:
    row = conn.execute("SELECT count(*) FROM lines").fetchone()
    return int(row[0]) if row else 0


async def takeovers(store: str, kills: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-group-") as name:
        tmp = Path(name)
        url = stores.fresh_url(store, tmp)
        await (await Storage.open(url)).close()  # migrated once, before the bots start
        server = NgIrcd(tmp, free_port(), flood_limits=False)
        server.start()
        nicks = ("omb1", "omb2")
        configs = {nick: _config(tmp, nick, server.port, url) for nick in nicks}
        procs = {}
        alice, bob, observer = IrcClient("alice"), IrcClient("bob"), IrcClient("observer")
        try:
            for client in (alice, bob, observer):
                await client.connect(server.port)
                await client.join(CHANNEL)
            for nick in nicks:
                procs[nick] = spawn([sys.executable, str(ROOT / "bot.py"), "run", "-c",
                                     str(configs[nick])], tmp, f"{nick}.log")
                await observer.wait_joined(nick, seconds=60)
            await poll(lambda: bool(_recorder(url)), 60)
            alice.say(CHANNEL, "#startmeeting takeover bench")
            await alice.wait_for("Meeting started", seconds=30)
            stop = asyncio.Event()

            async def talk() -> None:
                n = 0
                while not stop.is_set():
                    client = alice if n % 2 == 0 else bob
                    client.say(CHANNEL, f"line {n} from {client.nick}")
                    n += 1
                    await asyncio.sleep(0.05)

            talking = asyncio.create_task(talk())
            times: list[float] = []
            with psycopg.connect(url, autocommit=True) as conn:
                for _ in range(kills):
                    await asyncio.sleep(random.uniform(1.0, 2.0))
                    victim = await asyncio.to_thread(_recorder, url)
                    joins = observer._joins(victim)
                    procs[victim].send_signal(signal.SIGKILL)
                    killed = time.perf_counter()
                    procs[victim].wait()
                    before = _count(conn)
                    await poll(lambda before=before: _count(conn) > before, 60)  # type: ignore[misc]
                    times.append(time.perf_counter() - killed)
                    procs[victim] = spawn([sys.executable, str(ROOT / "bot.py"), "run", "-c",
                                           str(configs[victim])], tmp, f"{victim}.log")
                    await observer.wait_joined(victim, count=joins + 1, seconds=60)
            stop.set()
            await talking
            await asyncio.sleep(3.0)
            said = [(ln.split("!", 1)[0][1:], ln.split(" :", 1)[1]) for ln in observer.lines
                    if f" PRIVMSG {CHANNEL} :line " in ln]
            stored = _stored(url)
            lost = len(set(said) - set(stored))
            doubled = len(stored) - len(set(stored))
            timing = RecordersConfig()
            print(f"\n(a) takeover after SIGKILL of the recorder ({kills} kills, lease "
                  f"{timing.lease_seconds:g} s, renewal {timing.renew_seconds:g} s: the "
                  "defaults)")
            print(f"  kill to first line stored by the new recorder: median "
                  f"{statistics.median(times):.2f} s, max {max(times):.2f} s, min "
                  f"{min(times):.2f} s")
            print(f"  lines said {len(said)}, stored {len(stored)}: lost {lost}, "
                  f"doubled {doubled}, out of order {int(stored != said)}")
            print("  reference (hcoop-meetbot on Limnoria): one process, no standby; every "
                  "line said until it is restarted is lost")
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                proc.wait(timeout=20)
            for client in (alice, bob, observer):
                await client.close()
            server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--no-reference", action="store_true")
    stores.add_storage_option(parser)
    args = parser.parse_args()
    (store,) = stores.chosen(args)
    if store == stores.SQLITE:
        sys.exit("recorder groups need PostgreSQL: --storage postgresql://...")
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {stores.server_version(store)}")
    await takeovers(store, args.kills)
    lines = meeting_lines(args.lines)
    one: list[Result] = []
    two: list[Result] = []
    for _ in range(args.runs):  # alternated, so that drift in the machine hits both
        one.append(await one_run("openminutes", lines, 0.0, store))
        two.append(await one_run("openminutes", lines, 0.0, store, standbys=1))
    alone = report("(b) openminutes, one process", one)
    paired = report("(b) openminutes, recorder with one standby", two)
    print("\n(b) cost of a standby and of fencing (medians)")
    for key, label in (("commit", "all lines committed"), ("reply", "reply to last line"),
                       ("end", "end-of-meeting reply")):
        print(f"  {label:22} one {alone[key]:.3f} s, two {paired[key]:.3f} s "
              f"({paired[key] / alone[key]:.2f}x)")
    if args.no_reference:
        return
    ref = report("hcoop-meetbot 0.8.1 on Limnoria (reference)",
                 [await one_run("reference", lines, 0.0) for _ in range(args.runs)])
    print(f"\n  reply to last line: reference {ref['reply']:.3f} s; openminutes with a "
          f"standby {paired['reply']:.3f} s ({ref['reply'] / paired['reply']:.1f}x faster)")


if __name__ == "__main__":
    asyncio.run(main())
