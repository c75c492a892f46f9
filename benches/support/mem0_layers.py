"""Where a Mem0 call spends its time: the pieces under ``AsyncMemory`` called directly.

Mem0's AsyncMemory runs each step of a call (embedding, Qdrant, SQLite history) with
``asyncio.to_thread``. Timing those steps alone, synchronously, next to one bare thread
hop, shows which of them makes up the end-to-end figures of ``store_vs_mem0.py``. Uses
Mem0 internals (``vector_store``, ``db``) as mem0ai 2.2.1 names them.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any


def _p50_ms(call: Callable[[int], Any], count: int) -> float:
    samples = []
    for i in range(count):
        started = time.perf_counter_ns()
        call(i)
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1e6


async def mem0_layers(
    memory: Any, vectors: list[list[float]], users: list[str], ids: list[str], count: int
) -> dict[str, float]:
    """p50 ms of each piece, ``count`` calls each; ``vectors`` (at least ``count``) are
    query vectors, ``users`` and ``ids`` existing scopes and memory ids. The inserted
    points are deleted again; the history rows written stay (the run is over by then)."""
    store, db = memory.vector_store, memory.db
    scope = [{"user_id": users[i % len(users)]} for i in range(count)]
    new = [str(uuid.uuid4()) for _ in range(count)]
    figures = {
        # What search asks Qdrant for: top_k 10 over-fetched to max(4 * 10, 60).
        "qdrant_search_60": _p50_ms(
            lambda i: store.search(query="q", vectors=vectors[i], top_k=60, filters=scope[i]), count
        ),
        # get_all(top_k=100) scrolls max(4 * 100, 60) points of the scope.
        "qdrant_scroll_400": _p50_ms(lambda i: store.list(filters=scope[i], top_k=400), count),
        "qdrant_get": _p50_ms(lambda i: store.get(vector_id=ids[i % len(ids)]), count),
        "qdrant_insert": _p50_ms(
            lambda i: store.insert(
                vectors=[vectors[i]], ids=[new[i]], payloads=[{"data": "probe", **scope[i]}]
            ),
            count,
        ),
        "qdrant_delete": _p50_ms(lambda i: store.delete(vector_id=new[i]), count),
        "history_add": _p50_ms(
            lambda i: db.add_history(new[i], None, "probe", "ADD", created_at="", updated_at=""),
            count,
        ),
        "history_get": _p50_ms(lambda i: db.get_history(ids[i % len(ids)]), count),
    }
    hops = []
    for _ in range(count):
        started = time.perf_counter_ns()
        await asyncio.to_thread(int)  # what each Mem0 step pays to leave the event loop
        hops.append(time.perf_counter_ns() - started)
    figures["thread_hop"] = statistics.median(hops) / 1e6
    return figures
