"""Store operations, memlane against Mem0 (``mem0ai``'s AsyncMemory), in one run, on the
same data: the baseline for the claim that memlane's non-LLM operations are faster.

Both systems get the same seeded dataset (``support/precomputed.make_dataset``: 384-d
clustered unit vectors, texts, users, held-out queries) and embeddings that cost nothing,
so every figure is the memory layer alone. memlane gets ``PrecomputedEmbedder``; Mem0's
``embedding_model`` is replaced, on the built AsyncMemory, by a table lookup with the
signature Mem0 calls (``embed(text, memory_action)``, from its worker threads). Mem0 is
opened as ``infer_bench.py`` opens it (embedded Qdrant, ``on_disk=True``, SQLite history,
telemetry off); its LLM and embedder point at a closed local port and are never called,
and an audit hook records every socket connect and name lookup: there must be none.

After the pre-fill, ``--passes`` passes over the same stores (the systems take turns going
first) time, one call at a time after a warm-up: add(infer=False), scoped search (top_k 10),
get_all of one user, get, update, history, delete. Wall p50/p95 per call, CPU per call
(``time.process_time``: every thread of the process); medians over the passes. A check
first: 50 searches, the top-10 overlap between the systems and against numpy. Last, the
pieces of Mem0's calls timed alone (``support/mem0_layers.py``), to show where its time goes.

    python benches/store_vs_mem0.py            # 2,000 memories, 20 users, 3 passes
    python benches/store_vs_mem0.py --quick    # 500 memories, 10 users, 1 pass
"""

from __future__ import annotations

import os

os.environ["MEM0_TELEMETRY"] = "False"  # read when mem0 is first imported

import argparse
import asyncio
import logging
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from memlane import AsyncMemory
from support.measure import machine_info, median_of, percentiles_ms, write_json
from support.mem0_layers import mem0_layers
from support.precomputed import DEFAULT_SEED, Dataset, PrecomputedEmbedder, make_dataset

TOP_K = 10
GET_ALL_LIMIT = 100
PREFILL_CONCURRENCY = 32  # memlane only: Mem0's embedded Qdrant races (see infer_bench)
AGREEMENT_SEARCHES = 50
SYSTEMS = ("memlane", "mem0")


@dataclass(frozen=True)
class Scale:
    memories: int
    users: int
    searches: int
    adds: int  # per pass; the same memories are updated (first `updates`), read, deleted
    updates: int
    get_alls: int
    gets: int
    warmup: int  # untimed calls of each kind before timing it


FULL = Scale(2_000, 20, searches=200, adds=200, updates=100, get_alls=100, gets=200, warmup=10)
QUICK = Scale(500, 10, searches=100, adds=50, updates=25, get_alls=50, gets=100, warmup=5)

# Every socket connect or name lookup made in this process, by anyone (Mem0, its clients,
# telemetry): the run is offline, so this must stay empty.
NETWORK: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        NETWORK.append(f"connect {args[1]!r}")
    elif event == "socket.getaddrinfo":
        NETWORK.append(f"getaddrinfo {args[0]!r}")


class TableEmbedder:
    """Stands in for Mem0's ``embedding_model``: the vector from a table, as the list of
    floats Mem0's own embedders return. Counts calls, to show Mem0 really used it."""

    def __init__(self, table: dict[str, list[float]], config: Any) -> None:
        self.table = table
        self.config = config  # Mem0 reads embedding_model.config (embedding_dims)
        self.calls = 0

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        self.calls += 1
        return self.table[text]

    def embed_batch(self, texts: list[str], memory_action: str | None = "add") -> list[list[float]]:
        self.calls += 1
        return [self.table[text] for text in texts]


