"""The PostgreSQL schema of one collection: tables, indexes, versioned migrations.

A collection ``c`` is three tables: ``c_memories`` (rows, vectors, insertion order),
``c_history`` (append-only events) and ``c_meta`` (schema version and vector dimension).
The schema is created at first use and migrated forward in code, each step in the same
transaction as its version bump, under an advisory lock so that many processes opening
the collection at once run each step exactly once.

The vector column is typed (``vector(dims)``) and its HNSW index built only once the
dimension is known: from the embedder when the store opens, else from the first vector
written (inside that write's transaction, so a failed write learns nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, errors, sql

from memlane.config import PostgresStoreSettings
from memlane.errors import StoreError, ValidationError

from .filters_sql import SCOPE_PREFIX, SqlDialect  # noqa: F401  (SCOPE_PREFIX: see MIGRATIONS)

__all__ = [
    "SCHEMA_VERSION",
    "Names",
    "create_vector_index",
    "ensure_extension",
    "learn_dims",
    "migrate",
    "read_dims",
]

#: pgvector release that brought iterative index scans (the true top-k under a filter).
MIN_PGVECTOR = (0, 8, 0)
#: pgvector's HNSW limits: `vector` up to 2,000 dimensions, `halfvec` up to 4,000.
HNSW_MAX_VECTOR_DIMS = 2_000
HNSW_MAX_HALFVEC_DIMS = 4_000


@dataclass(frozen=True)
class Names:
    """The SQL identifiers of one collection."""

    collection: str

    def ident(self, suffix: str) -> sql.Identifier:
        return sql.Identifier(f"{self.collection}_{suffix}")

    @property
    def memories(self) -> sql.Identifier:
        return self.ident("memories")

    @property
    def history(self) -> sql.Identifier:
        return self.ident("history")

    @property
    def meta(self) -> sql.Identifier:
        return self.ident("meta")

    @property
    def lock_key(self) -> int:
        """Advisory-lock key of this collection (stable across processes and hosts)."""
        digest = hashlib.blake2b(f"memlane:{self.collection}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


_EXTENSION_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"memlane:extension", digest_size=8).digest(), "big", signed=True
)


def _sql(template: str, names: Names) -> sql.Composed:
    return sql.SQL(template).format(
        mem=names.memories,
        hist=names.history,
        meta=names.meta,
        mem_user=names.ident("mem_user"),
        mem_agent=names.ident("mem_agent"),
        mem_run=names.ident("mem_run"),
        mem_fts=names.ident("mem_fts"),
        hist_mem=names.ident("hist_mem"),
    )


# Each entry moves the schema from version i to i + 1. Never edit a released step: add one.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: memories (vector column untyped until the dimension is known), history, meta.
    # Metadata twice: `metadata` (jsonb) is what filters read; `metadata_text` is the JSON
    # exactly as given, what reads return (jsonb rewrites numbers: 3.5e+63 would come back
    # as a 64-digit integer). Scope indexes hold a 512-character prefix of each id: a btree
    # entry must fit in a third of a page, and ids may be any length (filters compare the
    # prefix, which the index answers, and then the whole id).
    """
    CREATE TABLE {meta} (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE {mem} (
        id         text PRIMARY KEY,
        seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        memory     text NOT NULL,
        hash       text NOT NULL,
        user_id    text,
        agent_id   text,
        run_id     text,
        actor_id   text,
        role       text,
        metadata   jsonb,
        metadata_text text,
        created_at text NOT NULL,
        updated_at text NOT NULL,
        embedding  vector NOT NULL
    );
    CREATE INDEX {mem_user} ON {mem} (left(user_id, 512), seq);
    CREATE INDEX {mem_agent} ON {mem} (left(agent_id, 512), seq);
    CREATE INDEX {mem_run} ON {mem} (left(run_id, 512), seq);
    CREATE TABLE {hist} (
        seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id         text NOT NULL UNIQUE,
        memory_id  text NOT NULL,
        old_memory text,
        new_memory text,
        event      text NOT NULL CHECK (event IN ('ADD', 'UPDATE', 'DELETE')),
        created_at text,
        updated_at text,
        is_deleted boolean NOT NULL DEFAULT false,
        actor_id   text,
        role       text
    );
    CREATE INDEX {hist_mem} ON {hist} (memory_id, seq);
    """,
    # 1 -> 2: keyword search. Each memory's analysed text (`fts`) and its number of terms
    # (`fts_len`, BM25's document length), back-filled, and a GIN index over `fts`.
    """
    ALTER TABLE {mem} ADD COLUMN fts tsvector, ADD COLUMN fts_len integer;
    UPDATE {mem} SET fts = to_tsvector('english'::regconfig, left(memory, 100000)),
        fts_len = (SELECT coalesce(sum(cardinality(u.positions)), 0)
                   FROM unnest(to_tsvector('english'::regconfig, left(memory, 100000))) AS u);
    ALTER TABLE {mem} ALTER COLUMN fts SET NOT NULL, ALTER COLUMN fts_len SET NOT NULL;
    CREATE INDEX {mem_fts} ON {mem} USING gin (fts);
    """,
)

#: Characters of a memory's text the keyword index analyses (a tsvector is capped at 1 MB).
KEYWORD_TEXT_CHARS = 100_000

#: The schema version this build writes.
SCHEMA_VERSION = len(MIGRATIONS)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-")[0].split(".") if part.isdigit())


async def ensure_extension(conn: AsyncConnection[Any]) -> SqlDialect:
    """Creates the ``vector`` extension if missing and checks its version.

    Returns:
        What filter SQL may use on this server.

    Raises:
        StoreError: pgvector missing and not creatable by this role, or older than 0.8.
    """
    installed = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    async with conn.transaction():
        row = await (await conn.execute(installed)).fetchone()
        if row is None:
            # One lock for the whole database: collections share the extension.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_EXTENSION_LOCK_KEY])
            row = await (await conn.execute(installed)).fetchone()
        if row is None:
            try:
                async with conn.transaction():
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except (
                errors.InsufficientPrivilege,
                errors.FeatureNotSupported,
                errors.UndefinedFile,
            ) as err:
                raise StoreError(
                    "the PostgreSQL database has no pgvector extension and this role cannot create it "
                    f"({err.sqlstate}: {str(err).strip()}); install pgvector >= 0.8 and run "
                    "CREATE EXTENSION vector as a privileged role"
                ) from None
            row = await (await conn.execute(installed)).fetchone()
        version = row[0] if row else "0"
        if _version_tuple(version) < MIN_PGVECTOR:
            raise StoreError(
                f"pgvector {version} is too old: memlane needs >= 0.8.0 (iterative index scans "
                "keep filtered search exact); run ALTER EXTENSION vector UPDATE"
            )
        info = await (
            await conn.execute(
                "SELECT current_setting('server_version_num')::int, pg_encoding_to_char(encoding) "
                "FROM pg_database WHERE datname = current_database()"
            )
        ).fetchone()
    server_version, encoding = info if info else (0, "")
    collation = None
    if encoding == "UTF8" and server_version >= 180000:
        collation = "pg_unicode_fast"
    elif encoding == "UTF8" and server_version >= 170000:
        collation = "pg_c_utf8"
    return SqlDialect(lower_collation=collation)


async def current_version(conn: AsyncConnection[Any], names: Names) -> int:
    """The collection's schema version; 0 when it does not exist yet."""
    meta = names.meta.as_string(conn)
    row = await (await conn.execute("SELECT to_regclass(%s)", [meta])).fetchone()
    if row is None or row[0] is None:
        return 0
    query = sql.SQL("SELECT value FROM {} WHERE key = 'schema_version'").format(names.meta)
    found = await (await conn.execute(query)).fetchone()
    return int(found[0]) if found else 1


async def migrate(
    conn: AsyncConnection[Any],
    names: Names,
    settings: PostgresStoreSettings,
    dims: int | None,
    *,
    target: int = SCHEMA_VERSION,
) -> int | None:
    """Brings the collection's schema to ``target`` and reconciles its dimension.

    Args:
        dims: the embedder's dimension, when known: recorded if the collection has none.
        target: the version to stop at (tests use it to build an old schema).

    Returns:
        The collection's vector dimension, or None while nothing says it.

    Raises:
        StoreError: the schema is newer than this memlane knows.
        ValidationError: the collection holds vectors of another dimension than ``dims``.
    """
    # Fast path, without the lock (so read replicas and busy fleets open without writing):
    # the usual case is a collection already at this version with its dimension known.
    if await current_version(conn, names) == target:
        stored = await read_dims(conn, names)
        if stored is not None or dims is None:
            _check_dims(names, stored, dims)
            return stored
    # A session lock taken BEFORE the transaction: a backend refreshes its catalog caches
    # when a transaction starts, so this one sees tables another process just created
    # (with a transaction-level lock it could still think they are missing).
    await conn.execute("SELECT pg_advisory_lock(%s)", [names.lock_key])
    try:
        return await _migrate_locked(conn, names, settings, dims, target)
    finally:
        if not conn.broken:
            await conn.execute("SELECT pg_advisory_unlock(%s)", [names.lock_key])


async def _migrate_locked(
    conn: AsyncConnection[Any],
    names: Names,
    settings: PostgresStoreSettings,
    dims: int | None,
    target: int,
) -> int | None:
    async with conn.transaction():
        version = await current_version(conn, names)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the collection {names.collection!r} was written by a newer memlane (schema {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade memlane"
            )
        for step in range(version, target):
            await conn.execute(_sql(MIGRATIONS[step], names))
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ).format(names.meta),
                [str(step + 1)],
            )
        stored = await read_dims(conn, names)
        _check_dims(names, stored, dims)
        if stored is None and dims is not None:
            await learn_dims(conn, names, settings, dims)
            stored = dims
    return stored


