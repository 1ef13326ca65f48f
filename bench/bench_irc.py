"""A 5,000-line meeting sent at full speed through ngIRCd (flood limits off), measured for
openminutes and for the reference bot (hcoop-meetbot on Limnoria) in the same run.

(a) catch-up: from the first line sent until every line is committed (openminutes: counted
    in its database) and until the bot answers a `#chair` sent after the last line
    (both bots);
(b) publish: from `#endmeeting` sent until every output file is on disk and until the
    bot's last end-of-meeting reply.

With --rate, lines are sent at that many per second instead of all at once, as a long
meeting arrives: how a 100,000-line meeting is measured for memory (at full speed
either bot would be measuring its backlog; openminutes drops lines past
`storage.max_pending_lines` waiting and says so).

Usage: python bench/bench_irc.py [--lines 5000] [--runs 3] [--rate 0] [--no-reference]
       [--storage sqlite|URL ...]
With --storage given twice (SQLite and a PostgreSQL URL, bench/stores.py), openminutes
is measured on each in the same run and the two are printed side by side; the first
store is the one compared with the reference.
The reference bot is installed into bench/work/ref-venv on first use (pip: limnoria,
hcoop-meetbot); nothing of it is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import stores  # noqa: E402
from openminutes.storage import Storage  # noqa: E402
from tests.servers import IrcClient, NgIrcd, free_port  # noqa: E402

WORK = ROOT / "bench" / "work"
CHANNEL = "#bench"


@dataclass
class Result:
    catch_up_commit: float | None
    catch_up_reply: float
    publish_files: float
    publish_reply: float
    peak_rss_kib: int


def meeting_lines(count: int) -> list[str]:
    """A meeting body with the mix of a real one: chat, topics, info, actions, links."""
    lines = []
    for n in range(count):
        if n % 100 == 0:
            lines.append(f"#topic Topic number {n // 100}")
        elif n % 25 == 0:
            lines.append(f"#action chair and bob to follow up on item {n}")
        elif n % 10 == 0:
            lines.append(f"#info Fact {n}: the build of component {n % 7} is green")
        elif n % 33 == 0:
            lines.append(f"#link https://example.org/review/{n} review {n}")
        else:
            lines.append(f"line {n}: discussing the details of change {n} with everyone here")
    return lines


def spawn(argv: list[str], cwd: Path, log_name: str = "bot-output.log"
          ) -> subprocess.Popen[bytes]:
    log = (cwd / log_name).open("wb")
    return subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def peak_rss_kib(pid: int) -> int:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


async def poll(predicate: Callable[[], bool], seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.002)


async def wait_reply(client: IrcClient, bot: str, fragment: str, after: int) -> None:
    def seen() -> bool:
        return any(ln.startswith(f":{bot}!") and fragment in ln for ln in client.lines[after:])

    await poll(seen)


def files_under(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


async def send_all(client: IrcClient, lines: list[str], rate: float) -> None:
    """Every line at once (rate 0), or `rate` lines a second in tenth-of-a-second steps."""
    if not rate:
        for text in lines:
            client.say(CHANNEL, text)
        return
    step = max(1, round(rate / 10))
    started = time.perf_counter()
    for n in range(0, len(lines), step):
        for text in lines[n:n + step]:
            client.say(CHANNEL, text)
        await asyncio.sleep(max(0.0, started + (n + step) / rate - time.perf_counter()))


async def drive(port: int, bot: str, lines: list[str], out_dir: Path, expected_files: int,
                end_reply: str, count_committed: Callable[[], int] | None,
                rate: float) -> Result:
    chair = IrcClient("chair")
    await chair.connect(port)
    await chair.join(CHANNEL)
    await chair.wait_joined(bot, seconds=60)
    chair.say(CHANNEL, "#startmeeting Bench")
    await wait_reply(chair, bot, "Useful", 0)
    await asyncio.sleep(0.5)

    mark = len(chair.lines)
    started = time.perf_counter()
    await send_all(chair, lines, rate)
    # A probe both bots answer, "Current chairs: ...", marks that every line before it
    # has been handled.
    chair.say(CHANNEL, "#chair probe")
    commit = None
    if count_committed is not None:
        total = len(lines) + 2  # the body, #startmeeting, the probe
        await poll(lambda: count_committed() >= total)
        commit = time.perf_counter() - started
    await wait_reply(chair, bot, "Current chairs:", mark)
    reply = time.perf_counter() - started
    await asyncio.sleep(0.5)

    mark = len(chair.lines)
    ended = time.perf_counter()
    chair.say(CHANNEL, "#endmeeting")
    await poll(lambda: files_under(out_dir) >= expected_files)
    files = time.perf_counter() - ended
    await wait_reply(chair, bot, end_reply, mark)
    end = time.perf_counter() - ended
    await chair.close()
    return Result(commit, reply, files, end, 0)


class Counter:
    """Counts committed lines from a second connection, as a reader beside the bot would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.value = 0
        self._storage: Storage | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._storage = await Storage.open(self.url)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._storage is not None
        while True:
            meetings = await self._storage.meetings()
            if meetings:
                self.value = await self._storage.count_lines(meetings[-1].id)
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            # Its last query may fail as the next run drops the database: nothing to report.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._storage:
            await self._storage.close()