def _closed_port_url() -> str:
    """A local URL nothing listens on: a call that reached it would fail, not hang."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def open_systems(
    root: Path, table: dict[str, np.ndarray], embedder: PrecomputedEmbedder
) -> dict[str, Any]:
    from infer_bench import open_mem0  # the same Mem0 config as the add(infer=True) bench

    (root / "memlane").mkdir()
    (root / "mem0").mkdir()
    store = {"vector_store": {"provider": "embedded", "config": {"path": str(root / "memlane")}}}
    mem0 = open_mem0(_closed_port_url(), str(root / "mem0"))
    lists = {text: vector.tolist() for text, vector in table.items()}
    mem0.embedding_model = TableEmbedder(lists, mem0.embedding_model.config)
    return {
        "memlane": AsyncMemory(store, embedder=embedder),
        # A second view of the same store (one engine per file in a process), searching by
        # vector alone: what Mem0 does here (no fastembed, so no BM25 in its search).
        "memlane_semantic": AsyncMemory(
            {**store, "search": {"mode": "semantic"}}, embedder=embedder
        ),
        "mem0": mem0,
    }


async def close_systems(systems: dict[str, Any]) -> None:
    await systems["memlane_semantic"].close()
    await systems["memlane"].close()
    mem0 = systems["mem0"]
    mem0.vector_store.client.close()
    mem0.db.close()


async def prefill(memory: Any, data: Dataset, concurrency: int) -> tuple[list[str], dict]:
    ids: list[str] = [""] * len(data.texts)
    gate = asyncio.Semaphore(concurrency)

    async def add(i: int) -> None:
        async with gate:
            result = await memory.add(data.texts[i], user_id=data.user_ids[i], infer=False)
        ids[i] = result["results"][0]["id"]

    cpu, wall = time.process_time(), time.perf_counter()
    if concurrency == 1:
        for i in range(len(ids)):
            await add(i)
    else:
        await asyncio.gather(*(add(i) for i in range(len(ids))))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    mode = "one at a time" if concurrency == 1 else f"concurrency {concurrency}"
    return ids, {"mode": mode, "seconds": wall, "cpu_s": cpu, "adds_per_s": len(ids) / wall}


async def measure(calls: list[Callable[[], Awaitable[Any]]]) -> tuple[dict[str, float], list]:
    """Awaits the calls one at a time: wall p50/p95 per call, CPU per call, calls/s."""
    results, samples = [], []
    cpu, wall = time.process_time(), time.perf_counter()
    for call in calls:
        started = time.perf_counter_ns()
        results.append(await call())
        samples.append(time.perf_counter_ns() - started)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figures = percentiles_ms(samples, (50, 95))
    figures.update(cpu_ms=cpu * 1e3 / len(calls), per_s=len(calls) / wall)
    return figures, results


async def timed(calls: list[Callable[[], Awaitable[Any]]], warmup: int) -> tuple[dict, list]:
    """The first ``warmup`` calls untimed, then the rest timed; every call's result."""
    first = [await call() for call in calls[:warmup]]
    figures, rest = await measure(calls[warmup:])
    return figures, first + rest


async def one_pass(
    memory: Any,
    semantic: Any,
    data: Dataset,
    extra: Dataset,
    ids: list[str],
    block: range,
    scale: Scale,
    seed: int,
) -> dict[str, Any]:
    """The timed calls of one pass. The same seed gives both systems the same calls."""
    rng = np.random.default_rng(seed)
    w = scale.warmup
    users = [data.users[u] for u in rng.integers(0, len(data.users), size=w + scale.searches)]
    queries = [data.query_texts[q % len(data.query_texts)] for q in range(w + scale.searches)]

    def search(m: Any, q: int) -> Awaitable[Any]:
        return m.search(queries[q], filters={"user_id": users[q]}, top_k=TOP_K, threshold=0.0)

    out: dict[str, Any] = {}
    out["search"], _ = await timed([lambda q=q: search(memory, q) for q in range(len(users))], w)
    if semantic is not None:
        calls = [lambda q=q: search(semantic, q) for q in range(len(users))]
        out["search_semantic"], _ = await timed(calls, w)
    listed = [data.users[u] for u in rng.integers(0, len(data.users), size=w + scale.get_alls)]
    calls = [
        lambda u=u: memory.get_all(filters={"user_id": u}, top_k=GET_ALL_LIMIT) for u in listed
    ]
    out["get_all"], pages = await timed(calls, w)
    out["get_all_sizes"] = sorted({len(page["results"]) for page in pages})
    picks = [ids[i] for i in rng.integers(0, len(ids), size=w + scale.gets)]
    out["get"], _ = await timed([lambda i=i: memory.get(i) for i in picks], w)

    # New memories (texts of `extra`, so they have table vectors): add, update the first
    # `updates`, read their history, delete them all: the store ends the pass as it began.
    adds, updates = block[: w + scale.adds], block[w + scale.adds :]
    calls = [
        lambda i=i: memory.add(extra.texts[i], user_id=extra.user_ids[i], infer=False) for i in adds
    ]
    out["add"], added = await timed(calls, w)
    new = [result["results"][0]["id"] for result in added]  # warm-up memories first
    out["update"], _ = await timed(
        [lambda m=m, i=i: memory.update(m, text=extra.texts[i]) for m, i in zip(new, updates)], w
    )
    out["history"], logs = await timed([lambda m=m: memory.history(m) for m in new], w)
    out["history_entries"] = sum(len(log) for log in logs[w:])
    out["delete"], _ = await timed([lambda m=m: memory.delete(m) for m in new], w)
    return out


