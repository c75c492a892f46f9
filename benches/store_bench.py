"""Store benchmark: add throughput, scoped search latency, get_all latency, memory, disk.

The embedder is precomputed (free), so every figure is the store plus memlane's Python
layer plus the await round trip into Rust — exactly what DESIGN.md says must be
"invisible next to" a real embedding call.

Each pass builds a fresh store in a temporary folder; the figures printed are medians over
the passes, because this machine (two shared cores) is noisy.

    python benches/store_bench.py            # 10,000 memories, 3 passes
    python benches/store_bench.py --quick    # 1,000 memories, seconds (CI smoke run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from memlane import AsyncMemory, ValidationError
from support.measure import (
    machine_info,
    median_of,
    percentiles_ms,
    print_table,
    proc_memory_mb,
    write_json,
)
from support.precomputed import DEFAULT_DIMS, DEFAULT_SEED, Dataset, make_dataset
from support.workload import measure_adds, timed


@dataclass(frozen=True)
class Scale:
    memories: int
    users: int
    sequential_adds: int  # the first ones, one at a time; the rest go concurrently
    searches: int
    get_alls: int
    warmup: int  # calls before timing, so first-touch costs (page faults, caches) are excluded


FULL = Scale(
    memories=10_000, users=100, sequential_adds=2_000, searches=1_000, get_alls=300, warmup=50
)
QUICK = Scale(memories=1_000, users=10, sequential_adds=200, searches=200, get_alls=50, warmup=20)

CONCURRENCY = 32
SEARCH_LIMIT = 10
GET_ALL_LIMIT = 100
DEFAULT_PASSES = 3
PERCENTILES = (50, 95, 99)

# Targets from the project brief, printed beside the figures.
TARGET_SEARCH_P50_MS = 1.0
TARGET_CONCURRENT_ADDS_PER_S = 1_000
TARGET_RSS_MB = 100


def _store_config(folder: Path) -> dict[str, Any]:
    return {"vector_store": {"provider": "embedded", "config": {"path": str(folder)}}}


def _search_mode(memory: AsyncMemory) -> str:
    """The ranking ``search`` uses (builds before search modes only had "semantic")."""
    return getattr(getattr(memory.config, "search", None), "mode", "semantic")


def _brute_force_top_k(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """What a hand-written numpy search over one user's vectors costs: the baseline."""
    scores = matrix @ query
    top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    return top[np.argsort(-scores[top])]


