"""One contract for every storage backend: SQLite and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openminutes.meetings.model import Item, ItemKind, Line, LineKind
from openminutes.plugins.meeting import AGREED
from openminutes.storage import Derived, Storage
from openminutes.storage.records import MeetingRef

T0 = datetime(2024, 5, 6, 23, 59, 58, tzinfo=UTC)


def _line(seq: int, text: str, event_id: str | None = None, nick: str = "alice") -> Line:
    return Line(seq, T0 + timedelta(seconds=seq), LineKind.MESSAGE, nick, text,
                event_id=event_id)


async def test_first_line_creates_the_meeting(storage: Storage) -> None:
    ref = MeetingRef("net", "#chan", T0)
    written = await storage.write_lines([(ref, _line(1, "#startmeeting"))])
    assert written == [True]
    assert written.stored(ref).id is not None
    assert ref.id is None  # the caller's value is left as it was: storage returns the id
    (open_meeting,) = await storage.open_meetings()
    assert open_meeting.channel == "#chan"
    assert open_meeting.started_at == T0
    assert await storage.lines(open_meeting.id) == [_line(1, "#startmeeting")]


async def test_lines_are_stored_once_per_event_id(storage: Storage) -> None:
    ref = MeetingRef("net", "#chan", T0)
    first = [(ref, _line(1, "a", "e1")), (ref, _line(2, "b", "e2")), (ref, _line(3, "b", "e2"))]
    written = await storage.write_lines(first)
    assert written == [True, True, False]
    ref = written.stored(ref)
    assert await storage.write_lines([(ref, _line(4, "a", "e1")), (ref, _line(5, "c"))]) == [
        False, True]
    assert [ln.text for ln in await storage.lines(ref.id or 0)] == ["a", "b", "c"]


async def test_times_come_back_in_utc_across_midnight(storage: Storage) -> None:
    ref = MeetingRef("net", "#chan", T0)
    ref = (await storage.write_lines([(ref, _line(1, "before")), (ref, _line(3, "after"))])
           ).stored(ref)
    lines = await storage.lines(ref.id or 0)
    assert [ln.time for ln in lines] == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=3)]
    assert all(ln.time.tzinfo is UTC for ln in lines)
    assert lines[1].time.date() > lines[0].time.date()


async def test_unicode_and_hostile_text_round_trip(storage: Storage) -> None:
    ref = MeetingRef("net", "#chan", T0)
    text = "héllo 🎉 ' OR 1=1-- \"; DROP TABLE lines; <script>"
    ref = (await storage.write_lines([(ref, _line(1, text, nick="ünï`[m]"))])).stored(ref)
    (line,) = await storage.lines(ref.id or 0)
    assert (line.text, line.nick) == (text, "ünï`[m]")


async def test_save_meeting_closes_it_and_stores_items(storage: Storage) -> None:
    ref = MeetingRef("net", "#chan", T0)
    ref = (await storage.write_lines([(ref, _line(1, "#startmeeting"))])).stored(ref)
    item = Item(AGREED, "yes", "alice", T0, 1)
    await storage.save_meeting(ref.id or 0, Derived("n", "t", "alice", T0 + timedelta(hours=1),
                                                    [item], {}))
    assert await storage.open_meetings() == []
    (record,) = await storage.meetings()
    assert (record.name, record.title, record.ended_at) == ("n", "t", T0 + timedelta(hours=1))


async def test_output_paths_are_never_shared(storage: Storage) -> None:
    a, b = MeetingRef("net", "#a", T0), MeetingRef("net", "#b", T0)
    written = await storage.write_lines([(a, _line(1, "x")), (b, _line(1, "y"))])
    a, b = written.stored(a), written.stored(b)
    assert await storage.claim_stem(a.id or 0, ["s", "s-2"]) == "s"
    assert await storage.claim_stem(b.id or 0, ["s", "s-2"]) == "s-2"
    # A meeting keeps the path it has.
    assert await storage.claim_stem(a.id or 0, ["other"]) == "s"
    assert await storage.reclaim_stem(a.id or 0, ["s-2", "t"]) == "t"


async def test_open_meetings_filter_by_network(storage: Storage) -> None:
    await storage.write_lines([(MeetingRef("one", "#c", T0), _line(1, "x")),
                               (MeetingRef("two", "#c", T0), _line(1, "y"))])
    assert [m.network for m in await storage.open_meetings("two")] == ["two"]


async def test_count_lines(storage: Storage) -> None:
    ref = MeetingRef("net", "#c", T0)
    ref = (await storage.write_lines([(ref, _line(n, f"l{n}")) for n in range(1, 6)])
           ).stored(ref)
    assert await storage.count_lines(ref.id or 0) == 5
    assert await storage.count_lines(9999) == 0


async def test_processes_opening_a_new_database_at_once_both_succeed(database_url: str) -> None:
    import asyncio

    stores = await asyncio.gather(*(Storage.open(database_url) for _ in range(4)))
    try:
        ref = MeetingRef("net", "#c", T0)
        written = await stores[0].write_lines([(ref, _line(1, "x"))])
        assert written == [True]
        assert await stores[3].count_lines(written.stored(ref).id or 0) == 1
    finally:
        for store in stores:
            await store.close()



async def _series(storage: Storage) -> list[int]:
    """Three meetings: two of series "tc" in #tc, one of "docs" in #docs."""
    ids = []
    for n, (channel, name) in enumerate([("#tc", "tc"), ("#docs", "docs"), ("#TC", "tc")]):
        start = T0 + timedelta(days=7 * n)
        ref = MeetingRef("net", channel, start)
        ref = (await storage.write_lines([(ref, _line(1, "#startmeeting"))])).stored(ref)
        assert ref.id is not None
        items = [
            Item(ItemKind.TOPIC, f"topic {n}", "chair", start + timedelta(minutes=1), 2),
            Item(AGREED, f"agreed {n}", "chair", start + timedelta(minutes=2), 3),
            Item(ItemKind.ACTION, f"alice and bob to do {n}", "chair",
                 start + timedelta(minutes=3), 4),
            Item(ItemKind.VOTE, f"Q{n}? Motion PASSED", "chair", start + timedelta(minutes=4), 5),
        ]
        await storage.save_meeting(ref.id, Derived(name, name, "chair",
                                                   start + timedelta(hours=1), items,
                                                   {4: ["alice", "bob"]}))
        ids.append(ref.id)
    return ids


