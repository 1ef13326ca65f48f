"""Full-text search over minutes items and log lines (SQLite FTS5, PostgreSQL tsvector).

A hit is an item (`#agreed ...`, a vote result ...) or a log line that made no item. User
input never reaches the database as query syntax: for SQLite it is rebuilt from its
words; PostgreSQL's websearch_to_tsquery accepts anything."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from openminutes.storage.models import UTCDateTime
from openminutes.storage.records import MeetingRecord

# Around highlighted words in snippets; control characters never occur in stored text.
MARK_START, MARK_END = "\x02", "\x03"
MAX_QUERY = 1000  # characters of a query that are looked at
MAX_TERMS = 32
MAX_RESULTS = 1000  # hits counted; pages go no further
CANDIDATES = 500  # newest matches of items and of lines that are ranked (SQLite)
ITEM_WEIGHT = 1.25  # a decision or an action item that matches ranks above a chat line
BM25_K1, BM25_B = 1.2, 0.75
SNIPPET_WORDS = 24
# Besides the item kinds plugins declare, a search (and Storage.items) takes these: every
# item that is a decision, and plain log lines.
DECISION, LINE = "decision", "line"


def kind_choices(item_kinds: Iterable[str]) -> tuple[str, ...]:
    """What a search's kind filter takes: the item kinds a registry declares, DECISION
    and LINE (each once)."""
    return tuple(dict.fromkeys((*item_kinds, DECISION, LINE)))
_KIND_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class Hit:
    meeting: MeetingRecord
    kind: str  # an item kind, or "line"
    nick: str
    time: datetime
    line: int
    text: str
    snippet: str  # with MARK_START / MARK_END around matched words

    def as_dict(self, url: str) -> dict[str, Any]:
        """As the CLI and the API show it: the snippet without markers, and the matched
        words apart."""
        matches = re.findall(f"{MARK_START}(.*?){MARK_END}", self.snippet)
        return {
            "time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"), "network": self.meeting.network,
            "channel": self.meeting.channel, "series": self.meeting.name,
            "meeting_id": self.meeting.id, "kind": self.kind, "nick": self.nick,
            "line": self.line, "text": self.text,
            "snippet": self.snippet.replace(MARK_START, "").replace(MARK_END, ""),
            "matches": list(dict.fromkeys(matches)), "url": url,
        }


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    total: int  # capped at MAX_RESULTS
    capped: bool


@dataclass(frozen=True, slots=True)
class Filters:
    kind: str | None = None  # an item kind, DECISION or LINE
    series: str | None = None
    channel: str | None = None
    person: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # The item kinds the caller's registry declares: with them, any other kind is refused
    # (storage knows no plugin).
    known: tuple[str, ...] = ()


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=6).hexdigest()


def _series_token(name: str) -> str:
    return f"s{_digest(name)}"


def _channel_token(channel: str) -> str:
    return f"c{_digest(channel.lower())}"


@lru_cache(maxsize=4096)  # asked for every line written; nicks repeat
def person_token(nick: str) -> str:
    """A line's or item's speaker as an FTS5 token (SQLite), for the person filter.
    Folded with Python's lower(), which unlike SQLite's also folds non-ASCII letters.
    Never change: stored with every line."""
    return f"p{_digest(nick.lower())}"


@lru_cache(maxsize=4096)  # asked for every line written; a meeting's lines share one
def scope_of(name: str, channel: str) -> str:
    """The series and channel of a line or item as FTS5 tokens (SQLite), so a series or
    channel filter is intersected inside the index instead of checked match by match.
    Digests, so they never collide with words. Never change: stored with every line."""
    return f"{_series_token(name)} {_channel_token(channel)}"


def scoped_match(match: str, filters: Filters) -> str:
    """An FTS5 query: the user's words in the text, and the filters' scope and person
    tokens."""
    parts = [f"text : ({match})"]
    if filters.series:
        parts.append(f"scope : {_series_token(filters.series)}")
    if filters.channel:
        parts.append(f"scope : {_channel_token(filters.channel)}")
    if filters.person:
        parts.append(f"who : {person_token(filters.person)}")
    return " AND ".join(parts)


_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    """Words as the FTS5 index sees them (unicode61, remove_diacritics): lower case,
    without accents."""
    lowered = text.lower()
    if lowered.isascii():  # nearly always: skip the per-character work
        return _WORD.findall(lowered)
    plain = unicodedata.normalize("NFKD", lowered)
    return _WORD.findall("".join(c for c in plain if not unicodedata.combining(c)))


def _query_terms(query: str) -> list[tuple[str, bool]]:
    """A search box's terms (words, "quoted phrases", OR) without a leading "-", each with
    whether that "-" excluded it."""
    terms = []
    for term in re.findall(r'-?"[^"]*"?|\S+', query[:MAX_QUERY])[:MAX_TERMS]:
        negative = term.startswith("-") and len(term) > 1
        terms.append((term[1:] if negative else term, negative))
    return terms


def wanted_words(query: str) -> set[str]:
    """The words a hit is ranked by: those of the query's terms that are not excluded."""
    words: set[str] = set()
    for term, negative in _query_terms(query):
        if term != "OR" and not negative:
            words.update(_words(term))
    return words