async def agreement(systems: dict[str, Any], data: Dataset, seed: int) -> dict[str, Any]:
    """The same searches on each system: how many of the top-10 memory texts they share,
    and how many of numpy's exact top-10 over the user's memories each finds."""
    rng = np.random.default_rng(seed)
    rows = {u: np.flatnonzero(np.asarray(data.user_ids) == u) for u in data.users}
    tops: dict[str, list[set[str]]] = {name: [] for name in (*systems, "numpy")}
    for q in range(AGREEMENT_SEARCHES):
        user = data.users[rng.integers(len(data.users))]
        for name, memory in systems.items():
            found = await memory.search(
                data.query_texts[q], filters={"user_id": user}, top_k=TOP_K, threshold=0.0
            )
            tops[name].append({hit["memory"] for hit in found["results"]})
        scores = data.vectors[rows[user]] @ data.query_vectors[q]
        tops["numpy"].append({data.texts[i] for i in rows[user][np.argsort(-scores)[:TOP_K]]})

    def shared(a: str, b: str) -> float:
        return float(np.mean([len(x & y) / TOP_K for x, y in zip(tops[a], tops[b])]))

    return {
        "searches": AGREEMENT_SEARCHES,
        "overlap_mem0_memlane_hybrid": shared("mem0", "memlane"),
        "overlap_mem0_memlane_semantic": shared("mem0", "memlane_semantic"),
        "recall_vs_numpy": {name: shared(name, "numpy") for name in systems},
        "mean_results": {name: float(np.mean([len(t) for t in tops[name]])) for name in systems},
    }


async def run(scale: Scale, passes: int, seed: int, root: Path) -> dict[str, Any]:
    data = make_dataset(
        scale.memories, scale.users, queries=scale.warmup + scale.searches, seed=seed
    )
    per_pass = 2 * scale.warmup + scale.adds + scale.updates
    # Texts for the memories each pass adds and the new texts of its updates: their own
    # seed and tag, so they are new texts with vectors from the same distribution.
    extra = make_dataset(per_pass * passes, scale.users, queries=0, seed=seed + 1, tag="new ")
    table = dict(zip(data.texts, data.vectors))
    table.update(zip(data.query_texts, data.query_vectors))
    table.update(zip(extra.texts, extra.vectors))
    embedder = PrecomputedEmbedder(table, data.vectors.shape[1])
    systems = open_systems(root, table, embedder)
    try:
        ids, prefilled = {}, {}
        for name, concurrency in (("memlane", PREFILL_CONCURRENCY), ("mem0", 1)):
            print(f"pre-filling {name} ...", file=sys.stderr, flush=True)
            ids[name], prefilled[name] = await prefill(systems[name], data, concurrency)
        agree = await agreement(systems, data, seed)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in SYSTEMS}
        for number in range(passes):
            block = range(number * per_pass, (number + 1) * per_pass)
            # Taking turns at going first spreads slow drifts of the machine's load evenly.
            for name in SYSTEMS if number % 2 == 0 else SYSTEMS[::-1]:
                print(f"pass {number + 1}/{passes}: {name} ...", file=sys.stderr, flush=True)
                semantic = systems["memlane_semantic"] if name == "memlane" else None
                results[name].append(
                    await one_pass(
                        systems[name], semantic, data, extra, ids[name], block, scale, seed + number
                    )
                )
        mem0 = systems["mem0"]
        vectors = [mem0.embedding_model.table[text] for text in data.query_texts]
        layers = await mem0_layers(
            mem0, vectors, data.users, ids["mem0"], min(scale.gets, len(vectors))
        )
        # One embedding per add, update and search (memlane: two views search), none else.
        w = scale.warmup
        ops = scale.memories + passes * (3 * w + scale.searches + scale.adds + scale.updates)
        calls = {
            "memlane": {
                "made": embedder.calls,
                "expected": ops + AGREEMENT_SEARCHES * 2 + passes * (w + scale.searches),
            },
            "mem0": {
                "made": mem0.embedding_model.calls,
                "expected": ops + AGREEMENT_SEARCHES,
            },
        }
    finally:
        await close_systems(systems)
    return {
        "prefill": prefilled,
        "agreement": agree,
        "embedding_calls": calls,
        "mem0_layers_p50_ms": layers,
        "passes": results,
        "median": {name: median_of(results[name]) for name in SYSTEMS},
    }