def openminutes_config(tmp: Path, port: int, nick: str, url: str, out: Path, *,
                       lifted: bool = True, channels: tuple[str, ...] = (CHANNEL,)) -> Path:
    """A config joining CHANNEL as `nick`; `lifted`: output flood limits off (as the
    reference runs with `throttleTime 0`), else the defaults (`send_burst 4`,
    `send_rate 1.0`)."""
    path = tmp / f"{nick}.toml"
    limits = 'send_rate = 1000.0\nsend_burst = 100\n' if lifted else ""
    path.write_text(
        f'[storage]\nurl = "{url}"\n[publish]\ndir = "{out}"\n'
        f'[[irc]]\nname = "bench"\nhost = "127.0.0.1"\nport = {port}\nnick = "{nick}"\n'
        f'channels = {json.dumps(list(channels))}\n{limits}'
    )
    return path


async def run_openminutes(port: int, lines: list[str], tmp: Path, rate: float,
                          store: str, standbys: int = 0) -> Result:
    """`standbys`: more processes on the same PostgreSQL database, standing by (they
    hear every line too; the recorder's writes are fenced by its lease)."""
    out = tmp / "minutes"
    url = stores.fresh_url(store, tmp)

    def config_of(nick: str) -> Path:
        return openminutes_config(tmp, port, nick, url, out)

    config = config_of("omb")
    # Migrated before the bot starts (as `openminutes db upgrade` would), so that the
    # counter's connection and the bot never both migrate it.
    await (await Storage.open(url)).close()
    profile = os.environ.get("BENCH_PROFILE")  # a file to write cProfile stats of the bot to
    wrapper = ["-m", "cProfile", "-o", profile] if profile else []
    proc = spawn([sys.executable, *wrapper, str(ROOT / "bot.py"), "run", "-c", str(config)], tmp)
    others = []
    if standbys:
        watcher = IrcClient("watcher")
        await watcher.connect(port)
        await watcher.join(CHANNEL)
        await watcher.wait_joined("omb", seconds=60)
        await asyncio.sleep(2.0)  # omb holds the room's lease before the others start
        for n in range(standbys):
            nick = f"omb{n + 2}"
            others.append(spawn([sys.executable, str(ROOT / "bot.py"), "run", "-c",
                                 str(config_of(nick))], tmp, f"{nick}-output.log"))
            await watcher.wait_joined(nick, seconds=60)
        await watcher.close()
    counter = Counter(url)
    await counter.start()
    try:
        result = await drive(port, "omb", lines, out, 6, "Log:", lambda: counter.value,
                             rate)
        result.peak_rss_kib = peak_rss_kib(proc.pid)
    finally:
        await counter.stop()
        for process in [proc, *others]:
            process.terminate()
        for process in [proc, *others]:
            process.wait(timeout=20)
    return result


def reference_python() -> Path:
    venv = WORK / "ref-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "limnoria").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "limnoria",
                        "hcoop-meetbot"], check=True)
    return python


def start_reference(port: int, tmp: Path, *, lifted: bool = True,
                    channels: tuple[str, ...] = (CHANNEL,)
                    ) -> tuple[subprocess.Popen[bytes], Path]:
    """hcoop-meetbot on Limnoria in `tmp`, joining CHANNEL as `refbot`; `lifted`: with
    `throttleTime 0` and its flood checks off, else with Limnoria's own defaults.
    Returns the process and the folder its minutes go to."""
    python = reference_python()
    out = tmp / "out"
    for sub in ("conf", "data", "logs", "backup", "tmp", "out"):
        (tmp / sub).mkdir()
    (tmp / "conf" / "HcoopMeetbot.conf").write_text(
        f"[HcoopMeetbot]\nlogDir = {out}\nurlPrefix = /\n"
        "pattern = %Y/{name}.%Y%m%d.%H%M\ntimezone = UTC\n"
    )
    limits = [
        "supybot.protocols.irc.throttleTime: 0.0",
        "supybot.abuse.flood.command: False",
        "supybot.abuse.flood.interactive: False",
    ] if lifted else []
    (tmp / "bot.conf").write_text("\n".join([
        "supybot.nick: refbot",
        "supybot.ident: refbot",
        "supybot.networks: bench",
        f"supybot.networks.bench.servers: 127.0.0.1:{port}",
        f"supybot.networks.bench.channels: {' '.join(channels)}",
        "supybot.networks.bench.ssl: False",
        "supybot.plugins: Admin Owner Misc User HcoopMeetbot",
        "supybot.plugins.Admin: True", "supybot.plugins.Owner: True",
        "supybot.plugins.Misc: True", "supybot.plugins.User: True",
        "supybot.plugins.HcoopMeetbot: True",
        f"supybot.directories.conf: {tmp}/conf", f"supybot.directories.data: {tmp}/data",
        f"supybot.directories.log: {tmp}/logs", f"supybot.directories.backup: {tmp}/backup",
        f"supybot.directories.data.tmp: {tmp}/tmp",
        *limits,
        "supybot.flush: False",
        "supybot.log.stdout: False",
        "supybot.reply.whenNotCommand: False",
        "",
    ]))
    limnoria = python.parent / "limnoria"
    return spawn([str(limnoria), "--allow-root", str(tmp / "bot.conf")], tmp), out


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def run_reference(port: int, lines: list[str], tmp: Path, rate: float) -> Result:
    proc, out = start_reference(port, tmp)
    try:
        result = await drive(port, "refbot", lines, out, 3, "Minutes:", None, rate)
        result.peak_rss_kib = peak_rss_kib(proc.pid)
    finally:
        stop(proc)
    return result


