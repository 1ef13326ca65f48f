"""The archive at scale: search latency against grep, publishing one more meeting, and a
full rebuild.

Usage: python bench/bench_archive.py [--meetings 50000] [--lines 200] [--series 100]
       [--keep DIR [--measure-only [--explain]]] [--no-rebuild] [--storage sqlite|URL ...]
Generates MeetBot logs over 12 years, imports them (`bot.py import --no-render`), rebuilds
every page (`bot.py render --all`), then measures in one run:
- search p50/p95 over ten queries (20 runs each), beside `grep -ril` for the same words
  over the same logs, which is what auditors do today;
- publishing one more meeting into that archive, against publishing one into an empty one.
With `--storage` given for SQLite and for PostgreSQL, each is filled and measured in turn
and the figures are printed side by side (see bench/stores.py).
The reference bot (hcoop-meetbot) has no archive or search to compare with.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import stores  # noqa: E402
from openminutes.meetings.engine import Engine  # noqa: E402
from openminutes.meetings.model import Line, LineKind  # noqa: E402
from openminutes.meetings.state import Meeting, MeetingSettings  # noqa: E402
from openminutes.plugins import default_registry  # noqa: E402
from openminutes.publish.files import stem_candidates, stem_for  # noqa: E402
from openminutes.publish.publisher import Publisher  # noqa: E402
from openminutes.publish.render import preload  # noqa: E402
from openminutes.storage import Storage  # noqa: E402
from openminutes.storage.records import MeetingRef  # noqa: E402
from openminutes.storage.search import Filters, explain  # noqa: E402

WORDS = ["release", "charter", "budget", "security", "review", "kernel", "docs", "ci",
         "mirror", "translation", "packaging", "infra", "meetup", "deadline", "governance"]
QUERIES = [("security", Filters()), ("release deadline", Filters()),
           ('"security review"', Filters()), ("charter", Filters(kind="decision")),
           ("budget", Filters(kind="action")), ("kernel -docs", Filters()),
           ("mirror OR infra", Filters()), ("translation", Filters(series="series7")),
           ("governance", Filters(person="alice3")),
           ("packaging", Filters(since=datetime(2020, 1, 1, tzinfo=UTC)))]
DB = "archive.db"  # the SQLite file in the work folder
BASE_URL = "https://minutes.example.org"  # with --one-core


def write_archive(folder: Path, meetings: int, lines: int, series: int) -> int:
    total = 0
    for n in range(meetings):
        name = f"series{n % series}"
        start = datetime(2014, 1, 1, 15, tzinfo=UTC) + timedelta(
            days=(n * 12 * 365) // meetings, hours=n % 6)
        path = folder / name / f"{start:%Y}" / f"{name}.{start:%Y-%m-%d-%H.%M}-{n}.log.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = [f"{start:%H:%M}:00 <chair{n % 9}> #startmeeting {name}"]
        for i in range(1, lines - 1):
            t = start + timedelta(seconds=15 * i)
            word, other = WORDS[(n + i) % len(WORDS)], WORDS[(n * 7 + i * 3) % len(WORDS)]
            if i % 40 == 0:
                text, nick = f"#topic {word} and {other}", f"chair{n % 9}"
            elif i % 29 == 0:
                text, nick = f"#agreed the {word} {other} plan for {n}", f"chair{n % 9}"
            elif i % 17 == 0:
                text, nick = f"#action alice{n % 5} to handle the {word} {other}", "bob"
            else:
                text, nick = f"we talked about the {word} {other} item {i}", f"alice{i % 7}"
            body.append(f"{t:%H:%M:%S} <{nick}> {text}")
        end = start + timedelta(seconds=15 * lines)
        body.append(f"{end:%H:%M:%S} <chair{n % 9}> #endmeeting")
        path.write_text("\n".join(body) + "\n")
        total += len(body)
    return total


def bot(config: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "-c", str(config)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # Say why, then go on measuring what can be measured.
        print(f"`bot.py {' '.join(args)}` exited with {done.returncode}:\n"
              f"{done.stderr[-3000:]}{done.stdout[-1000:]}")
    return time.perf_counter() - started


async def publish_one(storage: Storage, out: Path, n: int) -> float:
    """Publish a fresh 200-line meeting of series0 (with items, as the generated ones have);
    seconds from start to all pages."""
    engine = Engine(default_registry())
    start = datetime(2026, 6, 1, 15, tzinfo=UTC) + timedelta(days=n)
    lines = [Line(1, start, LineKind.MESSAGE, "chair", "#startmeeting series0")]
    # Like the generated meetings: topics, decisions and action items among the chat.
    said = {40: "#topic the release", 29: "#agreed ship the release", 17: "#action bob to tag"}
    lines += [Line(i, start + timedelta(seconds=i), LineKind.MESSAGE, "chair",
                   next((text for every, text in said.items() if i % every == 0), f"line {i}"))
              for i in range(2, 200)]
    lines.append(Line(200, start + timedelta(seconds=200), LineKind.MESSAGE, "chair",
                      "#endmeeting"))
    ref = MeetingRef("bench", "#series0", start)
    ref = (await storage.write_lines([(ref, line) for line in lines])).stored(ref)
    assert ref.id is not None
    meeting = engine.replay(Meeting("bench", "#series0", MeetingSettings()), lines)
    publisher = Publisher(storage, out)
    began = time.perf_counter()
    await publisher.publish(ref.id, meeting)
    return time.perf_counter() - began


async def claim_paths(url: str) -> float:
    """What a rebuild does to the database, without writing the files: give every meeting
    its output path, so that it counts as published (searchable, listed). Seconds."""
    began = time.perf_counter()
    storage = await Storage.open(url, durable=False)
    for record in await storage.meetings():
        if record.stem is None and record.ended_at is not None:
            await storage.claim_stem(record.id, stem_candidates(
                stem_for(record.name, record.started_at)))
    # As an import that renders leaves it: there, paths are claimed before it analyses.
    await storage.analyze()
    await storage.close()
    return time.perf_counter() - began


def grep_seconds(word: str, logs: Path) -> float:
    began = time.perf_counter()
    subprocess.run(["grep", "-ril", word, str(logs)], capture_output=True, check=False)
    return time.perf_counter() - began


@dataclass
class Figures:
    """One store's search and publishing figures."""

    store: str
    queries: list[tuple[str, float, float, int]] = field(default_factory=list)
    p50: float = 0.0
    p95: float = 0.0
    publish_big: float = 0.0
    publish_empty: float = 0.0