def _check_dims(names: Names, stored: int | None, wanted: int | None) -> None:
    if stored is not None and wanted is not None and stored != wanted:
        raise ValidationError(
            f"the collection {names.collection!r} holds {stored}-dimensional vectors but the embedder "
            f"makes {wanted}-dimensional ones; use the embedder the collection was made with, or another "
            "collection"
        )


async def read_dims(conn: AsyncConnection[Any], names: Names) -> int | None:
    """The recorded vector dimension, or None."""
    query = sql.SQL("SELECT value FROM {} WHERE key = 'dims'").format(names.meta)
    row = await (await conn.execute(query)).fetchone()
    if row is None:
        return None
    try:
        return int(row[0])
    except ValueError:
        raise StoreError(f"the collection's recorded dimension {row[0]!r} is corrupt") from None


def index_expression(dims: int) -> sql.Composable | None:
    """What the HNSW index is built on: the vector itself, a half-precision copy for
    2,001-4,000 dimensions (pgvector's limits), or nothing beyond (exact scans only)."""
    if dims <= HNSW_MAX_VECTOR_DIMS:
        return sql.SQL("embedding")
    if dims <= HNSW_MAX_HALFVEC_DIMS:
        return sql.SQL("(embedding::halfvec({}))").format(sql.Literal(dims))
    return None