@contextlib.contextmanager
def fresh_server(prefix: str) -> Iterator[tuple[Path, NgIrcd]]:
    """A new ngIRCd without flood limits (the speakers send at full speed) in a folder of
    its own, removed after."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        server = NgIrcd(Path(name), free_port(), flood_limits=False)
        server.start()
        try:
            yield Path(name), server
        finally:
            server.stop()


async def one_run(which: str, lines: list[str], rate: float,
                  store: str = stores.SQLITE, standbys: int = 0) -> Result:
    with fresh_server(f"bench-{which}-") as (tmp, server):
        if which == "openminutes":
            return await run_openminutes(server.port, lines, tmp, rate, store, standbys)
        return await run_reference(server.port, lines, tmp, rate)


def _fmt(values: list[float]) -> str:
    return (f"median {statistics.median(values):7.3f} s  (min {min(values):.3f}, "
            f"max {max(values):.3f})")


def report(name: str, results: list[Result]) -> dict[str, float]:
    print(f"\n{name} ({len(results)} runs)")
    commits = [r.catch_up_commit for r in results if r.catch_up_commit is not None]
    if commits:
        print(f"  (a) all lines committed     {_fmt(commits)}")
    print(f"  (a) reply to last line      {_fmt([r.catch_up_reply for r in results])}")
    print(f"  (b) files on disk           {_fmt([r.publish_files for r in results])}")
    print(f"  (b) end-of-meeting reply    {_fmt([r.publish_reply for r in results])}")
    print(f"  peak RSS                    {max(r.peak_rss_kib for r in results) / 1024:.1f} MiB")
    return {
        "commit": statistics.median(commits) if commits else float("nan"),
        "reply": statistics.median(r.catch_up_reply for r in results),
        "files": statistics.median(r.publish_files for r in results),
        "end": statistics.median(r.publish_reply for r in results),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="lines per second (default: all at once)")
    parser.add_argument("--no-reference", action="store_true")
    stores.add_storage_option(parser)
    args = parser.parse_args()
    chosen = stores.chosen(args)
    if not shutil.which("ngircd") and not os.path.exists("/usr/sbin/ngircd"):  # noqa: ASYNC240
        sys.exit("ngircd is needed: sh tests/install-servers.sh")
    WORK.mkdir(parents=True, exist_ok=True)
    lines = meeting_lines(args.lines)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {args.lines} lines, {args.runs} runs, "
          f"{f'{args.rate:g} lines/s' if args.rate else 'all at once'}; "
          + ", ".join(stores.server_version(store) for store in chosen))
    figures = {}
    for store in chosen:
        ours = [await one_run("openminutes", lines, args.rate, store)
                for _ in range(args.runs)]
        figures[store] = report(f"openminutes on {stores.label(store)}", ours)
    if len(chosen) > 1:
        print("\nside by side (medians, s)")
        for key, name in (("commit", "(a) all lines committed"), ("reply", "(a) reply"),
                          ("files", "(b) files on disk"), ("end", "(b) end-of-meeting reply")):
            print(f"  {name:26}" + "".join(
                f"  {stores.label(store)} {figures[store][key]:.3f}" for store in chosen)
                + f"  ({figures[chosen[1]][key] / figures[chosen[0]][key]:.2f}x)")
    mine = figures[chosen[0]]
    if args.no_reference:
        return
    theirs = [await one_run("reference", lines, args.rate) for _ in range(args.runs)]
    ref = report("hcoop-meetbot 0.8.1 on Limnoria (reference)", theirs)
    print("\nspeed-up (reference median / openminutes median)")
    print(f"  (a) catch-up, reply to last line  {ref['reply'] / mine['reply']:6.1f}x")
    print(f"  (a) our commit vs their reply     {ref['reply'] / mine['commit']:6.1f}x")
    print(f"  (b) files on disk                 {ref['files'] / mine['files']:6.1f}x")
    print(f"  (b) end-of-meeting reply          {ref['end'] / mine['end']:6.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