DECISIONS = ("agreed", "accepted", "rejected", "vote")


async def test_decision_register_newest_first_with_filters(storage: Storage) -> None:
    ids = await _series(storage)
    every = await storage.items(DECISIONS)
    assert [(r.meeting.id, r.kind) for r in every] == [
        (ids[2], "vote"), (ids[2], "agreed"), (ids[1], "vote"), (ids[1], "agreed"),
        (ids[0], "vote"), (ids[0], "agreed")]
    assert {r.meeting.id for r in await storage.items(DECISIONS, channel="#tc")} == {
        ids[0], ids[2]}
    assert {r.meeting.id for r in await storage.items(DECISIONS, name="docs")} == {ids[1]}
    since = await storage.items(DECISIONS, since=T0 + timedelta(days=7))
    assert {r.meeting.id for r in since} == {ids[1], ids[2]}
    until = await storage.items(DECISIONS, until=T0 + timedelta(days=7))
    assert {r.meeting.id for r in until} == {ids[0]}
    record = every[1]
    assert (record.text, record.nick, record.line) == ("agreed 2", "chair", 3)
    assert record.time == T0 + timedelta(days=14, minutes=2)


async def test_actions_keep_their_owners(storage: Storage) -> None:
    await _series(storage)
    actions = await storage.items(("action",))
    assert len(actions) == 3
    assert all(a.owners == ("alice", "bob") for a in actions)


async def test_previous_meeting_of_a_series(storage: Storage) -> None:
    ids = await _series(storage)
    previous = await storage.previous_meeting("tc", T0 + timedelta(days=14), exclude=ids[2])
    assert previous is not None
    assert previous.id == ids[0]
    assert await storage.previous_meeting("tc", T0, exclude=ids[0]) is None


async def test_imported_files_replace_their_meetings(storage: Storage) -> None:
    from openminutes.storage.records import ImportedFile

    def _file(text: str) -> ImportedFile:
        ref = MeetingRef("net", "#imp", T0)
        lines = [_line(1, "#startmeeting"), _line(2, text), _line(3, "#endmeeting")]
        derived = Derived("imp", "imp", "alice", T0 + timedelta(seconds=3),
                          [Item(AGREED, text, "alice", T0 + timedelta(seconds=2), 2)], {})
        return ImportedFile("/logs/imp.log.txt", "digest-" + text, [(ref, lines, derived)])

    first = _file("first")
    ((first_id,),) = await storage.replace_imported([first])
    assert await storage.source("/logs/imp.log.txt") == ("digest-first", [first_id])
    second = _file("second")
    ((second_id,),) = await storage.replace_imported([second])
    (record,) = await storage.meetings()
    assert record.id == second_id
    assert (record.name, record.ended_at) == ("imp", T0 + timedelta(seconds=3))
    lines = await storage.lines(record.id)
    assert [ln.text for ln in lines] == ["#startmeeting", "second", "#endmeeting"]
    assert lines[1].time == T0 + timedelta(seconds=2)
    assert lines[1].own is False
    assert [r.text for r in await storage.items(("agreed",))] == ["second"]


async def test_actions_by_owner_in_the_query(storage: Storage) -> None:
    await _series(storage)
    assert len(await storage.items(("action",), owner="ALICE")) == 3
    assert await storage.count_items(("action",), owner="bob") == 3
    assert await storage.items(("action",), owner="ali") == []  # whole names only
    assert await storage.items(("action",), owner="%") == []  # literal, not a pattern
    assert await storage.items(("action",), owner="b_b") == []
    page = await storage.items(("action",), owner="alice", limit=2, offset=2)
    assert len(page) == 1


async def test_years_with_published_meetings(storage: Storage) -> None:
    ids = await _series(storage)  # 2024-05-06, +7 and +14 days
    assert await storage.years() == []  # none published yet
    await storage.claim_stem(ids[0], ["tc/2024/a"])
    late = MeetingRef("net", "#late", datetime(2026, 1, 2, tzinfo=UTC))
    late = (await storage.write_lines([(late, _line(1, "x"))])).stored(late)
    await storage.save_meeting(late.id or 0, Derived("late", "late", "c",
                                                     datetime(2026, 1, 2, 1, tzinfo=UTC), [], {}))
    await storage.claim_stem(late.id or 0, ["late/2026/a"])
    assert await storage.years() == [2026, 2024]
