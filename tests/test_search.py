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


WORDS = ("release", "charter", "budget", "security", "review", "kernel", "docs", "mirror")
# As in a real archive, each of the queries' words is in a few lines in a hundred: a query
# that matches half the table is rightly answered by reading it whole.
VOCABULARY = (*WORDS, "agenda", "ballot", "cloud", "driver", "event", "forum", "gate",
              "host", "image", "job", "key", "label", "merge", "node", "owner", "patch",
              "quota", "rack", "sprint", "ticket", "upgrade", "vendor", "wiki", "zone",
              "backup", "cache", "debian", "export", "feed", "graph", "index", "limit")
PLANNED = [("security", Filters()), ("release charter", Filters()),
           ('"security review"', Filters()), ("charter", Filters(kind="decision")),
           ("budget", Filters(kind="action")), ("kernel -docs", Filters()),
           ("mirror OR docs", Filters()), ("review", Filters(series="s1")),
           ("budget", Filters(person="p3")), ("docs", Filters(since=datetime(2025, 1, 1,
                                                                          tzinfo=UTC)))]


async def _talk(storage: Storage, meetings: int, lines: int) -> None:
    """Meetings of generated chat with decisions and action items among it."""
    start = datetime(2024, 1, 1, 18, tzinfo=UTC)
    for n in range(meetings):
        said = [("chair", "#startmeeting")]
        for i in range(lines):
            word = VOCABULARY[(n + i) % len(VOCABULARY)]
            other = VOCABULARY[(3 * n + 5 * i) % len(VOCABULARY)]
            text = (f"#agreed the {word} {other} plan" if i % 29 == 0 else
                    f"#action p{i % 5} to look at {word} {other}" if i % 17 == 0 else
                    f"we talked about the {word} {other} item {i}")
            said.append((f"p{i % 7}", text))
        await _meeting(storage, f"s{n % 3}", f"#s{n % 3}", start + timedelta(days=30 * n), said)


async def test_postgresql_search_plans_use_the_search_index(postgres_url: str) -> None:
    """At a few thousand lines, analysed as an import leaves them, every statement of every
    word query that looks at the log finds its lines by the stored document's GIN index:
    none reads all of lines. (The few hundred items fit in a page or two; reading those
    whole is PostgreSQL's right choice.)"""
    from openminutes.storage.search import explain

    storage = await Storage.open(postgres_url)
    try:
        await _talk(storage, 6, 700)
        await storage.analyze()
        for query, filters in PLANNED:
            plans = await explain(storage.engine, query, filters)
            on_lines = [plan for plan in plans if " on lines l" in plan]
            assert on_lines or filters.kind, (query, plans)
            for plan in on_lines:
                assert "Seq Scan on lines" not in plan, plan
                assert "ix_lines_search" in plan, plan
                # A phrase's word pair (migration 0014) is looked up in the index.
                assert ("'security review''" in plan) == (query == '"security review"'), plan
    finally:
        await storage.close()


async def test_postgresql_finds_the_newest_matches_across_blocks_of_ids(
        postgres_url: str) -> None:
    """Lines far apart in ids (blocks with nothing between them): a search looks a window
    of blocks at a time and still returns exactly the newest matches, as SQLite does."""
    import psycopg

    storage = await Storage.open(postgres_url)
    try:
        start = datetime(2024, 1, 1, 18, tzinfo=UTC)
        for k in range(4):
            said = [("chair", "#startmeeting")] + [
                (f"p{i % 3}", f"haystack {'needle ' if i % 3 == 0 else ''}{k} {i}")
                for i in range(300)]
            await _meeting(storage, "far", "#far", start + timedelta(days=k), said)
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute(f"ALTER SEQUENCE lines_id_seq RESTART WITH {(k + 1) * 70_000}")
        await storage.analyze()

        async def found(query: str, filters: Filters | None = None) -> tuple[set[str], int]:
            texts: set[str] = set()
            for offset in range(0, 1000, 100):
                page = await storage.search(query, filters, limit=100, offset=offset)
                texts.update(hit.text for hit in page.hits)
            return texts, page.total

        texts, total = await found("needle")
        assert total == 400
        assert texts == {f"haystack needle {k} {i}" for k in range(4) for i in range(0, 300, 3)}
        texts, total = await found("haystack")
        # The newest 500 of 1,200: the last meeting's 300 and the newest 200 of the one
        # before it.
        assert total == 500
        newest = [f"haystack {'needle ' if i % 3 == 0 else ''}{k} {i}"
                  for k in range(4) for i in range(300)][-500:]
        assert texts == set(newest)
        texts, total = await found("needle", Filters(person="p0"))
        assert total == 400
    finally:
        await storage.close()


