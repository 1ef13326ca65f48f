"""Starting everything `run` needs, and the other subcommands' work."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from openminutes.chat.base import jittered_backoff
from openminutes.chat.console import ConsoleAdapter
from openminutes.chat.irc import IrcAdapter
from openminutes.importer.run import Importer, Summary
from openminutes.meetings.engine import Engine
from openminutes.meetings.nicks import fold
from openminutes.meetings.registry import Registry
from openminutes.meetings.state import MeetingSettings
from openminutes.meetings.votes import Threshold, VoteRule
from openminutes.notify import Notifier
from openminutes.plugins import default_registry
from openminutes.publish.files import inside, write_atomic
from openminutes.publish.publisher import Publisher
from openminutes.publish.render import preload
from openminutes.runtime.config import Config, ConfigError
from openminutes.runtime.group import RecorderGroup, Timing
from openminutes.runtime.metrics import bot_health, bot_registry
from openminutes.runtime.recorder import Recorder, Sender
from openminutes.runtime.timekeeper import Targets, Timekeeper
from openminutes.schedules.model import Series, load_dir
from openminutes.schedules.recurrence import SeriesSchedule, check_overlaps
from openminutes.storage import MeetingRecord, Storage
from openminutes.storage.group import WHOLE_NETWORK
from openminutes.storage.search import Filters, SearchPage
from openminutes.web.healthcheck import HealthCheck

if TYPE_CHECKING:  # imported where used: a bot without Matrix never loads nio, nor
    # aiohttp's server without a listener
    from aiohttp import web

    from openminutes.chat.matrix import MatrixAdapter

log = logging.getLogger(__name__)


def load_schedule(config: Config) -> list[Series]:
    """The meeting series of [schedule] dir, checked; ScheduleError names file and field."""
    if not config.schedule.dir:
        return []
    series = load_dir(Path(config.schedule.dir))
    check_overlaps(series, datetime.now(UTC).date())
    return series


def write_calendars(series: list[Series], root: Path, base_url: str) -> None:
    """iCal feeds in the archive: `schedule.ics` for everything, `{name}/schedule.ics` for
    each series; each event links to its series' page of minutes."""
    if not series:
        return
    base = base_url.rstrip("/")
    page = f"{base}/{{name}}/" if base else str(root / "{name}" / "index.html")
    today = datetime.now(UTC).date()
    from openminutes.schedules.ical import calendar  # icalendar: only with series
    feeds = {"schedule.ics": calendar(series, today=today, archive_url=page)}
    by_folder: dict[str, list[Series]] = {}
    for s in series:  # series that share a meeting_id share its folder and its feed
        by_folder.setdefault(s.meeting_id, []).append(s)
    for folder, members in by_folder.items():
        feeds[f"{folder}/schedule.ics"] = calendar(
            members, today=today, archive_url=page,
            name=" / ".join(dict.fromkeys(s.project for s in members)))
    for relative, data in feeds.items():
        write_atomic(inside(root, relative), data.decode("utf-8"), durable=False)


def settings_of(config: Config, series: list[Series] | None = None) -> MeetingSettings:
    votes = config.votes
    return MeetingSettings(
        prefixes=(config.meetings.command_prefix,),
        max_length=timedelta(minutes=config.meetings.max_length_minutes),
        vote_rule=VoteRule(votes.quorum, Threshold(votes.threshold), votes.abstentions_count),
        channel_vote_rules=tuple(
            (fold(c.channel), VoteRule(c.quorum, Threshold(c.threshold), c.abstentions_count))
            for c in votes.channel
        ),
        network_prefixes=tuple(
            (m.name, tuple(dict.fromkeys([config.meetings.command_prefix, *m.command_prefixes])))
            for m in config.matrix
        ),
        schedule=SeriesSchedule(series) if series else None,
    )


def registry_of(config: Config) -> Registry:
    """The bundled plugins and those `plugins.extra` names; a module that cannot be
    imported or declares a name twice is a config error naming it."""
    try:
        return default_registry(config.plugins.extra)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"plugins.extra: {exc}") from exc


@dataclass
class Services:
    storage: Storage
    engine: Engine
    publisher: Publisher
    settings: MeetingSettings
    series: list[Series]


async def open_services(config: Config, *, durable: bool = True,
                        scrub: bool = False) -> Services:
    """`scrub`: deleted text is zeroed in a SQLite file (see Storage.open)."""
    series = load_schedule(config)
    storage = await Storage.open(config.storage.url, durable=durable, scrub=scrub)
    return Services(
        storage, Engine(registry_of(config)),
        Publisher(storage, Path(config.publish.dir), config.publish.base_url),
        settings_of(config, series), series,
    )