async def _measure_reads(
    memory: AsyncMemory, folder: Path, data: Dataset, scale: Scale, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    users = [data.users[u] for u in rng.integers(0, len(data.users), size=scale.searches)]
    queries = [data.query_texts[q % len(data.query_texts)] for q in range(scale.searches)]

    async def search(q: int) -> None:
        await memory.search(queries[q], user_id=users[q], limit=SEARCH_LIMIT)

    await timed(lambda q=q: search(q) for q in range(scale.warmup))
    search_ns = await timed(lambda q=q: search(q) for q in range(scale.searches))

    # Layers under the full call, to show where the time of one search goes.
    floor_ns = await timed(lambda: asyncio.sleep(0) for _ in range(scale.searches))
    # A plain thread hop (default executor, no-op): what any "run it off the loop" costs.
    loop = asyncio.get_running_loop()
    hop_ns = await timed(lambda: loop.run_in_executor(None, int) for _ in range(scale.searches))
    some_id = (await memory.get_all(user_id=data.users[0], limit=1))["results"][0]["id"]
    get_ns = await timed(lambda: memory.get(some_id) for _ in range(scale.searches))
    store_ns = await _store_level_search(memory, data, users, queries, scale)
    semantic_ns = await _semantic_search(folder, data, users, queries, scale)

    matrices = {user: data.user_matrix(user) for user in data.users}
    vectors = dict(zip(data.query_texts, data.query_vectors))
    numpy_ns = []
    for q in range(scale.searches):
        started = time.perf_counter_ns()
        _brute_force_top_k(matrices[users[q]], vectors[queries[q]], SEARCH_LIMIT)
        numpy_ns.append(time.perf_counter_ns() - started)

    get_all_users = [data.users[u] for u in rng.integers(0, len(data.users), size=scale.get_alls)]
    sizes = set()

    async def get_all(user: str) -> None:
        sizes.add(len((await memory.get_all(user_id=user, limit=GET_ALL_LIMIT))["results"]))

    get_all_ns = await timed(lambda u=u: get_all(u) for u in get_all_users)
    result = {
        "search_ms": percentiles_ms(search_ns, PERCENTILES),
        "search_mode": _search_mode(memory),
        "store_search_ms": percentiles_ms(store_ns, PERCENTILES) if store_ns else None,
        "get_by_id_ms": percentiles_ms(get_ns, PERCENTILES),
        "numpy_brute_force_ms": percentiles_ms(numpy_ns, PERCENTILES),
        "asyncio_sleep0_ms": percentiles_ms(floor_ns, PERCENTILES),
        "thread_hop_ms": percentiles_ms(hop_ns, PERCENTILES),
        "get_all_ms": percentiles_ms(get_all_ns, PERCENTILES),
        "get_all_sizes": sorted(sizes),
    }
    if store_ns is None:
        del result["store_search_ms"]
    if semantic_ns is not None:
        result["semantic_search_ms"] = percentiles_ms(semantic_ns, PERCENTILES)
    return result


async def _store_level_search(
    memory: AsyncMemory, data: Dataset, users: list[str], queries: list[str], scale: Scale
) -> list[int] | None:
    """The same searches one layer down (``memory.store.search``, in the memory's search
    mode), skipping AsyncMemory's argument checks and the embedder. Uses internals, so it
    is skipped if they moved."""
    try:
        from memlane import inputs

        filters = {
            user: inputs.filters(None, inputs.scope(user, None, None), need_scope=True)
            for user in data.users
        }
        vectors = dict(zip(data.query_texts, data.query_vectors))
        store = memory.store
        mode, weight = memory.config.search.mode, memory.config.search.semantic_weight

        def call(q: int) -> Any:
            text = queries[q]
            return store.search(
                vectors[text], text, filters[users[q]], SEARCH_LIMIT, None, mode, weight
            )

        await call(0)
    except (ImportError, AttributeError, TypeError) as exc:
        print(f"  (store-level search skipped: {exc})", file=sys.stderr)
        return None
    return await timed(lambda q=q: call(q) for q in range(scale.searches))


async def _semantic_search(
    folder: Path, data: Dataset, users: list[str], queries: list[str], scale: Scale
) -> list[int] | None:
    """The same searches with ``search.mode = "semantic"`` (vector only), through a second
    memory on the same store (one process shares one engine per file)."""
    config = {**_store_config(folder), "search": {"mode": "semantic"}}
    try:
        memory = AsyncMemory(config, embedder=data.embedder())
    except ValidationError as exc:  # an older build, whose config has no "search"
        print(f"  (semantic-mode search skipped: {exc})", file=sys.stderr)
        return None
    try:

        async def search(q: int) -> None:
            await memory.search(queries[q], user_id=users[q], limit=SEARCH_LIMIT)

        await timed(lambda q=q: search(q) for q in range(scale.warmup))
        return await timed(lambda q=q: search(q) for q in range(scale.searches))
    finally:
        await memory.close()


def _file_sizes_mb(folder: Path) -> dict[str, float]:
    database = folder / "memlane.db"
    wal = folder / "memlane.db-wal"

    def size(path: Path) -> float:
        return path.stat().st_size / 1e6 if path.exists() else 0.0

    return {"db_mb": size(database), "wal_mb": size(wal)}


def _reopen_probe(folder: Path, scale: Scale) -> dict[str, float]:
    """Reopens the closed store in a fresh process (see support/reopen_probe.py)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "support.reopen_probe",
            str(folder),
            str(DEFAULT_DIMS),
            str(scale.users),
        ],
        cwd=Path(__file__).parent,
        capture_output=True,
        check=False,  # a failure is reported below, with the child's stderr
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"reopening the store in a fresh process failed (exit {completed.returncode}):\n"
            f"{completed.stderr.strip()}"
        )
    return json.loads(completed.stdout)


async def run_pass(data: Dataset, scale: Scale, seed: int, workdir: str | None) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="memlane-bench-", dir=workdir))
    try:
        memory = AsyncMemory(_store_config(folder), embedder=data.embedder())
        adds = await measure_adds(
            memory, data, scale.sequential_adds, scale.memories, CONCURRENCY, PERCENTILES
        )
        reads = await _measure_reads(memory, folder, data, scale, seed)
        memory_now = proc_memory_mb()
        files = _file_sizes_mb(folder)
        await memory.close()
        files_after_close = _file_sizes_mb(folder)
        reopened = _reopen_probe(folder, scale)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        **adds,
        **reads,
        "bench_process": memory_now,
        "files": files,
        "files_after_close": files_after_close,
        "fresh_process": reopened,
    }


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def report(summary: dict[str, Any], scale: Scale, passes: int) -> None:
    s = summary

    def ms(figures: dict[str, float], point: str) -> str:
        return f"{figures[point]:.3f} ms"

    rows = [
        (
            "add, sequential",
            f"{s['sequential_adds_per_s']:,.0f} /s",
            f"p50 {ms(s['sequential_add_ms'], 'p50')}",
        ),
        (
            f"add, concurrency {CONCURRENCY}",
            f"{s['concurrent_adds_per_s']:,.0f} /s",
            (
                f"target >= {TARGET_CONCURRENT_ADDS_PER_S:,} /s: "
                f"{_ok(s['concurrent_adds_per_s'] >= TARGET_CONCURRENT_ADDS_PER_S)}"
            ),
        ),
    ]
    search = s["search_ms"]
    rows.append(
        (
            f"search limit={SEARCH_LIMIT} ({s['search_mode']}) p50",
            ms(search, "p50"),
            f"target < {TARGET_SEARCH_P50_MS} ms: {_ok(search['p50'] < TARGET_SEARCH_P50_MS)}",
        )
    )
    rows += [(f"search p{p}", ms(search, f"p{p}"), "") for p in PERCENTILES[1:]]
    if "semantic_search_ms" in s:
        rows.append(("  search, semantic mode p50", ms(s["semantic_search_ms"], "p50"), ""))
    if "store_search_ms" in s:
        rows.append(
            ("  store.search (no AsyncMemory layer) p50", ms(s["store_search_ms"], "p50"), "")
        )
    rows += [
        ("  get(id) round trip p50", ms(s["get_by_id_ms"], "p50"), "floor of one native await"),
        ("  numpy brute force p50", ms(s["numpy_brute_force_ms"], "p50"), "baseline, same queries"),
        (
            "  run_in_executor(no-op) p50",
            ms(s["thread_hop_ms"], "p50"),
            "plain thread hop, for scale",
        ),
        ("  asyncio.sleep(0) p50", ms(s["asyncio_sleep0_ms"], "p50"), "event-loop floor"),
        (
            f"get_all ({GET_ALL_LIMIT}) p50",
            ms(s["get_all_ms"], "p50"),
            f"p95 {ms(s['get_all_ms'], 'p95')}",
        ),
    ]
    fresh = s["fresh_process"]
    bench = s["bench_process"]
    rows += [
        (
            "RSS, fresh process with store open",
            f"{fresh['rss_after_searches_mb']:.1f} MB",
            (
                f"target < {TARGET_RSS_MB} MB: "
                f"{_ok(fresh['rss_after_searches_mb'] < TARGET_RSS_MB)}; "
                f"peak {fresh['peak_rss_mb']:.1f}, store share {fresh['store_rss_mb']:.1f}"
            ),
        ),
        ("  reopen (load from SQLite)", f"{fresh['open_ms']:.0f} ms", ""),
        (
            "RSS, benchmark process (pass 1)",
            f"{bench['rss_mb']:.1f} MB",
            f"peak {bench['peak_rss_mb']:.1f} MB (includes the benchmark's own data)",
        ),
        (
            "SQLite file (+ -wal)",
            f"{s['files']['db_mb']:.1f} MB",
            (
                f"+ {s['files']['wal_mb']:.1f} MB wal while open; after close "
                f"{s['files_after_close']['db_mb']:.1f} + {s['files_after_close']['wal_mb']:.1f} MB"
            ),
        ),
    ]
    print_table(
        f"memlane store bench: {scale.memories:,} memories, {scale.users} users, "
        f"{DEFAULT_DIMS}-d (median of {passes} passes)",
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run for CI")
    parser.add_argument(
        "--passes", type=int, default=None, help=f"default {DEFAULT_PASSES} (1 with --quick)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--dir", default=None, help="where the temporary stores go (default: system temp)"
    )
    parser.add_argument("--out", default=None, help="JSON file name inside bench-results/")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    passes = args.passes or (1 if args.quick else DEFAULT_PASSES)
    machine = machine_info()  # before the run: the load average is the one it ran under
    data = make_dataset(scale.memories, scale.users, queries=scale.searches, seed=args.seed)
    results = []
    for number in range(passes):
        print(f"pass {number + 1}/{passes} ...", file=sys.stderr, flush=True)
        results.append(asyncio.run(run_pass(data, scale, args.seed + number, args.dir)))
    summary = median_of(results)
    # The benchmark process's RSS climbs pass after pass (allocator arenas of the many
    # native threads keep freed memory), so a median over passes means little: report
    # the first pass, the one a fresh process sees.
    summary["bench_process"] = results[0]["bench_process"]
    report(summary, scale, passes)
    out = args.out or ("store_bench_quick.json" if args.quick else "store_bench.json")
    path = write_json(
        out,
        {
            "machine": machine,
            "scale": asdict(scale),
            "concurrency": CONCURRENCY,
            "passes": results,
            "median": summary,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
