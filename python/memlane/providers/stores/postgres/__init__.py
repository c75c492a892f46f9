"""The ``postgres`` store: memories, vectors (pgvector, HNSW) and history in PostgreSQL,
shared by any number of application processes.

Needs ``pip install memlane[postgres]`` and pgvector >= 0.8 in the database; see
docs/postgres.md.
"""

from memlane.providers.stores.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