async def learn_dims(
    conn: AsyncConnection[Any], names: Names, settings: PostgresStoreSettings, dims: int
) -> None:
    """Types the vector column as ``vector(dims)``, builds the HNSW index, records ``dims``.

    Must run inside a transaction holding the collection's advisory lock.
    """
    await conn.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN embedding TYPE vector({})").format(
            names.memories, sql.Literal(dims)
        )
    )
    await create_vector_index(conn, names, settings, dims)
    await conn.execute(
        sql.SQL("INSERT INTO {} (key, value) VALUES ('dims', %s)").format(names.meta), [str(dims)]
    )


async def create_vector_index(
    conn: AsyncConnection[Any], names: Names, settings: PostgresStoreSettings, dims: int
) -> None:
    """Builds the collection's HNSW index (cosine) if missing. Bulk loads are fastest when
    the index is dropped first and rebuilt with this afterwards."""
    expression = index_expression(dims)
    if expression is not None:
        ops = "vector_cosine_ops" if dims <= HNSW_MAX_VECTOR_DIMS else "halfvec_cosine_ops"
        await conn.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw ({} {}) WITH (m = {}, ef_construction = {})"
            ).format(
                names.ident("mem_hnsw"),
                names.memories,
                expression,
                sql.SQL(ops),
                sql.Literal(int(settings.hnsw_m)),
                sql.Literal(int(settings.hnsw_ef_construction)),
            )
        )
