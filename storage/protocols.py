"""Storage as each consumer sees it: small protocols that `Storage` satisfies (checked
by mypy where the consumers are typed with them, and by tests/test_storage_contract.py
on SQLite and PostgreSQL). A consumer depends on what it uses, not on 40 methods."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from openminutes.meetings.model import Line
from openminutes.storage.group import Fence
from openminutes.storage.records import (
    AmendmentRecord,
    Derived,
    ItemRecord,
    MeetingRecord,
    MeetingRef,
    SeriesRecord,
    Written,
)
from openminutes.storage.search import Filters, SearchPage


class LogReader(Protocol):
    """A meeting's stored lines, a chunk at a time, and its amendments (replay,
    publishing)."""

    def iter_lines(self, meeting_id: int, *, after: int = 0, upto: int | None = None,
                   chunk: int = ...) -> AsyncIterator[list[Line]]: ...

    async def amendments(self, meeting_id: int | None = None, *, name: str | None = None,
                         limit: int | None = None) -> list[AmendmentRecord]:
        """Operators' amendments, applied after every replay (meetings/amendments.py)."""


class LineLog(LogReader, Protocol):
    """The meeting log the recorder appends to and replays from."""

    async def write_lines(self, batch: Sequence[tuple[MeetingRef, Line]],
                          state: Sequence[tuple[str, str, str]] = (),
                          fence: Fence | None = None) -> Written: ...

    async def room_tail(self, network: str, channel: str, since: datetime) -> list[Line]: ...

    async def open_meetings(self, network: str | None = None) -> list[MeetingRecord]: ...

    async def meeting(self, meeting_id: int) -> MeetingRecord | None: ...

    async def ping(self) -> None:
        """Raises when the database cannot be reached (for /healthz)."""

    async def meeting_of_event(self, network: str, channel: str, event_id: str) -> int | None: ...

    async def last_line(self, meeting_id: int) -> Line | None: ...

    async def event_lines(self, meeting_id: int, event_id: str) -> list[Line]: ...

    async def corrected_events(self, meeting_id: int) -> frozenset[str]: ...

    async def end_meeting(self, meeting_id: int, derived: Derived) -> None: ...

    async def published_and_announced(self, meeting_id: int) -> None: ...

    async def pending_publish(self) -> list[MeetingRecord]: ...


class Listings(Protocol):
    """Items and published meetings, filtered: what both the archive pages and the API
    list."""

    async def items(
        self,
        kinds: Iterable[str],
        *,
        channel: str | None = None,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        meeting_id: int | None = None,
        meeting_ids: Sequence[int] | None = None,
        owner: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ItemRecord]: ...

    async def published(
        self,
        *,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        with_open: bool = False,
    ) -> list[MeetingRecord]: ...


class ArchiveStore(Listings, LogReader, Protocol):
    """What the publisher reads and writes: lines, the derived meeting, output paths,
    the decision register and the archive pages."""

    async def lines(self, meeting_id: int, *, after: int = 0, upto: int | None = None,
                    limit: int | None = None) -> list[Line]: ...

    async def save_meeting(self, meeting_id: int, derived: Derived) -> None: ...

    async def claim_stem(self, meeting_id: int, candidates: Iterable[str]) -> str: ...

    async def reclaim_stem(self, meeting_id: int, candidates: Iterable[str]) -> str: ...

    async def previous_meeting(self, name: str, before: datetime,
                               exclude: int) -> MeetingRecord | None: ...

    async def neighbours(self, name: str, started_at: datetime, meeting_id: int
                         ) -> tuple[MeetingRecord | None, MeetingRecord | None]: ...

    async def items_per_year(self, kinds: Iterable[str], *, name: str) -> list[tuple[int, int]]: ...

    async def years(self) -> list[int]: ...

    async def published_per_month(self, year: int) -> list[tuple[int, int]]: ...

    async def series(self) -> list[SeriesRecord]: ...


class SearchIndex(Listings, Protocol):
    """What `serve`, the CLI and the API read: full-text search, listings, counts."""

    async def search(self, query: str, filters: Filters | None = None, *, limit: int = 20,
                     offset: int = 0) -> SearchPage: ...

    async def count_published(self, name: str | None = None, *,
                              with_open: bool = False) -> int: ...

    async def count_items(self, kinds: Iterable[str], *, channel: str | None = None,
                          name: str | None = None, since: datetime | None = None,
                          until: datetime | None = None, owner: str | None = None) -> int: ...

    async def meeting(self, meeting_id: int) -> MeetingRecord | None: ...

    async def ping(self) -> None:
        """Raises when the database cannot be reached (for /healthz)."""