def relevance(words: list[str], wanted: set[str], average_length: float) -> float:
    """BM25 of a text's words for the query's words, without the words' rarity (IDF):
    every candidate already matched, and counting a common word's documents in a
    10-million-line index costs more than the whole rest of a search (bench/RESULTS.md)."""
    if not words:
        return 0.0
    norm = BM25_K1 * (1 - BM25_B + BM25_B * len(words) / max(average_length, 1.0))
    score = 0.0
    for word in wanted:
        tf = words.count(word)
        if tf:
            score += tf * (BM25_K1 + 1) / (tf + norm)
    return score


def fts5_query(query: str) -> str | None:
    """A valid FTS5 query with the meaning of a web search box: words and "quoted
    phrases" must all match, -word excludes, OR between terms. None: nothing to search."""
    terms: list[str] = []
    excluded: list[str] = []
    for term, negative in _query_terms(query):
        if term == "OR" and not negative:
            if terms and terms[-1] != "OR":
                terms.append("OR")
            continue
        words = re.findall(r"\w+", term)
        if not words:
            continue
        phrase = '"' + " ".join(words) + '"'
        (excluded if negative else terms).append(phrase)
    while terms and terms[-1] == "OR":
        terms.pop()
    if not terms:
        return None
    return " ".join(terms) + "".join(f" NOT {phrase}" for phrase in excluded)


def _meeting_where(filters: Filters) -> tuple[list[str], dict[str, Any]]:
    """The filters on a hit's meeting (as `m`): published, and of the series and channel
    asked for."""
    clauses = ["m.stem IS NOT NULL"]
    params: dict[str, Any] = {}
    if filters.series:
        clauses.append("m.name = :series")
        params["series"] = filters.series
    if filters.channel:
        clauses.append("lower(m.channel) = lower(:channel)")
        params["channel"] = filters.channel
    return clauses, params


def _where(filters: Filters, alias: str) -> tuple[list[str], dict[str, Any]]:
    """The filters checked in SQL. The person filter is not among them: its token in the
    index does it (and folds case as Python does, which SQL's lower() does not)."""
    clauses, params = _meeting_where(filters)
    if filters.since:
        clauses.append(f"{alias}.time >= :since")
        params["since"] = filters.since
    if filters.until:
        clauses.append(f"{alias}.time < :until")
        params["until"] = filters.until
    return clauses, params


# PostgreSQL's text of a tsquery: quoted lexemes ('' and \\ escaped), operators, groups.
_TSQUERY_TOKEN = re.compile(r"'((?:[^'\\]|''|\\.)*)'|<->|<\d+>|[&|!()]")
MAX_PAIR = 2046  # bytes of the two lexemes of a pair; migration 0014 leaves out longer ones


