"""`PostgresStore`: the store interface on PostgreSQL + pgvector, for many processes.

Construction does no I/O. The first call connects, creates the ``vector`` extension if
needed, creates or migrates the collection's schema and opens the connection pool, all
behind one asyncio lock. Every ``apply`` is one transaction (retried whole on a
deadlock); reads are single statements on autocommit connections, so each sees one
consistent snapshot. Everything goes through psycopg's async API: the event loop never
waits on a socket.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import numpy as np
import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from memlane.config import PostgresStoreSettings
from memlane.errors import MemlaneError, MemoryNotFoundError, StoreError, ValidationError
from memlane.providers.stores.base import (
    AddOp,
    DeleteOp,
    DeleteScopeOp,
    Op,
    ResetOp,
    SearchMode,
    UpdateOp,
)
from memlane.providers.stores.settle import uncancellable

from . import schema
from .filters_sql import CompiledFilter, SqlDialect, compile_filter
from .rows import (
    PgVector,
    check_metadata,
    check_vector,
    configure_connection,
    escape,
    escape_opt,
    history_event,
    md5_hex,
    memory_item,
    unescape,
)
from .search_sql import SearchSql
from .statements import Statements

__all__ = ["PostgresStore"]

logger = logging.getLogger("memlane")

#: Seconds to wait for the first connection before reporting the database unreachable.
CONNECT_TIMEOUT_S = 10
#: Seconds a call waits for a free pooled connection before failing with StoreError.
POOL_WAIT_S = 30
#: Times a transaction that lost a deadlock (or a serialization race) is retried whole.
TRANSACTION_ATTEMPTS = 3
#: pgvector caps hnsw.ef_search at 1,000.
MAX_EF_SEARCH = 1_000
_MAX_LIMIT = 2**62
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive integer, got {limit}")
    return min(limit, _MAX_LIMIT)


def _not_found(memory_id: str) -> MemoryNotFoundError:
    return MemoryNotFoundError(f"memory {json.dumps(memory_id, ensure_ascii=False)} not found")


def _where(dsn: str) -> str:
    """Host/port/database of a DSN, for messages (never the password)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the configured database"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