def test_search_windows_grow_with_how_rare_the_matches_are() -> None:
    """PostgreSQL's windows of id blocks (storage.search._next_window): a window no larger
    than the matches so far say is needed, at most MAX_BLOCK_TOKENS blocks; groups of
    blocks when blocks would take too many windows or none matched; the rest of the table
    when even groups would."""
    from openminutes.storage.search import BLOCK_LEVELS, MAX_BLOCK_TOKENS, _next_window

    block, group = (1 << bits for _, bits in BLOCK_LEVELS)
    assert _next_window(found=400, ids=block, wanted=100, level=0, blocks=1) == (0, 1)
    assert _next_window(found=100, ids=block, wanted=300, level=0,
                        blocks=1) == (0, MAX_BLOCK_TOKENS)
    # Rare: 10 matches in a block, 490 wanted would take 59 blocks, or 4 groups.
    assert _next_window(found=10, ids=block, wanted=490, level=0, blocks=1) == (1, 4)
    assert _next_window(found=10, ids=block, wanted=490, level=1, blocks=1) == (1, 4)
    # None at all in a block: a group; none in groups: twice as many, then the rest.
    assert _next_window(found=0, ids=block, wanted=500, level=0, blocks=1) == (1, 1)
    assert _next_window(found=0, ids=group, wanted=500, level=1, blocks=1) == (1, 2)
    assert _next_window(found=0, ids=3 * group, wanted=500, level=1, blocks=2) == (1, 4)
    assert _next_window(found=0, ids=7 * group, wanted=500, level=1, blocks=4) is None
    # One match in 16 groups: far too rare for windows of groups.
    assert _next_window(found=1, ids=16 * group, wanted=499, level=1, blocks=4) is None


def test_phrase_pairs_are_those_every_match_holds() -> None:
    """The word pairs a PostgreSQL search asks the index for (migration 0014), read from
    websearch_to_tsquery's own text: those of required phrases only."""
    from openminutes.storage.search import phrase_pairs

    assert phrase_pairs("'security' <-> 'review'") == ["'security review'"]
    assert phrase_pairs("'a' <-> 'b' <-> 'c' & 'd'") == ["'a b'", "'b c'"]
    assert phrase_pairs("'g-h' <-> 'g' <-> 'h'") == ["'g-h g'", "'g h'"]
    assert phrase_pairs("'o''clock' <-> 'x\\\\y'") == ["'o''clock x\\\\y'"]
    # Optional or excluded phrases hold nothing every match must have.
    assert phrase_pairs("'a' <-> 'b' | 'c'") == []
    assert phrase_pairs("'x' & !( 'a' <-> 'b' ) & !!( 'c' <-> 'd' )") == []
    assert phrase_pairs("'x' & !( 'a' <-> 'b' ) & 'e' <-> 'f'") == ["'e f'"]
    assert phrase_pairs("'a' <2> 'b' & 'c'") == []
    assert phrase_pairs("'" + "a" * 1500 + "' <-> '" + "b" * 1000 + "'") == []


TRICKY = ["the security review is done", "security, review later", "review security",
          "security_review of e-mail", "e-mail review", "a <b>security</b> review",
          "o'clock security review", "security  review", "SECURITY REVIEW", "security",
          "the review of security", "x-security review", "security &amp; review"]


@pytest.mark.parametrize("query", [
    '"security review"', '"e-mail review"', '"security review" -later', 'review "security review"',
    '"security review" OR later', '-"security review" security', '"o\'clock security"',
    '"review of security"', '"security"', '"x-security review"', '"security & review"',
    '"security_review"', '- "security review" review'])