def _lexeme(quoted: str) -> str:
    return re.sub(r"''|\\(.)", lambda m: m.group(1) or "'", quoted)


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def phrase_pairs(tsquery: str) -> list[str]:
    """The word pairs (as tsquery lexemes) that the stored search document (PostgreSQL,
    migration 0014) holds in every row that matches `tsquery`, websearch_to_tsquery's
    text: the pairs `'a' <-> 'b'` of its phrases where all of them are required (no OR,
    not negated). A row matching `a <-> b` has a at some position and b at the next, so
    it holds the pair "a b"."""
    # Each piece: its text, and the lexeme when it is one.
    parts = [(m.group(0), m.group(1)) for m in _TSQUERY_TOKEN.finditer(tsquery)]
    if any(piece == "|" for piece, _ in parts):
        return []
    pairs: list[str] = []
    negated = 0  # how many of the open groups are under a "!" (or inside one that is)
    groups: list[bool] = []  # for each open group, whether it is negated
    for n, (piece, _) in enumerate(parts):
        before = parts[n - 1] if n else ("", None)
        if piece == "(":
            groups.append(before[0] == "!" or negated > 0)
            negated += groups[-1]
        elif piece == ")" and groups:
            negated -= groups.pop()
        elif piece == "<->" and not negated and n + 1 < len(parts):
            after = parts[n + 1]
            if before[1] is None or after[1] is None or (n > 1 and parts[n - 2][0] == "!"):
                continue
            a, b = _lexeme(before[1]), _lexeme(after[1])
            if len(a.encode()) + len(b.encode()) <= MAX_PAIR:
                pairs.append(_quoted(f"{a} {b}"))
    return list(dict.fromkeys(pairs))


def index_tokens(tsquery: str, filters: Filters) -> str | None:
    """What a PostgreSQL search intersects inside the index besides the query's words,
    as a tsquery: the filters' scope and person tokens, upper case as the stored document
    holds them (migration 0013), so that no word matches one, and the phrases' word pairs
    (0014), which hold a space, as no word does."""
    tokens = [_series_token(filters.series) if filters.series else "",
              _channel_token(filters.channel) if filters.channel else "",
              person_token(filters.person) if filters.person else ""]
    scope = [f"'{token.upper()}'" for token in tokens if token]
    return " & ".join(scope + phrase_pairs(tsquery)) or None


def _sqlite_statement(query: str,
                      filters: Filters) -> tuple[str, dict[str, Any], list[Any]] | None:
    """SQLite: the candidates of a search, every branch (items, lines) in one UNION ALL,
    with its parameters and typed binds. None: nothing to search for."""
    words = fts5_query(query)
    if words is None:
        return None
    parts: list[str] = []
    params: dict[str, Any] = {"q": scoped_match(words, filters), "cap": CANDIDATES}
    for branch in _search_branches(filters):
        params.update(branch.params)
        parts.append(_sqlite_branch_sql(branch))
    return " UNION ALL ".join(parts), params, _binds(params)


@dataclass(frozen=True, slots=True)
class _Branch:
    """Items or log lines, with the filters checked in SQL."""

    src: str  # "i" (items) or "l" (lines)
    clauses: list[str]
    params: dict[str, Any]

    @property
    def table(self) -> str:
        return "items" if self.src == "i" else "lines"


def _search_branches(filters: Filters) -> list[_Branch]:
    """What a search looks at: items (all, those of one kind, or decisions) unless only
    log lines are asked for, and log lines unless an item kind is."""
    kind = filters.kind
    branches = []
    if kind != LINE:
        clauses, params = _where(filters, "i")
        if kind == DECISION:
            clauses.append("i.decision")
        elif kind:
            clauses.append("i.kind = :kind")
            params["kind"] = kind
        branches.append(_Branch("i", clauses, params))
    if not kind or kind == LINE:
        clauses, params = _where(filters, "l")
        branches.append(_Branch("l", [_NO_ITEM, *clauses], params))
    return branches


def _binds(params: dict[str, Any]) -> list[Any]:
    return [bindparam(name, type_=UTCDateTime) for name in ("since", "until") if name in params]


