"""PostgreSQL: word pairs and groups of blocks in each line's and item's search document

GIN cannot find a phrase by itself: for `"security review"` it collects every row that
holds both words and checks their positions in the heap (86,658 rows and 0.9 s at 10
million lines, bench/RESULTS.md). The stored document (0013) now also holds each pair of
adjacent words as one lexeme, "security review", made from the document's own positions
by openminutes_word_pairs(). No query word holds a space, so none can match a pair; a
phrase's pairs are added to the tsquery as tokens (storage.search.phrase_pairs), so the
index selects the lines that hold the phrase, and the positions are still checked.

The document also holds the token G<id >> 18> of its group of 16 blocks, so that a search
whose matches are rare among the newest lines looks further back one group at a time
instead of collecting every match in the table (storage.search._pg_candidates).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("lines", "items")
# storage.search.BLOCK_LEVELS: the block (B) and the group of blocks (G) of a row's id.
OLD_TOKENS = "upper(scope || ' ' || who || ' b' || (id >> 14)::text)::tsvector"  # 0013's
TOKENS = ("upper(scope || ' ' || who || ' b' || (id >> 14)::text "
          "|| ' g' || (id >> 18)::text)::tsvector")
OLD_DOCUMENT = f"to_tsvector('simple', text) || {OLD_TOKENS}"
DOCUMENT = f"to_tsvector('simple', text) || openminutes_word_pairs(text) || {TOKENS}"
# Every pair of lexemes at adjacent positions: exactly what `a <-> b` matches, whatever
# the parser made of the text. Lexemes share a position only at tsvector's last one
# (16383), hence groups. A lexeme may have 2047 bytes; a longer pair is left out, and
# phrase_pairs asks for none such.
WORD_PAIRS = """
CREATE FUNCTION openminutes_word_pairs(body text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  words text[]; places int[]; found text[] := '{}';
  n int; i int := 1; nxt int; last int; k int := 0;
BEGIN
  SELECT array_agg(lexeme ORDER BY pos), array_agg(pos ORDER BY pos) INTO words, places
    FROM (SELECT lexeme, unnest(positions) AS pos
          FROM unnest(to_tsvector('simple', body))) AS entries;
  n := coalesce(array_length(words, 1), 0);
  WHILE i <= n LOOP
    nxt := i;
    WHILE nxt <= n AND places[nxt] = places[i] LOOP nxt := nxt + 1; END LOOP;
    last := nxt;
    WHILE last <= n AND places[last] = places[i] + 1 LOOP last := last + 1; END LOOP;
    FOR a IN i .. nxt - 1 LOOP
      FOR b IN nxt .. last - 1 LOOP
        IF octet_length(words[a]) + octet_length(words[b]) < 2047 THEN
          k := k + 1;
          found[k] := words[a] || ' ' || words[b];
        END IF;
      END LOOP;
    END LOOP;
    i := nxt;
  END LOOP;
  RETURN array_to_tsvector(found);
END $$
"""


def _document(expression: str) -> None:
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
        op.execute(f"ALTER TABLE {table} DROP COLUMN search")
        op.execute(f"ALTER TABLE {table} ADD COLUMN search tsvector "
                   f"GENERATED ALWAYS AS ({expression}) STORED")
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search) "
                   "WITH (fastupdate = on)")
        # A rewritten table has no statistics of its new column: searches would be
        # planned blind until autovacuum came by.
        op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(WORD_PAIRS)
    _document(DOCUMENT)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _document(OLD_DOCUMENT)
    op.execute("DROP FUNCTION openminutes_word_pairs(text)")