def _join_group(config: Config, storage: Storage, recorder: Recorder,
                adapters: Sequence[Any]) -> RecorderGroup | None:
    """On PostgreSQL, the networks are shared with the other `run` processes on the
    database: this one records the IRC channels whose lease it holds, and syncs a Matrix
    network (all its rooms: one sync stream) while it holds that network's lease."""
    irc = [a for a in adapters if isinstance(a, IrcAdapter)]
    matrix_names = {m.name for m in config.matrix}
    matrix = [a for a in adapters if a.name in matrix_names]
    if storage.group is None or not irc + matrix:
        return None
    rooms = {(a.name, channel.lower()): channel for a in irc for channel in a.config.channels}
    rooms.update({(a.name, WHOLE_NETWORK): WHOLE_NETWORK for a in matrix})
    by_name = {a.name: a for a in irc}
    settings = config.recorders
    group = RecorderGroup(
        storage.group,
        Timing(settings.lease_seconds, settings.renew_seconds,
               timedelta(minutes=settings.buffer_minutes)),
        [*by_name, *(a.name for a in matrix)],
        rooms=lambda: {key: key[1] == WHOLE_NETWORK or by_name[key[0]].joined(name)
                       for key, name in rooms.items()},
        nicks=lambda: {**{a.name: a.nick for a in irc},
                       **{a.name: a.config.user_id for a in matrix}})
    recorder.join_group(group, rooms)
    for adapter in irc:
        adapter.speaks = functools.partial(group.may_speak, adapter.name)
    for account in matrix:
        account.speaks = functools.partial(group.may_speak, account.name)
    return group


def _targets(config: Config, adapters: dict[str, Any],
             speaks: Callable[[str, str], bool] | None = None) -> Targets:
    """Where a schedule's room is: the networks that have joined it (in a recorder
    group, only where this process records the room)."""
    def find(room: str) -> list[tuple[Sender, str]]:
        networks = [irc.name for irc in config.irc
                    if any(fold(c) == fold(room) for c in irc.channels)]
        networks += [m.name for m in config.matrix
                     if any(r.lower() == room.lower() for r in m.rooms)]
        return [(adapters[name], room) for name in networks if name in adapters
                and (speaks is None or name not in speaking or speaks(name, room))]
    speaking = {irc.name for irc in config.irc}  # the networks a group shares
    return find


async def run_bot(config: Config) -> None:
    services = await open_services(config)
    await asyncio.to_thread(preload)
    notify = config.notify
    notifier = Notifier(notify) if notify.webhook or notify.email.to else None
    recorder = Recorder(services.storage, services.engine, services.publisher, services.settings,
                        config.storage.max_pending_lines, notifier)
    await asyncio.to_thread(write_calendars, services.series, Path(config.publish.dir),
                            config.publish.base_url)
    adapters = _adapters(config, services.storage)
    matrix_names = {m.name for m in config.matrix}
    if not adapters:
        log.warning("no [[irc]] networks or [[matrix]] homeservers are configured; "
                    "nothing to do")
    for adapter in adapters:
        recorder.senders[adapter.name] = adapter
    group = _join_group(config, services.storage, recorder, adapters)
    lock = services.storage.hold_single_recorder()  # InUseError: another run has the file
    if group is None:
        # After the senders: resuming announces itself (queued until each network is
        # joined). In a group, each room is resumed when its lease is taken.
        await recorder.resume()
    networks = [a for a in adapters if not isinstance(a, ConsoleAdapter)]
    registry = bot_registry(recorder, networks)
    syncing: dict[str, asyncio.Task[None]] = {}  # Matrix networks this process records
    health = bot_health(services.storage, networks, expected=(
        lambda name: name not in {m.name for m in config.matrix} or name in syncing)
        if group is not None else lambda _name: True)
    runner = await start_web(config, services, health=health, metrics=registry) \
        if config.web.enabled else None
    probes = await start_metrics(config.metrics.listen, health, registry) \
        if config.metrics.listen else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    recording = asyncio.create_task(recorder.run())
    renewing = asyncio.create_task(group.run()) if group is not None else None
    timekeeper = Timekeeper(
        recorder, services.series, services.storage,
        _targets(config, {a.name: a for a in adapters},
                 group.may_speak if group is not None else None),
        reminder_minutes=config.schedule.reminder_minutes, auto_end=config.meetings.auto_end)
    timekeeper.start()
    running = [asyncio.create_task(
        a.run(recorder.submit) if isinstance(a, ConsoleAdapter) else _supervised(a, recorder))
        for a in adapters if not (group is not None and a.name in matrix_names)]
    matrix_of = {a.name: a for a in adapters
                 if not isinstance(a, ConsoleAdapter) and a.name in matrix_names}

    def sync_network(name: str, taken: bool) -> None:
        # A group's Matrix network is synced only by the process that holds its lease.
        if taken and name not in syncing:
            syncing[name] = asyncio.create_task(_supervised(matrix_of[name], recorder))
        elif not taken and name in syncing:
            syncing.pop(name).cancel()

    recorder.on_network = sync_network
    stopper = asyncio.create_task(stop.wait())
    # The console ends at end of input; networks run until a signal.
    await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
    await timekeeper.stop()
    await recorder.drained()
    if notifier is not None:
        await notifier.drain()
    if renewing is not None:
        renewing.cancel()
    for adapter in adapters:
        await adapter.close()  # says what is queued first, while the leases last
    if group is not None:
        await group.release()  # the standbys take the rooms at their next renewal
    for task in (*running, *syncing.values(), stopper, recording):
        task.cancel()
    await asyncio.gather(*running, *syncing.values(), stopper, recording,
                         return_exceptions=True)
    if lock is not None:
        lock.close()
    for started in (runner, probes):
        if started is not None:
            await started.cleanup()
    await services.storage.close()