# Planned for each query's words: a plan made once for any words (as a prepared statement
# gets after five runs) cannot tell a rare word from a common one. And each candidate's
# meeting is looked up by its key: a window holds at most a few thousand matches, and
# hashing all 50,000 meetings of an archive to join them took 36 ms of a 41 ms statement.
# No parallel workers: starting one took 30 ms of a 39 ms statement.
# With them (in one trip), the newest id of each table a search may find and the query as
# PostgreSQL reads it: empty when it has no word to look for ("-" or punctuation alone
# match nothing: no window need look), and the phrases whose word pairs the index is asked
# for.
_SEARCH_SETTINGS = ("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                    "set_config('enable_hashjoin', 'off', true), "
                    "set_config('enable_mergejoin', 'off', true), "
                    "set_config('max_parallel_workers_per_gather', '0', true), "
                    "websearch_to_tsquery('simple', :q)::text AS tsquery")


def _newest_id(table: str, scope: list[str] | None) -> str:
    """SQL of the newest id of `table` that a search may find. With the `scope` clauses of
    a series or channel filter, that of the newest row of the meetings they select, each
    meeting's one descent of its index by meeting and id (migration 0015): windows then
    start there, not among newer rows of other series that cannot match."""
    if scope is None:
        return f"(SELECT max(id) FROM {table})"
    return (f"(SELECT max(t.top) FROM meetings m CROSS JOIN LATERAL (SELECT max(r.id) AS top "
            f"FROM {table} r WHERE r.meeting_id = m.id) t WHERE {' AND '.join(scope)})")


def _search_start(filters: Filters) -> tuple[str, dict[str, Any]]:
    """The statement a PostgreSQL search starts with, and its parameters."""
    clauses, params = _meeting_where(filters)
    scope = clauses if filters.series or filters.channel else None
    tops = ", ".join(f"{_newest_id(table, scope)} AS {table}" for table in ("items", "lines"))
    return f"{_SEARCH_SETTINGS}, {tops}", params


_COLUMNS = {"time": UTCDateTime, "started_at": UTCDateTime, "ended_at": UTCDateTime}
# Every stored search document (PostgreSQL, migrations 0013, 0014) holds the token B<n> of
# the block of 16,384 ids its row is in, and G<n> of its group of 16 blocks. GIN yields
# matches in no order, so the newest matches are looked for a window of blocks at a time,
# newest first, each window as large as the matches of the ones before say is needed
# (_next_window); the tokens let GIN skip to the window's rows instead of collecting every
# match in the archive. Where matches are too rare for windows of blocks, groups are the
# windows; where they are too rare even for those, the rest of the table is one.
BLOCK_LEVELS = (("B", 14), ("G", 18))  # the token's letter, and the bits of ids it spans
# At most this many tokens in a window: GIN takes the OR of many tokens as the rows it
# must visit (a 64-block window cost 0.7 s at 10 million lines).
MAX_BLOCK_TOKENS = 4
RARE_WINDOWS = 8


def _next_window(found: int, ids: int, wanted: int, level: int,
                 blocks: int) -> tuple[int, int] | None:
    """The level and the number of blocks of that level of the next window, from the
    matches `found` in the `ids` looked at so far and the `blocks` of the last window: as
    many blocks as the matches say hold the `wanted` rest (with a margin), at most
    MAX_BLOCK_TOKENS, while that takes at most RARE_WINDOWS windows; otherwise the next
    level. Where nothing was found yet: one block of the next level, or at the last one
    twice as many blocks as before. None: the rest of the table in one statement."""
    if not found:
        if level + 1 < len(BLOCK_LEVELS):
            return level + 1, 1
        return (level, min(blocks * 2, MAX_BLOCK_TOKENS)) if blocks < MAX_BLOCK_TOKENS else None
    for next_level in range(level, len(BLOCK_LEVELS)):
        bits = BLOCK_LEVELS[next_level][1]
        needed = math.ceil(wanted * ids * 1.2 / found / (1 << bits))
        if needed <= MAX_BLOCK_TOKENS * RARE_WINDOWS:
            return next_level, max(1, min(needed, MAX_BLOCK_TOKENS))
    return None


