"""End to end as a user sees it, openminutes and the reference bot (hcoop-meetbot on
Limnoria) side by side in one run, each against its own fresh ngIRCd.

(1) `../shared/bench/e2e.py PORT BOT CHANNEL LINES`: two speakers hold a meeting of LINES
    lines as fast as their sockets take them; from the first line after #startmeeting to
    the bot's end-of-meeting line naming the minutes. Both bots with their output flood
    limits lifted (openminutes `send_rate 1000`, `send_burst 100`; Limnoria
    `throttleTime 0`). Peak RSS of each bot in that meeting is printed too.
(2) With each bot's default output flood limits (openminutes `send_burst 4`,
    `send_rate 1.0`; Limnoria's defaults): the same meeting, a `#chair` whose answer
    shows the backlog handled, a second's pause, then from `#endmeeting` sent until the
    line naming the minutes arrives, and until the bot's last end line. The time is
    taken at the client, so it includes the server's relay both ways: an upper bound of
    "#endmeeting stored to the minutes on the wire".

Usage: python bench/bench_e2e.py [--lines 5000] [--runs 3] [--no-reference]
       [--only e2e|limits]
Needs ../shared/bench/e2e.py for (1) (skipped with a message where it is absent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_irc import (  # noqa: E402
    CHANNEL,
    WORK,
    fresh_server,
    openminutes_config,
    peak_rss_kib,
    spawn,
    start_reference,
    stop,
)
from tests.servers import IrcClient  # noqa: E402

E2E = ROOT.parent / "shared" / "bench" / "e2e.py"
NICKS = {"openminutes": "omb", "reference": "refbot"}
LAST_END_LINE = {"openminutes": "Log:", "reference": "Minutes:"}  # as bench_irc.py has it


@dataclass
class E2e:
    seconds: float
    peak_rss_mib: float


@dataclass
class EndTimes:
    minutes_url: float  # #endmeeting sent -> the line naming the minutes
    last_line: float  # #endmeeting sent -> the bot's last end-of-meeting line
    disconnected: bool


@contextmanager
def bot_on_server(which: str, *, lifted: bool, channels: tuple[str, ...] = (CHANNEL,)
                  ) -> Iterator[tuple[int, int]]:
    """A fresh ngIRCd (no penalty for the two fast speakers) with the bot joined;
    yields (port, bot pid)."""
    with fresh_server(f"e2e-{which}-") as (tmp, server):
        if which == "openminutes":
            config = openminutes_config(tmp, server.port, NICKS[which],
                                        f"sqlite:///{tmp}/om.db", tmp / "minutes",
                                        lifted=lifted, channels=channels)
            proc = spawn([sys.executable, *_profile(), str(ROOT / "bot.py"), "run",
                          "-c", str(config)], tmp)
        else:
            proc, _ = start_reference(server.port, tmp, lifted=lifted, channels=channels)
        try:
            yield server.port, proc.pid
        finally:
            stop(proc)


def _profile() -> list[str]:
    profile = os.environ.get("BENCH_PROFILE")  # cProfile stats of openminutes to this file
    return ["-m", "cProfile", "-o", profile] if profile else []


# Where a sampled stack's time goes: the first of these found in it, innermost first.
PIECES = (
    ("imports", ("importlib._bootstrap",)),  # a module first loaded during the meeting
    ("rendering", ("jinja2", "/publish/", "templates")),
    ("storage", ("sqlalchemy", "sqlite3", "aiosqlite", "asyncpg", "/storage/")),
    ("engine", ("/meetings/", "/plugins/")),
    ("IRC parsing", ("/irc/", "jaraco", "/chat/")),
    ("recorder", ("/runtime/",)),
    ("event loop", ("asyncio", "selectors")),
)


def run_e2e(which: str, lines: int, profile: Path | None = None) -> E2e:
    with bot_on_server(which, lifted=True) as (port, pid):
        spy = None
        if profile is not None:  # py-spy samples the bot's CPU (not idle) during the run
            asyncio.run(_joined(port, NICKS[which]))  # its own start is not measured
            spy = subprocess.Popen(["py-spy", "record", "-p", str(pid), "-r", "1000", "-f",
                                    "raw", "--nonblocking", "-o", str(profile)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # attached
        done = subprocess.run([sys.executable, str(E2E), str(port), NICKS[which], CHANNEL,
                               str(lines)], capture_output=True, text=True, timeout=900)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"e2e.py failed for {which}: {done.stdout}{done.stderr}")
        seconds = float(done.stdout.split()[0])
        return E2e(seconds, peak_rss_kib(pid) / 1024)


async def _joined(port: int, bot: str, channel: str = CHANNEL) -> None:
    watcher = IrcClient("watcher")
    await watcher.connect(port)
    await watcher.join(channel)
    await watcher.wait_joined(bot, seconds=60)
    await watcher.close()
    await asyncio.sleep(1.0)


def breakdown(profile: Path) -> dict[str, int]:
    """Samples per piece, from py-spy's raw (collapsed) stacks."""
    counts: dict[str, int] = {}
    for row in profile.read_text().splitlines():
        stack, _, samples = row.rpartition(" ")
        frames = stack.split(";")[::-1]
        piece = next((name for name, marks in PIECES[:1] for frame in frames
                      if any(mark in frame for mark in marks)), None) or next(
            (name for frame in frames for name, marks in PIECES[1:]
             if any(mark in frame for mark in marks)), "other")
        counts[piece] = counts.get(piece, 0) + int(samples)
    return counts


