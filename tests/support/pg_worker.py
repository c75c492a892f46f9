"""A separate process writing to a shared postgres collection (for test_postgres_store).

Run by ``multiprocessing`` (spawn): :func:`run_worker` opens its own ``AsyncMemory`` on
the same database as the test, adds memories concurrently, updates one shared memory
concurrently with the other worker, waits for the other worker, then reports what it
acknowledged and what it sees of the other's writes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from tests.support.fake_openai import fake_vector

__all__ = ["HashEmbedder", "pg_config", "run_worker"]


class HashEmbedder:
    """Deterministic vectors (the fake server's function), no server needed."""

    def __init__(self, dims: int = 16) -> None:
        self.dims = dims

    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray([fake_vector(t, self.dims) for t in texts], dtype=np.float32)

    async def aclose(self) -> None:
        pass


def pg_config(dsn: str, collection: str) -> dict[str, Any]:
    return {
        "vector_store": {"provider": "postgres", "config": {"dsn": dsn, "collection": collection}}
    }


async def _work(
    name: str,
    dsn: str,
    collection: str,
    adds: int,
    shared_id: str,
    updates: int,
    barrier: Any,
    other: str,
) -> dict[str, Any]:
    from memlane import AsyncMemory

    async with AsyncMemory(pg_config(dsn, collection), embedder=HashEmbedder()) as memory:

        async def add(i: int) -> str:
            result = await memory.add(f"{name} memory {i}", user_id=name, infer=False)
            return result["results"][0]["id"]

        async def update(i: int) -> None:
            await memory.update(shared_id, f"shared text from {name} #{i}")

        outcomes = await asyncio.gather(
            *(add(i) for i in range(adds)), *(update(i) for i in range(updates))
        )
        added = list(outcomes[:adds])
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
        seen = await memory.get_all(user_id=other, limit=10_000)
        hits = await memory.search(f"{other} memory 3", user_id=other, limit=1)
        return {
            "added": added,
            "seen_other": len(seen["results"]),
            "top_other": hits["results"][0]["memory"] if hits["results"] else None,
        }


def run_worker(
    name: str,
    dsn: str,
    collection: str,
    adds: int,
    shared_id: str,
    updates: int,
    barrier: Any,
    other: str,
    out: Any,
) -> None:
    """Process entry point; puts its report (or the error's text) on ``out``."""
    try:
        out.put(
            (
                name,
                asyncio.run(_work(name, dsn, collection, adds, shared_id, updates, barrier, other)),
            )
        )
    except BaseException as err:  # reported to the test, which fails with it
        out.put((name, {"error": repr(err)}))
        raise
