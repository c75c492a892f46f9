"""Child process: reopen a store built by store_bench and report what a fresh process pays.

Run by store_bench as ``python -m support.reopen_probe PATH DIMS USERS`` (cwd ``benches/``), so
that the resident memory measured is memlane's alone, not the benchmark's data tables.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np

from support.measure import proc_memory_mb
from support.precomputed import PrecomputedEmbedder

#: Enough searches to touch every user's vectors the way a live process would.
PROBE_SEARCHES = 200
PROBE_SEED = 7


async def probe(folder: str, dims: int, users: int) -> dict[str, float]:
    before_import = proc_memory_mb()["rss_mb"]
    from memlane import AsyncMemory

    after_import = proc_memory_mb()["rss_mb"]
    rng = np.random.default_rng(PROBE_SEED)
    queries = rng.standard_normal((PROBE_SEARCHES, dims)).astype(np.float32)
    texts = [f"probe {i}" for i in range(PROBE_SEARCHES)]
    embedder = PrecomputedEmbedder(dict(zip(texts, queries)), dims)
    config = {"vector_store": {"provider": "embedded", "config": {"path": folder}}}
    started = time.perf_counter()
    memory = AsyncMemory(config, embedder=embedder)
    open_s = time.perf_counter() - started
    after_open = proc_memory_mb()["rss_mb"]
    for i, text in enumerate(texts):
        await memory.search(text, user_id=f"user-{i % users:04d}", limit=10)
    after_search = proc_memory_mb()
    await memory.close()
    return {
        "open_ms": open_s * 1e3,
        "rss_before_import_mb": before_import,
        "rss_after_import_mb": after_import,
        "rss_after_open_mb": after_open,
        "rss_after_searches_mb": after_search["rss_mb"],
        "peak_rss_mb": after_search["peak_rss_mb"],
        "store_rss_mb": after_search["rss_mb"] - after_import,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))))
