"""The ``search`` statements: semantic, keyword (BM25) and hybrid, exact or indexed.

Scores are those of the embedded store (``rust/core/src/query.rs``):

- semantic: cosine similarity, clamped to [0, 1];
- keyword: BM25 (k1 = 1.2, b = 0.75, Lucene's never-negative idf) with document
  frequencies and average length taken over the memories matching the filter (the
  scope), divided by the best BM25 of the query; memories sharing no term are left out;
- hybrid: ``w * semantic + (1 - w) * keyword``.

Ties go to the older memory (insertion order). Text is analysed by PostgreSQL's
``english`` configuration (Snowball English stemming, as the embedded store; the word
splitting and stop words are PostgreSQL's), stored per memory as ``fts`` with its term
count ``fts_len``.

Two plans:

- **exact** (the scope matches fewer than ``exact_scan_below`` memories): every matching
  row is scored inside a MATERIALIZED CTE without ORDER BY, so the HNSW index (which is
  approximate) cannot be used; the statement also returns how many rows it scored, and a
  full cap means "large scope: use the index plan";
- **index**: the HNSW index with iterative scanning finds the semantic top k inside the
  filter; the keyword side reads the memories holding a query term through the GIN index.
  A memory in neither set has keyword score 0 and a similarity no better than the k-th
  semantic hit, so it cannot enter the hybrid top k: the union is enough.

Every CTE is MATERIALIZED on purpose: inlined, the planner is free to re-run an aggregate
(the best BM25) once per outer row, which turned a 25,000-memory keyword search from half
a second into a minute.
"""

from __future__ import annotations

from typing import Literal

from psycopg import sql

from .rows import MEMORY_COLUMNS
from .schema import HNSW_MAX_VECTOR_DIMS, Names, index_expression

__all__ = ["Mode", "SearchSql"]

Mode = Literal["semantic", "keyword", "hybrid"]

_COLUMNS = ", ".join(f"m.{c.strip()}" for c in MEMORY_COLUMNS.split(","))
_K1, _B = 1.2, 0.75

# Query terms, and an OR tsquery of them (quoted: a lexeme is data, not tsquery syntax).
_QUERY_TERMS = r"""
qt AS MATERIALIZED (SELECT DISTINCT u.lexeme FROM unnest(to_tsvector('english'::regconfig, %(text)s::text)) AS u),
tsq AS MATERIALIZED (SELECT string_agg('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
        AS q FROM qt),
"""
# BM25 over `kwdocs` (the candidates holding a query term) with `stats` (n, avg_len).
_BM25 = f"""
hits AS MATERIALIZED (SELECT d.seq, u.lexeme, cardinality(u.positions)::float8 AS f
         FROM kwdocs d CROSS JOIN LATERAL unnest(d.fts) AS u WHERE u.lexeme IN (SELECT lexeme FROM qt)),
df AS MATERIALIZED (SELECT lexeme, count(*)::float8 AS n FROM hits GROUP BY lexeme),
bm AS MATERIALIZED (SELECT h.seq, sum(ln(1 + (s.n - df.n + 0.5) / (df.n + 0.5)) * h.f * {_K1 + 1}
                         / (h.f + {_K1} * ({1 - _B} + {_B} * d.fts_len / s.avg_len))) AS bm25
       FROM hits h JOIN df USING (lexeme) JOIN kwdocs d USING (seq) CROSS JOIN stats s GROUP BY h.seq),
best AS MATERIALIZED (SELECT max(bm25) AS best FROM bm),
"""
_SEMANTIC = "greatest(least(1 - {dist}, 1), 0)"
_KEYWORD = "coalesce(bm.bm25 / nullif(best.best, 0), 0)"


def _score(mode: Mode, dist: str) -> str:
    semantic = _SEMANTIC.format(dist=dist)
    if mode == "semantic":
        return semantic
    if mode == "keyword":
        return _KEYWORD
    return f"%(w)s::float8 * {semantic} + (1 - %(w)s::float8) * {_KEYWORD}"