def _adapters(config: Config, storage: Storage
              ) -> list[IrcAdapter | MatrixAdapter | ConsoleAdapter]:
    if config.console:
        return [ConsoleAdapter()]
    adapters: list[IrcAdapter | MatrixAdapter | ConsoleAdapter] = [
        IrcAdapter(irc, storage) for irc in config.irc]
    if config.matrix:  # nio and its crypto only where Matrix is configured (memory)
        from openminutes.chat.matrix import MatrixAdapter
        adapters += [MatrixAdapter(matrix, storage) for matrix in config.matrix]
    return adapters


async def _supervised(adapter: IrcAdapter | MatrixAdapter, recorder: Recorder) -> None:
    """A network's adapter, started again with backoff whenever it fails: one network
    that cannot log in or breaks never stops the others."""
    attempt = 0
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await adapter.run(recorder.submit)
            return  # closed
        except Exception:
            log.exception("%s: the connection failed", adapter.name)
        if asyncio.get_running_loop().time() - started > 60:
            attempt = 0
        delay = jittered_backoff(attempt, 300.0)
        attempt += 1
        log.info("%s: starting again in %.0fs", adapter.name, delay)
        await asyncio.sleep(delay)


async def list_meetings(config: Config) -> list[MeetingRecord]:
    storage = await Storage.open(config.storage.url)
    try:
        return await storage.meetings()
    finally:
        await storage.close()




async def list_items(config: Config, kinds: tuple[str, ...],
                     **filters: Any) -> list[dict[str, Any]]:
    """Decisions or action items across meetings, newest first, each with its line's URL."""
    services = await open_services(config)
    try:
        records = await services.storage.items(kinds, **filters)
        return [r.as_dict(services.publisher.line_url(r.meeting.stem, r.line))
                for r in records]
    finally:
        await services.storage.close()


async def import_logs(config: Config, paths: list[Path], *, network: str, day: date | None,
                      channel: str | None, render: bool, progress: bool) -> Summary:
    """`import`: older bots' logs into storage and the archive. Commits are not synced
    one by one: an import interrupted by a crash is simply run again."""
    services = await open_services(config, durable=False)
    try:
        importer = Importer(services.storage, services.engine, services.publisher,
                            services.settings, network=network, day=day, channel=channel,
                            render=render)
        return await importer.run(paths, progress=progress)
    finally:
        await services.storage.close()


async def search(config: Config, query: str, filters: Filters, *, limit: int,
                 offset: int = 0) -> tuple[SearchPage, list[dict[str, Any]]]:
    services = await open_services(config)
    try:
        page = await services.storage.search(query, filters, limit=limit, offset=offset)
        return page, [h.as_dict(services.publisher.line_url(h.meeting.stem, h.line))
                      for h in page.hits]
    finally:
        await services.storage.close()


async def start_web(config: Config, services: Services, *,
                    health: HealthCheck | None = None,
                    metrics: CollectorRegistry | None = None) -> web.AppRunner:
    """The archive server on [web] listen (with /healthz and /metrics); stopped with
    runner.cleanup()."""
    from openminutes.web.app import ArchiveRunner, create_app  # serving only
    from openminutes.web.live import LiveMeetings
    from openminutes.web.ratelimit import RateLimiter

    limiter = RateLimiter(config.web.search_rate, config.web.search_burst)
    runner = ArchiveRunner(create_app(services.storage, services.publisher, limiter,
                                      services.engine.registry, health=health,
                                      metrics=metrics,
                                      live=LiveMeetings(
                                          services.storage, services.engine,
                                          services.settings,
                                          max_streams=config.web.live_streams,
                                          per_client=config.web.live_streams_per_client)),
                           idle_timeout=config.web.idle_timeout)
    await _listen(runner, config.web.listen)
    log.info("archive served on http://%s/", config.web.listen)
    return runner


async def start_metrics(listen: str, health: HealthCheck,
                        metrics: CollectorRegistry) -> web.AppRunner:
    """/healthz and /metrics alone, on [metrics] listen."""
    from aiohttp import web

    from openminutes.web.health import health_app

    runner = web.AppRunner(health_app(health, metrics), access_log=None)
    await _listen(runner, listen)
    log.info("health and metrics on http://%s/", listen)
    return runner


async def _listen(runner: web.AppRunner, listen: str) -> None:
    """Start `runner` on HOST:PORT (checked by the config; [::1] for IPv6)."""
    from aiohttp import web

    host, _, port = listen.rpartition(":")
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]"), int(port)).start()


async def serve(config: Config) -> None:
    """`serve`: the archive and its search, until SIGINT or SIGTERM."""
    services = await open_services(config)
    runner = await start_web(config, services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await services.storage.close()