class PostgresStore:
    """A store in PostgreSQL with pgvector; see :class:`memlane.providers.stores.base.Store`.

    Args:
        settings: DSN, collection (table-name prefix), pool sizes, HNSW parameters.
        dims: the embedder's vector length when known; checked against the collection at
            first use, else learned from the first vector written.

    Example:
        >>> store = PostgresStore(PostgresStoreSettings(dsn="postgresql://localhost/app"), 384)
        >>> await store.list('{"user_id": "alice"}', 10)
        >>> await store.close()
    """

    def __init__(self, settings: PostgresStoreSettings, dims: int | None) -> None:
        self._settings = settings
        self._names = schema.Names(settings.collection)
        self._sql = Statements(self._names)
        self._search = SearchSql(self._names)
        self._dims = dims
        self._dialect = SqlDialect()
        self._pool: AsyncConnectionPool[Any] | None = None
        self._closed = False
        self._init_lock = asyncio.Lock()

    # --- properties and lifecycle --------------------------------------------------------

    @property
    def dims(self) -> int | None:
        return self._dims

    @property
    def collection(self) -> str:
        return self._settings.collection

    async def close(self) -> None:
        """Closes the pool. Idempotent."""
        self._closed = True
        async with self._init_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _open(self) -> AsyncConnectionPool[Any]:
        """The pool, connecting and preparing the schema on first use."""
        pool = self._pool
        if pool is not None:
            return pool
        async with self._init_lock:
            if self._closed:
                raise MemlaneError("the store is closed")
            if self._pool is None:
                self._pool = await self._connect()
            return self._pool

    async def _connect(self) -> AsyncConnectionPool[Any]:
        s = self._settings
        try:
            # One direct connection first: its error (refused, auth, no such database)
            # is precise, where a pool only reports a timeout.
            conn = await psycopg.AsyncConnection.connect(
                s.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as err:
            raise StoreError(
                f"cannot connect to PostgreSQL at {_where(s.dsn)}: {str(err).strip()}"
            ) from None
        try:
            async with conn:
                await configure_connection(conn)
                self._dialect = await schema.ensure_extension(conn)
                self._dims = await schema.migrate(conn, self._names, s, self._dims)
        except psycopg.Error as err:
            raise StoreError(
                f"cannot prepare the collection {s.collection!r}: {str(err).strip()}"
            ) from None
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            s.dsn,
            min_size=s.min_pool_size,
            max_size=s.max_pool_size,
            kwargs={"autocommit": True},
            configure=configure_connection,
            timeout=POOL_WAIT_S,
            open=False,
            name=f"memlane-{s.collection}",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (PoolTimeout, psycopg.Error) as err:
            await pool.close()
            raise StoreError(
                f"cannot open connections to PostgreSQL at {_where(s.dsn)}: {err}"
            ) from None
        return pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; database failures become StoreError."""
        pool = await self._open()
        try:
            async with pool.connection() as conn:
                yield conn
        except MemlaneError:
            raise
        except PoolTimeout as err:
            raise StoreError(
                f"no PostgreSQL connection free within {POOL_WAIT_S} s: {err}"
            ) from None
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL store failed: {str(err).strip()}") from err

    # --- writes --------------------------------------------------------------------------

    async def apply(self, ops: Sequence[Op]) -> list[Any]:
        """Applies ``ops`` in one transaction; see the Store protocol.

        Raises:
            ValidationError: bad op or vector (nothing was sent to the database).
            MemoryNotFoundError: an update or delete named an unknown id; nothing changed.
            StoreError: the database failed; nothing changed.
        """
        prepared = self._validate(ops)
        return await uncancellable(asyncio.ensure_future(self._transaction(ops, prepared)))

    async def _transaction(self, ops: Sequence[Op], prepared: list[Any]) -> list[Any]:
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                # Pipelined: BEGIN, the writes and COMMIT go out together, so an add costs
                # one network round trip (reads that need an answer flush it).
                async with self._connection() as conn, conn.pipeline(), conn.transaction():
                    dims = await self._settle_dims(conn, prepared)
                    results = await self._apply_ops(conn, ops, prepared)
                if dims is not None:
                    self._dims = dims
                return results
            except StoreError as err:
                if attempt < TRANSACTION_ATTEMPTS and isinstance(err.__cause__, _RETRYABLE):
                    logger.info("memlane: retrying a transaction that lost a deadlock (%s)", err)
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _validate(self, ops: Sequence[Op]) -> list[Any]:
        """Checks every op before any I/O; returns per-op prepared values (vectors, JSON)."""
        prepared: list[Any] = []
        for op in ops:
            if isinstance(op, DeleteScopeOp):
                if op.user_id is None and op.agent_id is None and op.run_id is None:
                    raise ValidationError("a scope delete needs user_id, agent_id or run_id")
                if len(ops) > 1:
                    raise ValidationError("a scope delete or reset must be the only op of its call")
                prepared.append(None)
            elif isinstance(op, ResetOp):
                if len(ops) > 1:
                    raise ValidationError("a scope delete or reset must be the only op of its call")
                prepared.append(None)
            elif isinstance(op, AddOp):
                prepared.append(
                    (check_vector(op.vector, self._dims), check_metadata(op.metadata_json))
                )
            elif isinstance(op, UpdateOp):
                if (op.text is None) != (op.vector is None):
                    raise ValidationError("an update needs both text and vector, or neither")
                vector = None if op.vector is None else check_vector(op.vector, self._dims)
                prepared.append((vector, check_metadata(op.metadata_json)))
            elif isinstance(op, DeleteOp):
                prepared.append(None)
            else:
                raise TypeError(f"not a store op: {op!r}")
        return prepared

    async def _settle_dims(
        self, conn: psycopg.AsyncConnection[Any], prepared: list[Any]
    ) -> int | None:
        """Checks the vectors of a write against the collection's dimension, learning it
        from the first vector when the collection has none yet (in this transaction)."""
        vectors: list[PgVector] = [
            p[0] for p in prepared if isinstance(p, tuple) and p[0] is not None
        ]
        if not vectors or self._dims is not None:
            return None  # already checked against the known dimension
        await conn.execute(self._sql.lock, [self._names.lock_key])
        dims = await schema.read_dims(conn, self._names)
        if dims is None:
            dims = vectors[0].array.shape[0]
            await schema.learn_dims(conn, self._names, self._settings, dims)
        for vector in vectors:
            check_vector(vector.array, dims)
        return dims

    async def _apply_ops(
        self, conn: psycopg.AsyncConnection[Any], ops: Sequence[Op], prepared: list[Any]
    ) -> list[Any]:
        results: list[Any] = []
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, AddOp):
                # A run of adds goes as one pipelined batch: one round trip.
                rows, adds, end = [], [], i
                while end < len(ops) and isinstance(add := ops[end], AddOp):
                    vector, (searchable, exact) = prepared[end]
                    adds.append(add)
                    rows.append(
                        {
                            "id": str(uuid4()),
                            "text": escape(add.text),
                            "hash": md5_hex(add.text),
                            "user_id": escape_opt(add.user_id),
                            "agent_id": escape_opt(add.agent_id),
                            "run_id": escape_opt(add.run_id),
                            "actor_id": escape_opt(add.actor_id),
                            "role": escape_opt(add.role),
                            "metadata": searchable,
                            "metadata_text": exact,
                            "vector": vector,
                        }
                    )
                    end += 1
                if len(rows) == 1:
                    await conn.execute(self._sql.add, rows[0])
                else:
                    async with conn.cursor() as cur:
                        await cur.executemany(self._sql.add, rows)
                results.extend(
                    {"id": row["id"], "memory": add.text, "event": "ADD"}
                    for row, add in zip(rows, adds)
                )
                i = end
                continue
            if isinstance(op, (UpdateOp, DeleteOp)) and "\x00" in op.memory_id:
                raise _not_found(op.memory_id)  # ids are UUIDs: no memory has this one
            if isinstance(op, UpdateOp):
                vector, (searchable, exact) = prepared[i]
                params = {
                    "id": op.memory_id,
                    "text": escape_opt(op.text),
                    "hash": None if op.text is None else md5_hex(op.text),
                    "vector": vector,
                    "set_metadata": op.metadata_json is not None,
                    "metadata": searchable,
                    "metadata_text": exact,
                }
                row = await (await conn.execute(self._sql.update, params)).fetchone()
                if row is None:
                    raise _not_found(op.memory_id)
                results.append(
                    {
                        "id": op.memory_id,
                        "memory": unescape(row[1]),
                        "event": "UPDATE",
                        "previous_memory": unescape(row[0]),
                    }
                )
            elif isinstance(op, DeleteOp):
                row = await (await conn.execute(self._sql.delete, [op.memory_id])).fetchone()
                if row is None:
                    raise _not_found(op.memory_id)
                results.append({"id": op.memory_id, "memory": unescape(row[0]), "event": "DELETE"})
            elif isinstance(op, DeleteScopeOp):
                ids = {
                    k: escape(v)
                    for k in ("user_id", "agent_id", "run_id")
                    if (v := getattr(op, k)) is not None
                }
                cur = await conn.execute(self._sql.delete_scope(list(ids)), ids)
                results.append({"event": "DELETE", "deleted": [r[0] for r in await cur.fetchall()]})
            elif isinstance(op, ResetOp):
                for statement in self._sql.reset:
                    await conn.execute(statement)
                results.append(None)
            i += 1
        return results

    # --- reads ---------------------------------------------------------------------------

    async def _compile(self, filters_json: str | None) -> CompiledFilter:
        """The filter as SQL for this database; a bad filter fails before connecting."""
        if self._pool is None:
            compile_filter(filters_json, self._dialect)
            await self._open()
        return compile_filter(filters_json, self._dialect)

    async def get(self, memory_id: str) -> dict[str, Any]:
        if "\x00" in memory_id:  # PostgreSQL text cannot hold it, so no memory has it
            raise _not_found(memory_id)
        async with self._connection() as conn:
            row = await (await conn.execute(self._sql.get, [memory_id])).fetchone()
        if row is None:
            raise _not_found(memory_id)
        return memory_item(row)

    async def list(self, filters_json: str | None, limit: int) -> list[dict[str, Any]]:
        limit = _check_limit(limit)
        compiled = await self._compile(filters_json)
        async with self._connection() as conn:
            cur = await conn.execute(
                self._sql.list(compiled.where), {**compiled.params, "limit": limit}
            )
            rows = await cur.fetchall()
        return [memory_item(row) for row in rows]

    # `builtins.list` from here on: inside the class, `list` names the method above.
    async def history(self, memory_id: str) -> builtins.list[dict[str, Any]]:
        if "\x00" in memory_id:
            return []
        async with self._connection() as conn:
            rows = await (await conn.execute(self._sql.history, [memory_id])).fetchall()
        return [history_event(row) for row in rows]

    async def count(self) -> int:
        """Number of memories in the collection."""
        async with self._connection() as conn:
            row = await (await conn.execute(self._sql.count)).fetchone()
        return int(row[0]) if row else 0

    async def search(
        self,
        vector: np.ndarray | None,
        text: str,
        filters_json: str | None,
        limit: int,
        threshold: float | None,
        mode: SearchMode = "semantic",
        semantic_weight: float = 0.6,
    ) -> builtins.list[dict[str, Any]]:
        """The ``limit`` best memories matching the filter, best first, with ``score``.

        Modes and scores as the embedded store (see :mod:`.search_sql`). Filters matching
        fewer than ``exact_scan_below`` memories are scored exactly; larger ones use the
        HNSW index with iterative scanning (which keeps looking until ``limit`` matching
        rows are found) and the full-text index.

        Raises:
            ValidationError: bad limit, filter, mode, weight or vector.
        """
        limit = _check_limit(limit)
        if mode not in ("semantic", "keyword", "hybrid"):
            raise ValidationError(f"unknown search mode {json.dumps(mode)}")
        query = None
        if vector is not None:
            query = check_vector(vector, self._dims)
        elif mode != "keyword":
            raise ValidationError("this search mode needs the query's vector")
        if mode == "hybrid" and not 0.0 <= semantic_weight <= 1.0:
            raise ValidationError("semantic_weight must be between 0 and 1")
        compiled = await self._compile(filters_json)
        if self._dims is None and vector is not None:
            async with self._connection() as conn:
                self._dims = await schema.read_dims(conn, self._names)
            if self._dims is None:
                return []  # nothing was ever stored
            query = check_vector(vector, self._dims)
        cap = self._settings.exact_scan_below
        params = {
            **compiled.params,
            "q": query,
            "text": escape(text),
            "w": semantic_weight,
            "k": limit,
            "cap": cap,
        }
        async with self._connection() as conn:
            cur = await conn.execute(self._search.exact(compiled.where, mode), params)
            rows = await cur.fetchall()
            if rows and rows[0][0] >= cap:
                ef_search = min(max(self._settings.hnsw_ef_search, limit), MAX_EF_SEARCH)
                statement = self._search.indexed(compiled.where, mode, self._dims or 0)
                async with conn.transaction():
                    await conn.execute(self._sql.hnsw_settings, [str(ef_search)])
                    rows = await (await conn.execute(statement, params)).fetchall()
        hits = []
        for row in rows:
            if row[1] is None:  # the exact plan's "nothing matched" row
                continue
            score = min(max(float(row[-1]), 0.0), 1.0)
            if threshold is not None and score < threshold:
                continue
            hits.append(memory_item(row[1:-1], score))
        return hits
