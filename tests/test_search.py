"""Full-text search contract, on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import openminutes.storage as storage_module
from openminutes.meetings.model import Item, ItemKind, Line, LineKind
from openminutes.plugins import default_registry
from openminutes.plugins.meeting import AGREED, REJECTED
from openminutes.storage import Derived, Storage
from openminutes.storage.records import ImportedFile, MeetingRef
from openminutes.storage.search import MARK_END, MARK_START, Filters, fts5_query


async def _meeting(storage: Storage, name: str, channel: str, start: datetime,
                   said: list[tuple[str, str]], *, publish: bool = True) -> int:
    lines = [Line(n, start + timedelta(minutes=n), LineKind.MESSAGE, nick, text)
             for n, (nick, text) in enumerate(said, 1)]
    items = []
    for line in lines:
        for kind in (AGREED, ItemKind.ACTION, REJECTED, ItemKind.INFO):
            if line.text.startswith(f"#{kind.name} "):
                items.append(Item(kind, line.text.split(" ", 1)[1], line.nick, line.time,
                                  line.seq))
    ref = MeetingRef("net", channel, start)
    derived = Derived(name, name, "chair", lines[-1].time, items, {})
    source = ImportedFile(f"/{name}/{start:%F}", "d", [(ref, lines, derived)])
    ((meeting_id,),) = await storage.replace_imported([source])
    if publish:
        await storage.claim_stem(meeting_id, [f"{name}/{start:%Y}/{name}.{start:%F}"])
    return meeting_id


@pytest.fixture
async def archive(storage: Storage) -> Storage:
    t = datetime(2025, 6, 1, 18, tzinfo=UTC)
    await _meeting(storage, "tc", "#tc", t, [
        ("chair", "#startmeeting tc"),
        ("alice", "we should adopt the charter today"),
        ("chair", "#agreed adopt the charter"),
        ("chair", "#action bob to publish the charter"),
        ("bob", "the café is closed"),
        ("chair", "#endmeeting"),
    ])
    await _meeting(storage, "docs", "#docs", t + timedelta(days=30), [
        ("chair", "#startmeeting docs"),
        ("carol", "#rejected a charter for the docs team"),
        ("chair", "#endmeeting"),
    ])
    await _meeting(storage, "secret", "#tc", t, [
        ("chair", "#startmeeting"), ("chair", "charter drafts not yet published")],
        publish=False)
    return storage


async def test_items_and_lines_are_found_once(archive: Storage) -> None:
    page = await archive.search("charter")
    found = sorted((h.meeting.name, h.kind, h.line) for h in page.hits)
    assert found == [("docs", "rejected", 2), ("tc", "action", 4), ("tc", "agreed", 3),
                     ("tc", "line", 2)]
    assert page.total == 4
    hit = next(h for h in page.hits if h.kind == "agreed")
    assert f"{MARK_START}charter{MARK_END}" in hit.snippet
    assert hit.text == "adopt the charter"


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(kind="decision"), {("docs", "rejected"), ("tc", "agreed")}),
    (Filters(kind="line"), {("tc", "line")}),
    (Filters(kind="action"), {("tc", "action")}),
    (Filters(series="docs"), {("docs", "rejected")}),
    (Filters(channel="#TC"), {("tc", "agreed"), ("tc", "action"), ("tc", "line")}),
    (Filters(person="ALICE"), {("tc", "line")}),
    (Filters(since=datetime(2025, 6, 15, tzinfo=UTC)), {("docs", "rejected")}),
    (Filters(until=datetime(2025, 6, 15, tzinfo=UTC)),
     {("tc", "agreed"), ("tc", "action"), ("tc", "line")}),
])
async def test_filters(archive: Storage, filters: Filters, expected: set[tuple[str, str]]) -> None:
    page = await archive.search("charter", filters)
    assert {(h.meeting.name, h.kind) for h in page.hits} == expected


async def test_phrases_exclusion_accents_and_paging(archive: Storage) -> None:
    assert {h.kind for h in (await archive.search('"adopt the charter"')).hits} == {
        "agreed", "line"}
    assert {h.meeting.name for h in (await archive.search("charter -docs")).hits} == {"tc"}
    assert [h.nick for h in (await archive.search("café")).hits] == ["bob"]
    first = await archive.search("charter", limit=2)
    second = await archive.search("charter", limit=2, offset=2)
    assert len(first.hits) == 2
    assert len(second.hits) == 2
    assert not {(h.meeting.id, h.line) for h in first.hits} & {
        (h.meeting.id, h.line) for h in second.hits}


@pytest.mark.parametrize("query", [
    '"', '""', '"unclosed phrase', "NOT", "charter NOT", "OR", "a OR", "AND OR NOT", "%", "_",
    "%charter%", "' OR 1=1--", "'; DROP TABLE lines; --", "*", "char*", "(", ")", "a:b",
    "NEAR(a b)", "^charter", "x" * 10_000, "charter " * 2000, "a", "é", "\\", "\u202e",
])
async def test_hostile_queries_never_raise(archive: Storage, query: str) -> None:
    page = await archive.search(query)
    assert page.total >= 0
    assert all(h.meeting.stem for h in page.hits)


async def test_unknown_kind_is_refused(archive: Storage) -> None:
    # Storage knows no plugin: the caller says which kinds its registry declares.
    known = default_registry().kind_names()
    with pytest.raises(ValueError, match="unknown kind"):
        await archive.search("charter", Filters(kind="bogus", known=known))
    with pytest.raises(ValueError, match="unknown kind"):  # not even a kind's name
        await archive.search("charter", Filters(kind="x') OR 1=1 --"))


def test_fts5_query_translation() -> None:
    assert fts5_query("adopt charter") == '"adopt" "charter"'
    assert fts5_query('"adopt the" -docs') == '"adopt the" NOT "docs"'
    assert fts5_query("a OR b") == '"a" OR "b"'
    assert fts5_query("' OR 1=1--") == '"1 1"'
    assert fts5_query("-only") is None
    assert fts5_query("% * ^") is None


async def test_series_filter_follows_a_meeting_renamed_after_its_lines(storage: Storage) -> None:
    """Live lines are written before the meeting has (or changes) its name; publishing
    files them under the name it ends with."""
    start = datetime(2026, 1, 5, 18, tzinfo=UTC)
    ref = MeetingRef("net", "#Ops", start)  # name unknown while the lines are written
    ref = (await storage.write_lines([
        (ref, Line(1, start, LineKind.MESSAGE, "a", "#startmeeting")),
        (ref, Line(2, start, LineKind.MESSAGE, "a", "zebra crossing"))])).stored(ref)
    assert ref.id is not None
    await storage.save_meeting(ref.id, Derived("ops-weekly", "t", "a", start, [], {}))
    await storage.claim_stem(ref.id, ["ops-weekly/2026/ops-weekly.2026-01-05"])
    for filters in (Filters(series="ops-weekly"), Filters(channel="#ops"),
                    Filters(series="ops-weekly", channel="#OPS")):
        page = await storage.search("zebra", filters)
        assert [h.text for h in page.hits] == ["zebra crossing"], filters
    assert (await storage.search("zebra", Filters(series="other"))).hits == []
    await storage.save_meeting(ref.id, Derived("ops", "t", "a", start, [], {}))  # renamed
    assert (await storage.search("zebra", Filters(series="ops-weekly"))).hits == []
    assert len((await storage.search("zebra", Filters(series="ops"))).hits) == 1


async def test_migrations_0007_0008_index_existing_lines_by_series_and_person(
        database_url: str) -> None:
    """An archive made before scope and person tokens existed: upgrading fills them and
    rebuilds the index (and the downgrade puts the old index back)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    storage = await Storage.open(database_url)
    try:
        start = datetime(2024, 3, 1, 18, tzinfo=UTC)
        await _meeting(storage, "infra", "#infra", start, [("a", "#startmeeting"),
                                                            ("b", "the yak is shaved")])
        await _meeting(storage, "docs", "#docs", start, [("a", "#startmeeting"),
                                                          ("Émile", "another yak")])
    finally:
        await storage.close()
    url = make_url(database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(storage_module.__file__).parent
                                               / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0006")
        command.upgrade(cfg, "head")
    engine.dispose()
    storage = await Storage.open(database_url)
    try:
        page = await storage.search("yak", Filters(series="infra"))
        assert [h.text for h in page.hits] == ["the yak is shaved"]
        assert len((await storage.search("yak")).hits) == 2
        page = await storage.search("yak", Filters(person="émile"))
        assert [h.text for h in page.hits] == ["another yak"]
    finally:
        await storage.close()