async def test_postgresql_phrases_find_what_the_words_positions_say(
        postgres_url: str, query: str) -> None:
    """A phrase search with its word pairs in the index returns exactly the lines that
    PostgreSQL's own phrase match returns over the text, whatever its parser makes of
    hyphens, underscores, markup and punctuation."""
    from sqlalchemy import text

    storage = await Storage.open(postgres_url)
    try:
        start = datetime(2024, 1, 1, 18, tzinfo=UTC)
        said = [("chair", "#startmeeting")] + [("p", line) for line in TRICKY]
        await _meeting(storage, "tricky", "#tricky", start, said)
        page = await storage.search(query, limit=100)
        async with storage.engine.connect() as conn:
            expected = set((await conn.execute(text(
                "SELECT text FROM lines WHERE to_tsvector('simple', text) @@ "
                "websearch_to_tsquery('simple', :q)"), {"q": query})).scalars())
        assert {hit.text for hit in page.hits} == expected
        assert expected or query == '"security_review"'
    finally:
        await storage.close()


async def test_postgresql_finds_matches_only_far_back_in_groups_of_blocks(
        postgres_url: str) -> None:
    """Matches only in the oldest lines, a million ids below the newest: the search goes
    back by groups of blocks (migration 0014's G tokens) and finds every one of them. And
    past the newest matches, which are in a meeting never published."""
    import psycopg

    storage = await Storage.open(postgres_url)
    try:
        start = datetime(2024, 1, 1, 18, tzinfo=UTC)
        for k, (restart, word) in enumerate([(300_000, "fossil"), (1_100_000, "fossil"),
                                             (None, "recent")]):
            said = [("chair", "#startmeeting")] + [
                (f"p{i % 3}", f"{word if i % 3 == 0 else 'chat'} {k} {i}") for i in range(300)]
            await _meeting(storage, "old", "#old", start + timedelta(days=k), said)
            if restart:
                with psycopg.connect(postgres_url, autocommit=True) as conn:
                    conn.execute(f"ALTER SEQUENCE lines_id_seq RESTART WITH {restart}")
        # In the same block of ids as the newest published ones, below 3,000 that are not:
        # each statement reads the newest matches of a window, then those of the rest.
        await _meeting(storage, "old", "#old", start + timedelta(days=4),
                       [("p0", f"fossil {3} {i}") for i in range(0, 300, 3)])
        await _meeting(storage, "old", "#old", start + timedelta(days=5),
                       [("p0", f"fossil draft {i}") for i in range(3000)], publish=False)
        await storage.analyze()
        pages = [await storage.search("fossil", limit=100, offset=n) for n in (0, 100, 200)]
        assert pages[0].total == 300
        assert {hit.text for page in pages for hit in page.hits} == {
            f"fossil {k} {i}" for k in (0, 1, 3) for i in range(0, 300, 3)}
        page = await storage.search("fossil", Filters(series="old", person="p0"), limit=100)
        assert page.total == 300
    finally:
        await storage.close()


@pytest.mark.parametrize("filters", [Filters(series="quiet"), Filters(channel="#QUIET"),
                                     Filters(series="quiet", person="p0")])
async def test_postgresql_scoped_search_starts_at_the_scope_newest_rows(
        postgres_url: str, filters: Filters) -> None:
    """A series that met long ago, below five million newer ids of another series: a
    search filtered to it starts its windows at its own newest line and item (migration
    0015), so its first window holds every match, and finds exactly them."""
    import psycopg

    from openminutes.storage.search import explain

    storage = await Storage.open(postgres_url)
    try:
        start = datetime(2024, 1, 1, 18, tzinfo=UTC)
        said = [("chair", "#startmeeting")] + [
            (f"p{i % 3}", f"{'#agreed ' if i % 30 == 0 else ''}fossil {i}") for i in range(300)]
        await _meeting(storage, "quiet", "#quiet", start, said)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for table in ("lines", "items"):
                conn.execute(f"ALTER SEQUENCE {table}_id_seq RESTART WITH 5000000")
        await _meeting(storage, "busy", "#busy", start + timedelta(days=1), said)
        await storage.analyze()
        page = await storage.search("fossil", filters, limit=100)
        everyone = filters.person is None
        assert page.total == (300 if everyone else 100)
        assert {hit.meeting.name for hit in page.hits} == {"quiet"}
        plans = await explain(storage.engine, "fossil", filters)
        assert len(plans) == 2  # one window of items, one of lines
        assert all("'B0'" in plan for plan in plans), plans
    finally:
        await storage.close()