async def _pg_candidates(conn: Any, query: str, filters: Filters,
                         plans: list[str] | None = None) -> tuple[list[Any], bool]:
    """PostgreSQL: the newest CANDIDATES matches of each branch, with their rank, and
    whether a branch reached that cap. With `plans`, each statement's EXPLAIN (ANALYZE,
    BUFFERS) is appended to it."""
    start_sql, start_params = _search_start(filters)
    start = (await conn.execute(text(start_sql), {**start_params, "q": query[:MAX_QUERY]})).one()
    if not start.tsquery:  # the empty tsquery: no word to look for
        return [], False
    scope = index_tokens(start.tsquery, filters)
    found: list[Any] = []
    full = False
    for branch in _search_branches(filters):
        top = getattr(start, branch.table)
        if top is None:
            continue
        rows: list[Any] = []
        hi = top + 1  # every id from here up has been looked at
        window: tuple[int, int] | None = (0, 1)
        while hi > 0 and len(rows) < CANDIDATES:
            blocks, lo = None, 0
            if window is not None:
                letter, bits = BLOCK_LEVELS[window[0]]
                last = (hi - 1) >> bits
                first = max(0, last - window[1] + 1)
                blocks = " | ".join(f"'{letter}{n}'" for n in range(last, first - 1, -1))
                lo = first << bits
            params = {**branch.params, "q": query[:MAX_QUERY], "scope": scope,
                      "blocks": blocks, "hi": hi, "cap": CANDIDATES - len(rows)}
            sql = _pg_branch_sql(branch, scope is not None, blocks is not None)
            statement = text(sql).bindparams(*_binds(params))
            # Times as the driver gives them: they only order equal ranks, and turning a
            # thousand of them into aware datetimes was a tenth of a search.
            rows += (await conn.execute(statement, params)).all()
            if plans is not None:
                explained = text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").bindparams(*_binds(params))
                plans.append("\n".join((await conn.execute(explained, params)).scalars()))
            if window is None:
                break
            hi = lo
            window = _next_window(len(rows), top + 1 - lo, CANDIDATES - len(rows), *window)
        full = full or len(rows) >= CANDIDATES
        found += rows
    return found, full


async def explain(engine: AsyncEngine, query: str, filters: Filters) -> list[str]:
    """PostgreSQL's plans of the statements of a search as they run, with timings and
    buffers (EXPLAIN (ANALYZE, BUFFERS)): for bench/RESULTS.md and the storage tests."""
    if engine.dialect.name != "postgresql":
        raise ValueError("explain is for PostgreSQL")
    plans: list[str] = []
    async with engine.connect() as conn:
        await _pg_candidates(conn, query, filters, plans)
    return plans


async def search(engine: AsyncEngine, query: str, filters: Filters, *, limit: int = 20,
                 offset: int = 0) -> SearchPage:
    """Hits best first. Ranking looks at the newest CANDIDATES matches of items and of lines
    that pass the filters (a word said in every meeting would otherwise cost a ranking of
    all of them), and snippets are made only for the page shown."""
    kind = filters.kind
    if kind is not None and kind not in (DECISION, LINE) and (
            not _KIND_NAME.fullmatch(kind) or (filters.known and kind not in filters.known)):
        choices = ", ".join(kind_choices(filters.known))
        raise ValueError(f"unknown kind {kind!r}; one of {choices}")
    limit = max(1, min(limit, 100))
    offset = max(0, min(offset, MAX_RESULTS))
    sqlite = engine.dialect.name == "sqlite"
    async with engine.connect() as conn:
        if sqlite:
            statement = _sqlite_statement(query, filters)
            if statement is None:
                return SearchPage([], 0, False)
            hits_sql, params, binds = statement
            # Ranked here: FTS5's own bm25 counts every row that holds each word first.
            # Times stay text (ISO, so they sort) until the page is read in full.
            candidates = (await conn.execute(text(hits_sql).bindparams(*binds), params)).all()
            full = any(sum(r.src == src for r in candidates) >= CANDIDATES for src in "il")
            ranked = _ranked(candidates, wanted_words(query))[offset:offset + limit]
            rows = await _page_rows(conn, [(r.src, r.rid) for r in ranked], _COLUMNS)
        else:
            # Ranked by PostgreSQL's ts_rank of the words, newer first among equals.
            candidates, full = await _pg_candidates(conn, query, filters)
            candidates.sort(key=lambda r: (r.rank, r.time), reverse=True)
            ranked = candidates[offset:offset + limit]
            rows = await _page_rows(conn, [(r.src, r.rid) for r in ranked], _COLUMNS)
        total = min(len(candidates), MAX_RESULTS)
        snippets = await _snippets(conn, sqlite, query if sqlite else query[:MAX_QUERY], rows)
    hits = [
        Hit(MeetingRecord(r.meeting_id, r.network, r.channel, r.name, r.title, r.founder,
                          r.started_at, r.ended_at, r.stem),
            r.kind, r.nick, r.time, r.line, r.text, snippets.get((r.src, r.rid), r.text))
        for r in rows
    ]
    return SearchPage(hits, total, total >= MAX_RESULTS or full)


