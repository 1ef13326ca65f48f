"""`render`: meetings written again from their stored lines, on every core.

Three steps, so that the output is the same whatever the number of processes:
1. every meeting to render is given its output path, in id order (as one process
   rendering them in turn would), so each page can name its neighbours at once;
2. the meetings are replayed and written by `jobs` processes, a chunk at a time, each
   with its own database connection; no page is rewritten for a neighbour's sake;
3. the series' decision registers, calendars and archive pages, once, in this process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from openminutes.runtime.app import Services, open_services, write_calendars
from openminutes.runtime.config import Config
from openminutes.runtime.recorder import replay_stored

log = logging.getLogger(__name__)

CHUNK = 25  # meetings a process takes at a time: small enough to share the tail evenly


class Outcome(NamedTuple):
    meeting_id: int  # 0: an archive page, not a meeting
    text: str  # the minutes' URL (or path, without a base URL), or what went wrong
    ok: bool = False


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1


async def render(config: Config, ids: list[int] | None, *, jobs: int = 1,
                 progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Re-render meetings (all of them: `ids` None) and then the archive's pages; returns
    (id, minutes URL or reason) per meeting, and (0, reason) per page that failed."""
    services = await open_services(config)
    try:
        records = await services.storage.meetings()
        wanted = records if ids is None else [r for r in records if r.id in set(ids)]
        missing = set(ids or ()) - {r.id for r in wanted}
        results: list[Outcome] = [Outcome(i, "no such meeting") for i in sorted(missing)]
        for record in wanted:
            if record.stem is None and record.ended_at is not None:
                await services.publisher.claim(record.id, record.name, record.started_at)
        results += await _render_all(services, config, [r.id for r in wanted], jobs,
                                     progress)
        # The series pages, decision registers, year pages and feeds, once each.
        published = await services.storage.published()
        names = sorted({r.name for r in published})
        for name in names:
            try:
                await services.publisher.write_decisions(name)
            except Exception as exc:
                log.error("the decision register of %s could not be written: %r", name, exc)
                results.append(Outcome(0, f"failed: decision register of {name}: {exc!r}"))
        try:
            # Calendars first: the series pages link to them.
            await asyncio.to_thread(write_calendars, services.series,
                                    Path(config.publish.dir), config.publish.base_url)
            await services.publisher.archive.update(
                names, {(r.started_at.year, r.started_at.month) for r in published})
        except (OSError, ValueError) as exc:
            log.error("the archive pages could not all be written: %s", exc)
            results.append(Outcome(0, f"failed: archive pages: {exc}"))
        return results
    finally:
        await services.storage.close()


async def _render_all(services: Services, config: Config, ids: Sequence[int], jobs: int,
                      progress: Callable[[int, int], None] | None) -> list[Outcome]:
    chunks = [list(ids[n:n + CHUNK]) for n in range(0, len(ids), CHUNK)]
    done: list[Outcome] = []

    def count(outcomes: list[Outcome]) -> None:
        done.extend(outcomes)
        if progress is not None:
            progress(len(done), len(ids))

    if jobs <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            count(await _render_meetings(services, chunk))
        return done
    loop = asyncio.get_running_loop()
    # spawn: a fork of this process would carry its event loop and database threads.
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)),
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(config,)) as pool:
        pending = [loop.run_in_executor(pool, _render_in_worker, chunk) for chunk in chunks]
        for finished in asyncio.as_completed(pending):
            count(await finished)
    order = {meeting_id: n for n, meeting_id in enumerate(ids)}
    return sorted(done, key=lambda outcome: order[outcome.meeting_id])


# A worker process's own event loop and services, kept from chunk to chunk.
_worker: tuple[asyncio.AbstractEventLoop, Services] | None = None


def _start_worker(config: Config) -> None:
    global _worker
    loop = asyncio.new_event_loop()
    _worker = (loop, loop.run_until_complete(open_services(config)))


def _render_in_worker(ids: list[int]) -> list[Outcome]:
    assert _worker is not None
    loop, services = _worker
    return loop.run_until_complete(_render_meetings(services, ids))


async def _render_meetings(services: Services, ids: list[int]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for meeting_id in ids:
        record = await services.storage.meeting(meeting_id)
        assert record is not None
        meeting = await replay_stored(services.storage, services.engine, record,
                                      services.settings)
        if not meeting.started:
            outcomes.append(Outcome(meeting_id, "never started; nothing to render"))
            continue
        try:
            published = await services.publisher.publish(
                meeting_id, meeting, series_page=False, relink=False)
        except Exception as exc:  # reported, and the other meetings are rendered
            log.error("meeting %s could not be rendered: %r", meeting_id, exc,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            outcomes.append(Outcome(meeting_id, f"failed: {exc!r}"))
            continue
        outcomes.append(Outcome(meeting_id, published.urls["html"], ok=True))
    return outcomes


def terminal_progress(done: int, total: int) -> None:
    """`rendered 1200 of 50000 meetings` on one line of a terminal (nothing otherwise)."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rrendered {done} of {total} meetings", end=end, file=sys.stderr, flush=True)