def query_label(query: str, filters: Filters) -> str:
    extra = filters.kind or filters.series or filters.person or (
        f"since {filters.since:%Y}" if filters.since else "")
    return f"{query}{', ' + extra if extra else ''}"


async def measure(store: str, url: str, work: Path, logs: Path, grep: bool) -> Figures:
    preload()  # as `run` and `serve` do at start
    storage = await Storage.open(url)
    figures = Figures(store)
    print(f"{stores.label(store)}: search (20 runs each; ms)   p50     p95    hits"
          f"{'   grep -ril (s)' if grep else ''}")
    everything: list[float] = []
    for query, filters in QUERIES:
        runs = []
        for _ in range(20):
            began = time.perf_counter()
            page = await storage.search(query, filters)
            runs.append((time.perf_counter() - began) * 1000)
        everything += runs
        p50, p95 = statistics.median(runs), statistics.quantiles(runs, n=20)[18]
        figures.queries.append((query_label(query, filters), p50, p95, page.total))
        seconds = ""
        if grep:
            word = query.strip('"').split()[0]
            seconds = f"{await asyncio.to_thread(grep_seconds, word, logs):10.2f}"
        print(f"  {query_label(query, filters)[:36]:36} {p50:7.1f} {p95:7.1f} "
              f"{page.total:7} {seconds}")
    figures.p50 = statistics.median(everything)
    figures.p95 = statistics.quantiles(everything, n=20)[18]
    print(f"  all queries: p50 {figures.p50:.1f} ms, p95 {figures.p95:.1f} ms")
    big = [await publish_one(storage, work / "minutes", n) for n in range(5)]
    await storage.close()
    empty_dir = work / "empty"
    empty_dir.mkdir(exist_ok=True)
    # PostgreSQL: a second database beside the archive's, on the same server.
    beside = store if store == stores.SQLITE else f"{store}_empty"
    empty = await Storage.open(stores.fresh_url(beside, empty_dir, "empty.db"))
    small = [await publish_one(empty, empty_dir / "minutes", n) for n in range(5)]
    await empty.close()
    figures.publish_big, figures.publish_empty = statistics.median(big), statistics.median(small)
    print(f"  publish one more meeting: {figures.publish_big * 1000:.0f} ms into this "
          f"archive, {figures.publish_empty * 1000:.0f} ms into an empty one "
          f"({figures.publish_big / figures.publish_empty:.1f}x)")
    return figures