class SearchSql:
    """Builds the search statements of one collection.

    Parameters every statement takes: ``q`` (the query vector, unless keyword mode),
    ``text`` (keyword and hybrid), ``w`` (hybrid), ``k`` (the limit), ``cap`` (exact
    plan), plus the filter's own. Each returns rows of (scored count, memory columns...,
    score), best first; the exact plan returns one all-NULL row with the count when
    nothing matched.
    """

    def __init__(self, names: Names) -> None:
        self.names = names

    def _format(
        self, template: str, where: sql.Composable, **extra: sql.Composable
    ) -> sql.Composed:
        return sql.SQL(template).format(
            mem=self.names.memories, where=where, cols=sql.SQL(_COLUMNS), **extra
        )

    def exact(self, where: sql.Composable, mode: Mode) -> sql.Composed:
        """Scores every memory matching ``where`` (at most ``cap`` of them)."""
        columns = ["seq"]
        if mode != "keyword":
            columns.append("embedding <=> %(q)s::vector AS dist")
        if mode != "semantic":
            columns += ["fts", "fts_len"]
        parts = [
            f"cand AS MATERIALIZED (SELECT {', '.join(columns)} FROM {{mem}} WHERE {{where}} LIMIT %(cap)s),"
        ]
        scored_from = "cand c"
        if mode != "semantic":
            parts += [
                _QUERY_TERMS,
                "kwdocs AS MATERIALIZED (SELECT seq, fts, fts_len FROM cand WHERE fts @@ (SELECT q FROM tsq)),",
                "stats AS MATERIALIZED (SELECT count(*)::float8 AS n, greatest(avg(fts_len), 1)::float8 AS avg_len FROM cand),",
                _BM25,
            ]
            scored_from += " LEFT JOIN bm ON bm.seq = c.seq CROSS JOIN best"
        keep = "WHERE bm.bm25 > 0" if mode == "keyword" else ""
        parts.append(
            f"scored AS MATERIALIZED (SELECT c.seq, {_score(mode, 'c.dist')} AS score FROM {scored_from} {keep}),"
            " top AS (SELECT seq, score FROM scored ORDER BY score DESC, seq LIMIT %(k)s)"
        )
        return self._format(
            "WITH "
            + "\n".join(parts)
            + " SELECT n.n, {cols}, top.score FROM (SELECT count(*) AS n FROM cand) AS n"
            " LEFT JOIN (top JOIN {mem} m ON m.seq = top.seq) ON true ORDER BY top.score DESC, top.seq",
            where,
        )

    def indexed(self, where: sql.Composable, mode: Mode, dims: int) -> sql.Composed:
        """HNSW for the semantic side, the GIN full-text index for the keyword side.

        Needs ``hnsw.iterative_scan`` set in the same transaction. Without an HNSW index
        for this dimension (over 4,000), the semantic side is an uncapped exact scan.
        """
        parts = []
        pool = []
        if mode != "keyword":
            expression = index_expression(dims)
            query: sql.Composable
            if expression is None:
                near = "SELECT seq FROM {mem} WHERE {where} ORDER BY embedding <=> %(q)s::vector, seq LIMIT %(k)s"
                query = sql.SQL("")
            else:
                near = "SELECT seq FROM {mem} WHERE {where} ORDER BY {expr} <=> {query} LIMIT %(k)s"
                query = sql.SQL("%(q)s::vector")
                if dims > HNSW_MAX_VECTOR_DIMS:  # the index is on half precision
                    query = sql.SQL("%(q)s::vector::halfvec({})").format(sql.Literal(dims))
            parts.append(f"near AS MATERIALIZED ({near}),")
            pool.append("SELECT seq FROM near")
        if mode != "semantic":
            parts += [
                _QUERY_TERMS,
                (
                    "kwdocs AS MATERIALIZED (SELECT seq, fts, fts_len FROM {mem} "
                    "WHERE ({where}) AND fts @@ (SELECT q FROM tsq)),"
                ),
                (
                    "stats AS MATERIALIZED (SELECT count(*)::float8 AS n, "
                    "greatest(avg(fts_len), 1)::float8 AS avg_len FROM {mem} WHERE {where}),"
                ),
                _BM25,
            ]
            pool.append("SELECT seq FROM bm")
        scored_from = "pool p JOIN {mem} m ON m.seq = p.seq"
        if mode != "semantic":
            scored_from += " LEFT JOIN bm ON bm.seq = p.seq CROSS JOIN best"
        keep = "WHERE bm.bm25 > 0" if mode == "keyword" else ""
        parts.append(
            f"pool AS MATERIALIZED ({' UNION '.join(pool)}),"
            f" scored AS MATERIALIZED (SELECT p.seq, {_score(mode, '(m.embedding <=> %(q)s::vector)')} AS score"
            f" FROM {scored_from} {keep}),"
            " top AS (SELECT seq, score FROM scored ORDER BY score DESC, seq LIMIT %(k)s)"
        )
        extra = {}
        if mode != "keyword":
            extra = {"expr": expression if expression is not None else sql.SQL(""), "query": query}
        return self._format(
            "WITH "
            + "\n".join(parts)
            + " SELECT 0, {cols}, top.score FROM top JOIN {mem} m ON m.seq = top.seq"
            " ORDER BY top.score DESC, top.seq",
            where,
            **extra,
        )