async def _page_rows(conn: Any, order: list[tuple[str, int]],
                     columns: dict[str, Any]) -> list[Any]:
    """The rows of a page of hits, in full and in the given order."""
    parts = []
    for src, sql in (("i", _ITEM_ROWS), ("l", _LINE_ROWS)):
        ids = ", ".join(str(int(rid)) for s, rid in order if s == src)  # our own integers
        if ids:
            parts.append(f"{sql} ({ids})")
    if not parts:
        return []
    rows = (await conn.execute(text(" UNION ALL ".join(parts)).columns(**columns))).all()
    found = {(r.src, r.rid): r for r in rows}
    return [found[key] for key in order if key in found]


def _ranked(rows: Sequence[Any], wanted: set[str]) -> list[Any]:
    """Candidates best first: BM25 without IDF (see `relevance`), items weighted up,
    newer first among equals."""
    if not rows:
        return []
    tokenized = [(row, _words(row.text)) for row in rows]
    average = sum(len(words) for _, words in tokenized) / len(tokenized)
    scored = [(relevance(words, wanted, average) * (ITEM_WEIGHT if row.src == "i" else 1.0),
               row.time, row) for row, words in tokenized]
    scored.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [row for _, _, row in scored]


def highlight(text: str, wanted: set[str], words: int = SNIPPET_WORDS) -> str:
    """The query's words marked (MARK_START/MARK_END) in at most `words` words of the
    text around the first of them, with "…" where text was cut."""
    tokens = list(_WORD.finditer(text))
    if not tokens:
        return text
    hits = [n for n, token in enumerate(tokens) if "".join(_words(token.group())) in wanted]
    first = max(0, min(hits[0] - 4, len(tokens) - words)) if hits else 0
    last = min(len(tokens), first + words)
    pos = 0 if first == 0 else tokens[first].start()
    end = len(text) if last == len(tokens) else tokens[last - 1].end()
    parts = ["…" if first else ""]
    for n in hits:
        if first <= n < last:
            token = tokens[n]
            parts += [text[pos:token.start()], MARK_START, token.group(), MARK_END]
            pos = token.end()
    parts += [text[pos:end], "…" if last < len(tokens) else ""]
    return "".join(parts)


async def _snippets(conn: Any, sqlite: bool, query: str,
                    rows: Any) -> dict[tuple[str, int], str]:
    """Highlighted snippets of the rows on the page, made only for those. SQLite: here
    (FTS5's snippet() evaluates the whole query again to mark twenty rows)."""
    if sqlite:
        wanted = wanted_words(query)
        return {(r.src, r.rid): highlight(r.text, wanted) for r in rows}
    found: dict[tuple[str, int], str] = {}
    for src, table in (("i", "items"), ("l", "lines")):
        ids = [r.rid for r in rows if r.src == src]
        if not ids:
            continue
        marks = ", ".join(str(int(i)) for i in ids)  # integers from our own query
        sql = (f"SELECT id AS rid, ts_headline('simple', text, "
               f"websearch_to_tsquery('simple', :q), :headline) AS snip FROM {table} "
               f"WHERE id IN ({marks})")
        for row in (await conn.execute(text(sql), {"q": query, "headline": _HEADLINE})).all():
            found[(src, row.rid)] = row.snip
    return found


