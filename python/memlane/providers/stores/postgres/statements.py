"""The SQL statements of one collection, rendered once per store.

Every write statement carries its history row in the same statement (a data-modifying
CTE), so each op costs one round trip and can never leave a memory without its event.
Timestamps come from the database clock, once per transaction
(``transaction_timestamp()``), so that processes on several hosts agree on them; they
are rendered as memlane returns them: ISO-8601 UTC with microseconds and ``+00:00``.
"""

from __future__ import annotations

from psycopg import sql

from .rows import HISTORY_COLUMNS, MEMORY_COLUMNS
from .schema import Names

__all__ = ["Statements"]

NOW = (
    """to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
)
# The text as the keyword side of search sees it, and its number of terms (BM25's length).
TSV = "to_tsvector('english'::regconfig, left({text}, 100000))"  # schema.KEYWORD_TEXT_CHARS
TSV_LEN = "(SELECT coalesce(sum(cardinality(u.positions)), 0)::integer FROM unnest({tsv}) AS u)"
_HISTORY_INSERT = (
    "INSERT INTO {hist} (id, memory_id, old_memory, new_memory, event, created_at, updated_at, "
    "is_deleted, actor_id, role) "
)


class Statements:
    """Static statements as strings (rendered without a connection: no I/O)."""

    def __init__(self, names: Names) -> None:
        self.names = names

        def render(template: str) -> str:
            return (
                sql.SQL(template)
                .format(mem=names.memories, hist=names.history, meta=names.meta, now=sql.SQL(NOW))
                .as_string(None)
            )

        self.add = render(
            "WITH t AS (SELECT " + TSV.format(text="%(text)s::text") + " AS v), "
            "m AS (INSERT INTO {mem} (id, memory, hash, user_id, agent_id, run_id, actor_id, role, "
            "metadata, metadata_text, created_at, updated_at, embedding, fts, fts_len) "
            "SELECT %(id)s, %(text)s, %(hash)s, %(user_id)s, %(agent_id)s, %(run_id)s, %(actor_id)s, "
            "%(role)s, %(metadata)s::jsonb, %(metadata_text)s::text, {now}, {now}, %(vector)s::vector, t.v, "
            + TSV_LEN.format(tsv="t.v")
            + " FROM t RETURNING id, memory, created_at, actor_id, role) "
            + _HISTORY_INSERT
            + "SELECT gen_random_uuid()::text, id, NULL, memory, 'ADD', created_at, NULL, false, actor_id, role FROM m"
        )
        # FOR UPDATE in the CTE waits for a concurrent writer and returns the latest
        # version, so `previous` is the text this update really replaces.
        self.update = render(
            "WITH old AS (SELECT id, memory FROM {mem} WHERE id = %(id)s FOR UPDATE), "
            "upd AS (UPDATE {mem} m SET "
            "memory = COALESCE(%(text)s::text, m.memory), "
            "hash = COALESCE(%(hash)s::text, m.hash), "
            "embedding = COALESCE(%(vector)s::vector, m.embedding), "
            "fts = COALESCE(" + TSV.format(text="%(text)s::text") + ", m.fts), "
            "fts_len = CASE WHEN %(text)s::text IS NULL THEN m.fts_len ELSE "
            + TSV_LEN.format(tsv=TSV.format(text="%(text)s::text"))
            + " END, "
            "metadata = CASE WHEN %(set_metadata)s::boolean THEN %(metadata)s::jsonb ELSE m.metadata END, "
            "metadata_text = CASE WHEN %(set_metadata)s::boolean THEN %(metadata_text)s::text ELSE m.metadata_text END, "
            "updated_at = GREATEST({now}, m.created_at) "
            "FROM old WHERE m.id = old.id "
            "RETURNING m.id, old.memory AS previous, m.memory, m.created_at, m.updated_at, m.actor_id, m.role), "
            "h AS ("
            + _HISTORY_INSERT
            + "SELECT gen_random_uuid()::text, id, previous, memory, 'UPDATE', created_at, updated_at, false, "
            "actor_id, role FROM upd) "
            "SELECT previous, memory FROM upd"
        )
        self.delete = render(
            "WITH gone AS (DELETE FROM {mem} WHERE id = %s RETURNING id, memory, created_at, actor_id, role) "
            + _HISTORY_INSERT
            + "SELECT gen_random_uuid()::text, id, memory, NULL, 'DELETE', created_at, {now}, true, actor_id, role "
            "FROM gone RETURNING old_memory"
        )
        self.reset = [render("DELETE FROM {mem}"), render("DELETE FROM {hist}")]
        self.get = render(f"SELECT {MEMORY_COLUMNS} FROM {{mem}} WHERE id = %s")
        self.history = render(
            f"SELECT {HISTORY_COLUMNS} FROM {{hist}} WHERE memory_id = %s ORDER BY seq"
        )
        self.count = render("SELECT count(*) FROM {mem}")
        self.lock = "SELECT pg_advisory_xact_lock(%s)"
        self.hnsw_settings = "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)"

    def delete_scope(self, keys: list[str]) -> sql.Composed:
        """Deletes every memory whose scope includes all the ids named by ``keys``; returns
        the ids deleted, oldest first, after writing one DELETE event each."""
        where = sql.SQL(" AND ").join(
            sql.SQL("left({col}, 512) = left({v}::text, 512) AND {col} = {v}").format(
                col=sql.Identifier(k), v=sql.Placeholder(k)
            )
            for k in keys
        )
        return sql.SQL(
            "WITH gone AS (DELETE FROM {mem} WHERE {where} "
            "RETURNING seq, id, memory, created_at, actor_id, role), "
            "h AS ("
            + _HISTORY_INSERT
            + "SELECT gen_random_uuid()::text, id, memory, NULL, 'DELETE', created_at, {now}, true, actor_id, role "
            "FROM gone ORDER BY seq) "
            "SELECT id FROM gone ORDER BY seq"
        ).format(mem=self.names.memories, hist=self.names.history, where=where, now=sql.SQL(NOW))

    def list(self, where: sql.Composable) -> sql.Composed:
        return sql.SQL(
            "SELECT {cols} FROM {mem} WHERE {where} ORDER BY seq LIMIT %(limit)s"
        ).format(cols=sql.SQL(MEMORY_COLUMNS), mem=self.names.memories, where=where)