def _table(result: dict[str, Any], scale: Scale) -> list[tuple[str, str, str, str]]:
    ml, m0 = result["median"]["memlane"], result["median"]["mem0"]
    rows = [("metric", "memlane", "Mem0", "memlane/Mem0")]

    def row(label: str, a: float, b: float, unit: str) -> None:
        cell = (lambda x: f"{x:,.0f}{unit}") if unit == " /s" else (lambda x: f"{x:.3g}{unit}")
        rows.append((label, cell(a), cell(b), f"{a / b:.3g}x"))

    fill = result["prefill"]
    row(
        f"pre-fill {scale.memories:,}: adds/s (memlane c{PREFILL_CONCURRENCY}, Mem0 one at a time)",
        fill["memlane"]["adds_per_s"],
        fill["mem0"]["adds_per_s"],
        " /s",
    )
    row("add(infer=False), one at a time: adds/s", ml["add"]["per_s"], m0["add"]["per_s"], " /s")
    labels = {
        "add": "add(infer=False)",
        "search": f"search top_k={TOP_K} (memlane hybrid)",
        "get_all": f"get_all(top_k={GET_ALL_LIMIT})",
        "get": "get(id)",
        "update": "update(id, text)",
        "history": "history(id)",
        "delete": "delete(id)",
    }
    for op, label in labels.items():
        row(f"{label} p50", ml[op]["p50"], m0[op]["p50"], " ms")
        if op in ("add", "search"):
            row(f"{label} p95", ml[op]["p95"], m0[op]["p95"], " ms")
        row("  CPU per call", ml[op]["cpu_ms"], m0[op]["cpu_ms"], " ms")
        if op == "search":
            sem = ml["search_semantic"]
            row("search (memlane semantic) p50", sem["p50"], m0["search"]["p50"], " ms")
            row("  CPU per call", sem["cpu_ms"], m0["search"]["cpu_ms"], " ms")
    agree = result["agreement"]
    recall = agree["recall_vs_numpy"]
    rows += [
        (
            f"top-10 overlap with Mem0 ({agree['searches']} searches): hybrid / semantic",
            f"{agree['overlap_mem0_memlane_hybrid']:.3f} / {agree['overlap_mem0_memlane_semantic']:.3f}",
            "",
            "",
        ),
        (
            "recall@10 vs numpy exact: hybrid / semantic",
            f"{recall['memlane']:.3f} / {recall['memlane_semantic']:.3f}",
            f"{recall['mem0']:.3f}",
            "",
        ),
    ]
    return rows


def _print(rows: list[tuple[str, str, str, str]], title: str) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"\n{title}")
    for i, r in enumerate(rows):
        print(
            f"{r[0]:<{widths[0]}}  "
            + "  ".join(f"{c:>{widths[j + 1]}}" for j, c in enumerate(r[1:]))
        )
        if i == 0:
            print("-" * (sum(widths) + 6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 memories, 10 users, 1 pass")
    parser.add_argument("--memories", type=int, default=None)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--passes", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--dir", default=None, help="where the stores go (default: system temp)")
    parser.add_argument("--out", default=None, help="JSON file name inside bench-results/")
    args = parser.parse_args()
    sys.addaudithook(_audit)
    scale = QUICK if args.quick else FULL
    scale = replace(
        scale, memories=args.memories or scale.memories, users=args.users or scale.users
    )
    passes = args.passes or (1 if args.quick else 3)
    machine = machine_info()  # before the run: the load average it ran under
    root = Path(tempfile.mkdtemp(prefix="store_vs_mem0-", dir=args.dir))
    os.environ["MEM0_DIR"] = str(root / "mem0-home")  # Mem0's ~/.mem0, kept out of $HOME
    logging.getLogger("mem0").setLevel(logging.ERROR)  # e.g. "spaCy not installed", per call
    started = time.perf_counter()
    try:
        result = asyncio.run(run(scale, passes, args.seed, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    title = (
        f"store operations, memlane vs Mem0 {version('mem0ai')}: {scale.memories:,} memories, "
        f"{scale.users} users, 384-d, median of {passes} passes, load {machine['load_average_1m']:.2f}"
    )
    _print(_table(result, scale), title)
    layers = ", ".join(f"{k} {v:.3f}" for k, v in result["mem0_layers_p50_ms"].items())
    print(f"Mem0's pieces alone, p50 ms: {layers}")
    print(
        f"embedding calls: {result['embedding_calls']}; network: {NETWORK or 'none'}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    payload = {
        "benchmark": "store_vs_mem0",
        "scale": asdict(scale),
        "passes_run": passes,
        "seed": args.seed,
        "versions": {p: version(p) for p in ("mem0ai", "qdrant-client")},
        "machine": machine,
        "load_average_1m_end": os.getloadavg()[0],
        "network": NETWORK,
        **result,
    }
    name = args.out or ("store_vs_mem0_quick.json" if args.quick else "store_vs_mem0.json")
    print(f"wrote {write_json(name, payload)}")
    calls = result["embedding_calls"]
    if NETWORK or any(c["made"] != c["expected"] for c in calls.values()):
        sys.exit("FAILED: the run touched the network or an embedder was not called as planned")


if __name__ == "__main__":
    main()