def idle_rss(which: str, count: int) -> float:
    """MiB held by the bot joined to `count` channels, nothing said, 10 s after the last
    join."""
    channels = tuple(f"#idle{n}" for n in range(count))
    with bot_on_server(which, lifted=True, channels=channels) as (port, pid):
        asyncio.run(_joined(port, NICKS[which], channels[-1]))
        time.sleep(10.0)
        return current_rss_kib(pid) / 1024


def current_rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


def body(lines: int) -> list[tuple[int, str]]:
    """e2e.py's meeting mix: (speaker 0 = chair, 1 = alice, text)."""
    rows = []
    for i in range(lines - 2):
        who = i % 2
        if i % 200 == 0:
            text, who = f"#topic agenda point {i}", 0
        elif i % 10 == 0:
            text = f"#info fact number {i} about the release"
        elif i % 25 == 1:
            text = f"#action aliceb follows up on item {i}"
        elif i % 50 == 3:
            text = f"#idea maybe automate step {i}"
        else:
            text = f"just chatting, line {i}, lorem ipsum dolor sit amet"
        rows.append((who, text))
    return rows


async def end_times(which: str, lines: int) -> EndTimes:
    bot = NICKS[which]
    with bot_on_server(which, lifted=False) as (port, _):
        chair, alice = IrcClient("chairb"), IrcClient("aliceb")
        for client in (chair, alice):
            await client.connect(port)
            await client.join(CHANNEL)
        await chair.wait_joined(bot, seconds=60)

        def from_bot(pattern: str, after: int) -> Callable[[], bool]:
            regex = re.compile(pattern, re.I)
            return lambda: any(ln.lower().startswith(f":{bot}!") and " PRIVMSG " in ln
                               and regex.search(ln) for ln in chair.lines[after:])

        chair.say(CHANNEL, "#startmeeting bench meeting")
        await _until(from_bot("started", 0), 30)
        rows = body(lines)
        for who, text in rows:
            (chair, alice)[who].say(CHANNEL, text)
        # The backlog handled first: the time below is the end's alone. "Current chairs"
        # answers a #chair sent after the body, in both bots.
        chair.say(CHANNEL, "#chair aliceb")
        await _until(from_bot("current chairs", 0), 300)
        await asyncio.sleep(1.0)
        mark = len(chair.lines)
        sent = time.perf_counter()
        chair.say(CHANNEL, "#endmeeting")
        await _until(from_bot(r"minutes|\.html", mark), 120)
        url = time.perf_counter() - sent
        await _until(from_bot(re.escape(LAST_END_LINE[which]), mark), 120)
        last_line = time.perf_counter() - sent
        await asyncio.sleep(1.0)  # anything that would follow (a flood disconnect) shows
        gone = any(ln.lower().startswith(f":{bot}!") and (" QUIT " in ln or " PART " in ln)
                   for ln in chair.lines)
        for client in (chair, alice):
            await client.close()
        return EndTimes(url, last_line, gone)


async def _until(predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.001)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--only", choices=("e2e", "limits", "idle"))
    parser.add_argument("--channels", type=int, default=100,
                        help="channels the bot idles in for the memory figure")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="one more e2e run of openminutes under py-spy (installed "
                             "apart: pip install py-spy); its raw stacks to FILE and the "
                             "share of each piece printed")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    bots = ["openminutes"] + ([] if args.no_reference else ["reference"])
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {args.lines} lines, {args.runs} runs")
    if args.only in (None, "e2e"):
        if not E2E.exists():
            print(f"\n(1) skipped: {E2E} is not here")
        else:
            print("\n(1) e2e.py, output flood limits lifted: first line -> minutes named")
            seconds: dict[str, list[float]] = {}
            for which in bots:
                got = [run_e2e(which, args.lines) for _ in range(args.runs)]
                seconds[which] = [g.seconds for g in got]
                print(f"  {which:12} {_median(seconds[which])}, "
                      f"{args.lines / statistics.median(seconds[which]):,.0f} lines/s, "
                      f"peak RSS {max(g.peak_rss_mib for g in got):.1f} MiB")
            if "reference" in seconds:
                ratio = (statistics.median(seconds["reference"])
                         / statistics.median(seconds["openminutes"]))
                print(f"  speed-up {ratio:.1f}x (target 10x)")
            if args.profile is not None:
                run_e2e("openminutes", args.lines, args.profile)
                counts = breakdown(args.profile)
                total = sum(counts.values())
                print(f"  where openminutes' CPU went ({total} samples at 1 kHz, "
                      f"py-spy, from a second after the bot joined to the end):")
                for piece, count in sorted(counts.items(), key=lambda kv: -kv[1]):
                    print(f"    {piece:12} {count / total:6.1%}  ({count / 1000:.3f} s)")
    if args.only in (None, "idle"):
        print(f"\n(3) idle in {args.channels} channels of one network: RSS")
        for which in bots:
            print(f"  {which:12} {idle_rss(which, args.channels):.1f} MiB")
        print("  target: openminutes under 80 MiB")
    if args.only in (None, "limits"):
        print("\n(2) default output flood limits: #endmeeting sent -> ...")
        for which in bots:
            ends = [asyncio.run(end_times(which, args.lines)) for _ in range(args.runs)]
            print(f"  {which:12} the minutes named {_median([e.minutes_url for e in ends])}; "
                  f"last end line {_median([e.last_line for e in ends])}; "
                  f"left the channel in {sum(e.disconnected for e in ends)} of {len(ends)}")
        print("  target: openminutes names the minutes within 0.2 s")


if __name__ == "__main__":
    main()