_HEADLINE = (f'StartSel="{MARK_START}", StopSel="{MARK_END}", '
             f"MaxWords={SNIPPET_WORDS}, MinWords=8, ShortWord=2")
_MEETING_COLUMNS = ("m.network, m.channel, m.name, m.title, m.founder, m.started_at, "
                    "m.ended_at, m.stem")
# A page of hits, read in full by id (see _page_rows).
_ITEM_ROWS = ("SELECT 'i' AS src, i.id AS rid, i.meeting_id, i.kind, i.nick, i.time, i.line, "
              f"i.text, {_MEETING_COLUMNS} FROM items i JOIN meetings m "
              "ON m.id = i.meeting_id WHERE i.id IN")
_LINE_ROWS = ("SELECT 'l' AS src, l.id AS rid, l.meeting_id, 'line' AS kind, l.nick, l.time, "
              f"l.seq AS line, l.text, {_MEETING_COLUMNS} FROM lines l JOIN meetings m "
              "ON m.id = l.meeting_id WHERE l.id IN")
_NO_ITEM = ("NOT EXISTS (SELECT 1 FROM items i2 WHERE i2.meeting_id = l.meeting_id "
            "AND i2.line = l.seq) AND l.kind IN ('message', 'action', 'notice', 'edit')")


def _pg_branch_sql(branch: _Branch, scoped: bool, blocked: bool) -> str:
    """PostgreSQL: the newest :cap rows of a branch in a window of ids (its blocks, or
    all below :hi) whose stored document (migrations 0013, 0014) matches the words and the
    filters' and phrases' tokens, with the rank of the words."""
    a = branch.src
    words = "websearch_to_tsquery('simple', :q)"
    match = " && ".join([words, *(["CAST(:scope AS tsquery)"] if scoped else []),
                         *(["CAST(:blocks AS tsquery)"] if blocked else [])])
    # The window's ids are those of its blocks below :hi (a window's newest block may have
    # been looked at in part), checked row by row ("+ 0": a bitmap of the primary key over
    # millions of ids costs more than the check).
    where = " AND ".join([f"{a}.search @@ ({match})", f"{a}.id + 0 < :hi", *branch.clauses])
    # Only what ranking needs; the page's rows are read in full afterwards. Ranked outside:
    # inside, ts_rank would be computed for every match before the newest :cap are kept.
    return (f"SELECT '{a}' AS src, c.id AS rid, c.time, ts_rank(c.search, {words}) AS rank "
            f"FROM (SELECT {a}.id, {a}.time, {a}.search "
            f"FROM {branch.table} {a} JOIN meetings m ON m.id = {a}.meeting_id "
            # "+ 0": not in the primary key's order. Walking the newest rows until :cap of
            # them match is what PostgreSQL would choose here, and for a word in one line
            # of a thousand it walks the whole window where the index finds its few matches.
            f"WHERE {where} ORDER BY {a}.id + 0 DESC LIMIT :cap) c")


def _sqlite_branch_sql(branch: _Branch) -> str:
    """SQLite: the newest :cap rows of a branch that match and pass its filters."""
    a, fts = branch.src, f"{branch.table}_fts"
    # CROSS JOIN keeps the match driving the join; ORDER BY rowid DESC lets FTS5 stream
    # newest first and stop at the cap, so filters apply before it.
    # Only what ranking needs; the page's rows are read in full afterwards.
    return (f"SELECT * FROM (SELECT '{a}' AS src, {a}.id AS rid, {a}.time, {a}.text "
            f"FROM {fts} CROSS JOIN {branch.table} {a} ON {a}.id = {fts}.rowid "
            f"CROSS JOIN meetings m ON m.id = {a}.meeting_id "
            f"WHERE {fts} MATCH :q AND {' AND '.join(branch.clauses)} "
            f"ORDER BY {fts}.rowid DESC LIMIT :cap)")
