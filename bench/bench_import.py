"""Import a generated archive of MeetBot logs and report lines per second and peak memory.

Usage: python bench/bench_import.py [--files 10000] [--lines 200] [--render]
       [--storage sqlite|URL ...]
Runs `python bot.py import` as a user would, for the full archive and for a tenth of it,
so that memory can be compared across archive sizes; on SQLite, or on each store given
with --storage in turn (bench/stores.py), printed side by side. hcoop-meetbot, the
reference bot, has no importer: there is nothing of it to measure here.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import stores  # noqa: E402


def write_archive(folder: Path, files: int, lines: int, first: int = 0) -> int:
    """MeetBot's layout: {channel}/{YYYY}/{name}.{YYYY-MM-DD-HH.MM}.log.txt; meetings
    numbered from `first` (parts of one archive do not repeat each other)."""
    total = 0
    for n in range(first, first + files):
        year = 2010 + n % 15
        day = f"{year}-{1 + n % 12:02d}-{1 + n % 28:02d}"
        channel = f"project{n % 20}"
        # A name per meeting keeps every file distinct, as in a real archive.
        path = (folder / channel / str(year)
                / f"{channel}-{n}.{day}-{n % 24:02d}.{n % 60:02d}.log.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = [f"{n % 24:02d}:{n % 60:02d}:00 <chair{n % 7}> #startmeeting {channel}"]
        for i in range(1, lines - 1):
            minute, second = divmod(i, 60)
            stamp = f"{n % 24:02d}:{(n + minute) % 60:02d}:{second:02d}"
            if i % 40 == 0:
                text = f"#topic subject {i}"
            elif i % 17 == 0:
                text = f"#action alice{n % 5} to follow up item {i}"
            elif i % 23 == 0:
                text = f"#agreed decision {i} of meeting {n}"
            else:
                text = f"discussing item {i} of meeting {n} with everyone"
            speaker = f"chair{n % 7}" if text.startswith(("#topic", "#agreed")) else (
                f"{'alice' if i % 3 else 'bob'}{n % 5}")
            body.append(f"{stamp} <{speaker}> {text}")
        body.append(f"{n % 24:02d}:59:59 <chair{n % 7}> #endmeeting")
        path.write_text("\n".join(body) + "\n")
        total += len(body)
    return total


def run_import(archive: Path, work: Path, render: bool, url: str) -> tuple[float, int, str]:
    config = work / "config.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n'
                      f'[publish]\ndir = "{work}/minutes"\n')
    args = [sys.executable, str(ROOT / "bot.py"), "import", str(archive), "-c", str(config)]
    if not render:
        args.append("--no-render")
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kib, done.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--render", action="store_true", help="also write every meeting's files")
    parser.add_argument("--growth", type=int, default=0, metavar="PARTS",
                        help="import PARTS archives of --files logs each, one after the "
                             "other, into one database: the rate as the archive grows")
    stores.add_storage_option(parser)
    args = parser.parse_args()
    chosen = stores.chosen(args)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; "
          + ", ".join(stores.server_version(store) for store in chosen))
    print("reference: hcoop-meetbot has no importer; nothing to compare with")
    if args.growth:
        growth(args, chosen)
        return
    rates: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as name:
        base = Path(name)
        sizes = (max(args.files // 10, 1), args.files)
        for files in sizes:
            archive = base / f"archive-{files}"
            total = write_archive(archive, files, args.lines)
            for store in chosen:
                work = base / f"work-{files}-{stores.label(store)}"
                work.mkdir()
                # RUSAGE_CHILDREN keeps the largest child so far: run the small archive
                # first.
                seconds, peak, line = run_import(archive, work, args.render,
                                                 stores.fresh_url(store, work))
                rates[(store, files)] = total / seconds
                print(f"{stores.label(store):10} {files:>6} files, {total:>9,} lines: "
                      f"{seconds:6.1f} s, {total / seconds:9,.0f} lines/s, peak RSS so far "
                      f"{peak / 1024:6.1f} MiB{' (with rendering)' if args.render else ''}")
                print(f"        bot said: {line}")
            shutil.rmtree(archive)
    if len(chosen) > 1:
        print("\nside by side (lines/s, whole command)")
        for files in sizes:
            print(f"  {files:>6} files: " + ", ".join(
                f"{stores.label(store)} {rates[(store, files)]:,.0f}" for store in chosen))


def growth(args: argparse.Namespace, chosen: list[str]) -> None:
    """Is the import rate flat? The same amount imported again and again into one archive."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as name:
        base = Path(name)
        for store in chosen:
            work = base / f"work-{stores.label(store)}"
            work.mkdir()
            url = stores.fresh_url(store, work)
            held = 0
            for part in range(args.growth):
                archive = base / f"part-{part}"
                total = write_archive(archive, args.files, args.lines, part * args.files)
                seconds, peak, _ = run_import(archive, work, args.render, url)
                print(f"{stores.label(store):10} part {part + 1}: {total:,} lines into "
                      f"{held:,}: {total / seconds:9,.0f} lines/s, peak RSS so far "
                      f"{peak / 1024:6.1f} MiB")
                held += total
                shutil.rmtree(archive)


if __name__ == "__main__":
    main()
