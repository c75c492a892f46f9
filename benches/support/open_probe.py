"""Child process: open an embedded store once, say how its index came to be, and search it.

Run by reopen_bench as
``python -m support.open_probe FOLDER QUERIES.npy FILTERS.json LIMIT [INDEX_MIN_MEMORIES]``
(cwd ``benches/``); FILTERS.json names the filters each query is searched with, and an
INDEX_MIN_MEMORIES above the store's size opens it without any graph. Each open needs a process of its own: within one process memlane
shares one engine per database file, so a second open there would reuse the first one's
graph instead of loading or building it. Prints one JSON object on stdout.

The store is opened in ``semantic`` mode so that search results are a pure vector ranking,
which the benchmark compares with numpy brute force.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from support.measure import proc_memory_mb
from support.precomputed import PrecomputedEmbedder


async def probe(
    folder: str,
    queries: np.ndarray,
    filters: dict[str, dict[str, Any]],
    limit: int,
    index_min_memories: int | None,
) -> dict[str, Any]:
    before_import = proc_memory_mb()["rss_mb"]
    from memlane import AsyncMemory

    after_import = proc_memory_mb()["rss_mb"]
    texts = [f"probe query {q}" for q in range(len(queries))]
    embedder = PrecomputedEmbedder(dict(zip(texts, queries)), queries.shape[1])
    store: dict[str, Any] = {"path": folder}
    if index_min_memories is not None:
        store["index_min_memories"] = index_min_memories
    config = {
        "vector_store": {"provider": "embedded", "config": store},
        "search": {"mode": "semantic"},
    }
    started = time.perf_counter()
    memory = AsyncMemory(config, embedder=embedder)  # the store opens here, synchronously
    open_s = time.perf_counter() - started
    origin = memory.store.index_origin
    count = memory.store.count()
    after_open = proc_memory_mb()["rss_mb"]

    # The first search after open, alone: whatever the open left undone (page faults in a
    # loaded graph, say) shows here. It uses the first filter given.
    first_filter = next(iter(filters.values()))
    started = time.perf_counter()
    await memory.search(texts[0], filters=first_filter, limit=limit)
    first_search_s = time.perf_counter() - started

    search_ms: dict[str, float] = {}
    results: dict[str, list[list[str]]] = {}
    for name, where in filters.items():
        samples, found = [], []
        for text in texts:
            started = time.perf_counter()
            hits = await memory.search(text, filters=where, limit=limit)
            samples.append((time.perf_counter() - started) * 1e3)
            found.append([hit["memory"] for hit in hits["results"]])
        search_ms[name] = float(np.median(samples))
        results[name] = found
    after_search = proc_memory_mb()

    # Closing saves the graph snapshot again (every clean close does): worth seeing its cost.
    started = time.perf_counter()
    await memory.close()
    close_s = time.perf_counter() - started
    return {
        "index_origin": origin,
        "memories": count,
        "open_ms": open_s * 1e3,
        "first_search_ms": first_search_s * 1e3,
        "search_ms_median": search_ms,
        "close_ms": close_s * 1e3,
        "rss_before_import_mb": before_import,
        "rss_after_import_mb": after_import,
        "rss_after_open_mb": after_open,
        "store_rss_mb": after_open - after_import,
        "rss_after_searches_mb": after_search["rss_mb"],
        "peak_rss_mb": after_search["peak_rss_mb"],
        "results": results,
    }


if __name__ == "__main__":
    folder, queries_file, filters_file, limit = sys.argv[1:5]
    threshold = int(sys.argv[5]) if len(sys.argv) > 5 else None
    found = asyncio.run(
        probe(
            folder,
            np.load(queries_file),
            json.loads(Path(filters_file).read_text(encoding="utf-8")),
            int(limit),
            threshold,
        )
    )
    print(json.dumps(found))
