"""What `run` reports on /metrics and /healthz: read at scrape time from the plain
numbers the recorder and the adapters keep, so neither knows about Prometheus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from openminutes.runtime.recorder import Recorder
from openminutes.storage.protocols import SearchIndex
from openminutes.web.healthcheck import database_problems


class Observed(Protocol):
    """An adapter as /metrics sees it."""

    name: str
    reconnects: int
    delayed: int

    @property
    def connected(self) -> bool: ...

    @property
    def waiting(self) -> int: ...


class _BotCollector(Collector):
    def __init__(self, recorder: Recorder, adapters: Sequence[Observed]) -> None:
        self.recorder = recorder
        self.adapters = adapters

    def collect(self) -> Iterator[Metric]:
        r = self.recorder
        yield CounterMetricFamily("openminutes_lines_recorded", "Lines committed to the database",
                                  value=r.recorded)
        yield CounterMetricFamily("openminutes_lines_refused",
                                  "Lines not recorded: too many waited for the database",
                                  value=r.refused)
        yield GaugeMetricFamily("openminutes_meetings_open", "Meetings open now",
                                value=len(r.open))
        yield GaugeMetricFamily("openminutes_lines_waiting", "Lines not yet committed",
                                value=r.waiting)
        queue = GaugeMetricFamily("openminutes_send_queue_lines", "Lines waiting to be sent",
                                  labels=["network"])
        delayed = CounterMetricFamily("openminutes_lines_delayed",
                                      "Lines held back by flood or rate limits",
                                      labels=["network"])
        reconnects = CounterMetricFamily("openminutes_reconnects",
                                         "Connections made again after a loss",
                                         labels=["network"])
        up = GaugeMetricFamily("openminutes_network_connected",
                               "1 while connected (registered, syncing)", labels=["network"])
        for a in self.adapters:
            queue.add_metric([a.name], a.waiting)
            delayed.add_metric([a.name], a.delayed)
            reconnects.add_metric([a.name], a.reconnects)
            up.add_metric([a.name], 1 if a.connected else 0)
        yield from (queue, delayed, reconnects, up)


def bot_registry(recorder: Recorder, adapters: Iterable[Observed]) -> CollectorRegistry:
    """A registry of the recorder's and the adapters' figures, and of publish times."""
    registry = CollectorRegistry()
    registry.register(_BotCollector(recorder, list(adapters)))
    publish = Histogram("openminutes_publish_seconds", "Time to publish a meeting's files",
                        registry=registry)
    recorder.on_published = publish.observe
    return registry


def bot_health(storage: SearchIndex, adapters: Iterable[Observed],
               expected: Callable[[str], bool] = lambda _network: True,
               ) -> Callable[[], Awaitable[list[str]]]:
    """/healthz for `run`: the database answers and every network is connected (of
    those `expected` to be: a standby does not sync a Matrix network it does not record)."""
    networks = list(adapters)

    async def check() -> list[str]:
        problems = await database_problems(storage)
        problems.extend(f"{a.name}: not connected" for a in networks
                        if not a.connected and expected(a.name))
        return problems

    return check