async def print_plans(url: str) -> None:
    """PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of every statement of each query, as it
    runs (the first page of results)."""
    storage = await Storage.open(url)
    try:
        for query, filters in QUERIES:
            plans = await explain(storage.engine, query, filters)
            print(f"\n=== {query_label(query, filters)}: {len(plans)} statements")
            for plan in plans:
                print(plan, end="\n\n")
    finally:
        await storage.close()


def side_by_side(results: list[Figures]) -> None:
    if len(results) < 2:
        return
    names = [stores.label(r.store) for r in results]
    print("\nside by side (ms)                     "
          + "".join(f"{name + ' p50':>16}{name + ' p95':>16}" for name in names))
    for n, (query, _, _, _) in enumerate(results[0].queries):
        print(f"  {query[:36]:36}" + "".join(
            f"{r.queries[n][1]:16.1f}{r.queries[n][2]:16.1f}" for r in results))
    print(f"  {'all queries':36}" + "".join(f"{r.p50:16.1f}{r.p95:16.1f}" for r in results))
    print(f"  {'publish: archive / empty':36}" + "".join(
        f"{r.publish_big * 1000:16.0f}{r.publish_empty * 1000:16.0f}" for r in results))


def _same_tree(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meetings", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--no-rebuild", action="store_true",
                        help="skip the full rebuild (half an hour at the default scale); "
                             "only claim the meetings' output paths, as it would")
    parser.add_argument("--one-core", action="store_true",
                        help="rebuild on one core first too, and compare the files")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure search and publishing on the archive kept in --keep")
    parser.add_argument("--explain", action="store_true",
                        help="with --measure-only: print PostgreSQL's plan of every statement "
                             "of each query (EXPLAIN (ANALYZE, BUFFERS)) instead")
    stores.add_storage_option(parser)
    args = parser.parse_args()
    chosen = stores.chosen(args)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; "
          + ", ".join(stores.server_version(store) for store in chosen))
    if args.measure_only:
        if args.keep is None:
            parser.error("--measure-only needs --keep DIR")
        if args.explain:
            for store in chosen:
                if store != stores.SQLITE:
                    asyncio.run(print_plans(store))
            return
        side_by_side([asyncio.run(measure(store, stores.kept_url(store, args.keep, DB),
                                          args.keep, args.keep / "logs", grep=n == 0))
                      for n, store in enumerate(chosen)])
        return
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as name:
        work = args.keep or Path(name)
        work.mkdir(parents=True, exist_ok=True)
        logs = work / "logs"
        began = time.perf_counter()
        total = write_archive(logs, args.meetings, args.lines, args.series)
        print(f"{args.meetings:,} meetings, {total:,} lines, {args.series} series, 12 years "
              f"(generated in {time.perf_counter() - began:.0f} s)")
        results = []
        for n, store in enumerate(chosen):
            url = stores.fresh_url(store, work, DB)
            config = work / "config.toml"
            config.write_text(f'[storage]\nurl = "{url}"\n'
                              f'[publish]\ndir = "{work}/minutes"\n'
                              + (f'base_url = "{BASE_URL}"\n' if args.one_core else ""))
            seconds = bot(config, "import", str(logs), "--no-render", "-q")
            print(f"{stores.label(store)}: import (no render): {seconds:.0f} s, "
                  f"{total / seconds:,.0f} lines/s")
            if args.no_rebuild:
                seconds = asyncio.run(claim_paths(url))
                print(f"  no rebuild; output paths claimed as it would ({seconds:.0f} s)")
            else:
                if args.one_core:
                    one = work / "one-core.toml"
                    # The same base URL for both: pages name it, not the folder.
                    one.write_text(f'[storage]\nurl = "{url}"\n'
                                   f'[publish]\ndir = "{work}/minutes-one-core"\n'
                                   f'base_url = "{BASE_URL}"\n')
                    print(f"  full rebuild on one core (render --all --jobs 1): "
                          f"{bot(one, 'render', '--all', '--jobs', '1'):.0f} s")
                print(f"  full rebuild on {os.cpu_count()} cores (render --all): "
                      f"{bot(config, 'render', '--all'):.0f} s")
                if args.one_core:
                    same = _same_tree(work / "minutes-one-core", work / "minutes")
                    print(f"  the two rebuilds' files are {'' if same else 'NOT '}"
                          "byte-identical")
            results.append(asyncio.run(measure(store, url, work, logs, grep=n == 0)))
        side_by_side(results)


if __name__ == "__main__":
    main()
