"""Event-loop stall probe: how late does a 1 ms asyncio timer fire while memlane works?

An agent server runs every request on one event loop; any callback that holds the loop
for 20 ms delays every other request by 20 ms. memlane promises (DESIGN.md, decision 3)
that its storage, search and embedding decoding never block the loop. This measures it.

A ticker task sleeps 1 ms at a time and records how late each wake-up is relative to its
due time. While it ticks, one *burst* runs: 64 concurrent calls. The figures are the
ticker's worst lateness and its p99 over the ticks of the burst; each scenario is repeated
and the medians reported.

Scenarios:
  idle              the ticker alone for as long as a burst: the timer's own jitter
  (a) store         32 search + 32 add(infer=False) on a 10,000-memory store, 384-d,
                    precomputed embedder: the store and the bindings alone
  (b) openai        the same burst with memlane's `openai` embedder (1,536-d, as
                    text-embedding-3-small) against a fake OpenAI server in a child process
  raw HTTP 64x1     baseline: 64 embedding requests (one text each, one connection each)
                    by a bare asyncio-streams HTTP/1.1 client, base64, decoded with numpy
  raw HTTP 1x64     the same 64 texts in one request (what memlane's coalescer sends)
  stock openai      openai.AsyncOpenAI().embeddings.create(), 64 requests: the client's
                    default (base64 on the wire, turned into Python float lists), then
                    np.asarray as a caller would
  stock openai float  the same with encoding_format="float" (JSON floats on the wire)
  memlane embedder  memlane's OpenAIEmbedder.embed() alone, 64 concurrent calls

    python benches/loop_stall.py            # 10,000 memories, 7 repeats
    python benches/loop_stall.py --quick    # 1,000 memories, 3 repeats (CI smoke run)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from memlane import AsyncMemory
from support.fake_server import ChildFakeOpenAI
from support.measure import machine_info, print_table, write_json
from support.precomputed import DEFAULT_SEED, PrecomputedEmbedder, make_dataset, make_vectors

TICK_S = 0.001
#: Ticks before the burst starts, so the ticker is in its steady state.
LEAD_TICKS = 5
BURST_CALLS = 64
SEARCH_LIMIT = 10
#: text-embedding-3-small's width: the size that makes decoding cost something.
OPENAI_DIMS = 1536
STORE_DIMS = 384
MODEL = "text-embedding-3-small"
#: Seconds the fake server waits per embeddings request: a (short) network round trip,
#: so requests overlap in flight and their responses land close together.
EMBED_DELAY_S = 0.02
IDLE_BURST_S = 0.1

FULL_MEMORIES, FULL_USERS, FULL_REPEATS = 10_000, 100, 7
QUICK_MEMORIES, QUICK_USERS, QUICK_REPEATS = 1_000, 10, 3

# Targets from the project brief.
TARGET_STORE_MAX_MS = 5.0
TARGET_OPENAI_VS_RAW = 2.0


# --- the ticker -------------------------------------------------------------------------


@dataclass
class Ticker:
    """Sleeps ``TICK_S`` in a loop, recording (due, woke) perf_counter pairs."""

    ticks: list[tuple[float, float]] = field(default_factory=list)
    running: bool = True

    async def run(self) -> None:
        while self.running:
            due = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            self.ticks.append((due, time.perf_counter()))

    def lateness_ms(self, start: float, end: float) -> np.ndarray:
        """Lateness of the ticks that were due or woke during [start, end]. A tick due
        inside the window but woken after it counts: that is exactly a stall."""
        late = [woke - due for due, woke in self.ticks if woke >= start and due <= end]
        return np.asarray(late) * 1e3


async def measure_burst(burst: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """Runs ``burst`` under the ticker; returns its lateness figures and duration."""
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    while len(ticker.ticks) < LEAD_TICKS:
        await asyncio.sleep(TICK_S)
    start, cpu_start = time.perf_counter(), time.thread_time()
    await burst()
    end, cpu_end = time.perf_counter(), time.thread_time()
    ticker.running = False
    await task  # the tick pending at the end is recorded too
    late = ticker.lateness_ms(start, end)
    return {
        "max_ms": float(late.max()) if len(late) else 0.0,
        "p99_ms": float(np.percentile(late, 99)) if len(late) else 0.0,
        "ticks": len(late),
        "burst_ms": (end - start) * 1e3,
        # CPU the loop's own thread spent in the burst: work that could not overlap with
        # anything else on the loop (the rest of burst_ms is waiting).
        "loop_cpu_ms": (cpu_end - cpu_start) * 1e3,
    }


# --- the raw HTTP baseline --------------------------------------------------------------


async def raw_embed(base_url: str, texts: list[str], dims: int) -> np.ndarray:
    """One embeddings request over a fresh connection with nothing but asyncio streams:
    the least work a Python client can do. Decodes base64 straight into numpy."""
    url = urlsplit(base_url)
    body = json.dumps(
        {"model": MODEL, "input": texts, "encoding_format": "base64", "dimensions": dims}
    ).encode()
    head = (
        f"POST {url.path}/embeddings HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer benchmark\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head + body)
        await writer.drain()
        header = await reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        payload = await reader.readexactly(length)
    finally:
        writer.close()
    if status != 200:
        raise RuntimeError(f"raw embeddings request failed: HTTP {status}: {payload[:200]!r}")
    out = np.empty((len(texts), dims), dtype=np.float32)
    for item in json.loads(payload)["data"]:
        out[item["index"]] = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
    return out


# --- scenarios --------------------------------------------------------------------------


class TextSource:
    """Fresh, distinct texts for each burst (no cache anywhere can help)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._next = 0

    def take(self, n: int) -> list[str]:
        start, self._next = self._next, self._next + n
        return [
            f"{self._prefix} note {i}: likes hiking and green tea" for i in range(start, start + n)
        ]


def _store_config(folder: Path, base_url: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "vector_store": {"provider": "embedded", "config": {"path": str(folder)}}
    }
    if base_url is not None:
        config["embedder"] = {
            "provider": "openai",
            "config": {
                "base_url": base_url,
                "api_key": "benchmark",
                "embedding_dims": OPENAI_DIMS,
                "model": MODEL,
            },
        }
    return config


async def fill_store(folder: Path, memories: int, users: int, dims: int, seed: int) -> list[str]:
    """Fills a store fast (one add call per user, precomputed vectors); returns the users."""
    data = make_dataset(memories, users, queries=0, dims=dims, seed=seed, tag=f"fill{dims} ")
    memory = AsyncMemory(_store_config(folder), embedder=data.embedder())
    by_user: dict[str, list[str]] = {}
    for text, user in zip(data.texts, data.user_ids):
        by_user.setdefault(user, []).append(text)
    await asyncio.gather(
        *(
            memory.add([{"role": "user", "content": t} for t in texts], user_id=user, infer=False)
            for user, texts in by_user.items()
        )
    )
    await memory.close()
    return data.users


def memory_burst(
    memory: AsyncMemory, users: list[str], texts: TextSource, rng: np.random.Generator
) -> Callable[[], Awaitable[Any]]:
    """A burst of BURST_CALLS calls: half searches, half adds, interleaved."""

    async def burst() -> None:
        batch = texts.take(BURST_CALLS)
        who = [users[i] for i in rng.integers(0, len(users), size=BURST_CALLS)]
        calls = [
            memory.search(text, user_id=user, limit=SEARCH_LIMIT)
            if i % 2 == 0
            else memory.add(text, user_id=user, infer=False)
            for i, (text, user) in enumerate(zip(batch, who))
        ]
        await asyncio.gather(*calls)

    return burst


async def repeat(name: str, burst: Callable[[], Awaitable[Any]], repeats: int) -> dict[str, Any]:
    started = time.perf_counter()
    await burst()  # warm-up: first-use costs (client creation, imports) are not a stall
    runs = [await measure_burst(burst) for _ in range(repeats)]
    print(
        f"  {name}: max {[round(r['max_ms'], 2) for r in runs]} ms "
        f"({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
        flush=True,
    )
    return {
        "median": {key: statistics.median(r[key] for r in runs) for key in runs[0]},
        "runs": runs,
    }


async def run_all(
    memories: int, users: int, repeats: int, seed: int, include_float: bool
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {}

    async def idle() -> None:
        await asyncio.sleep(IDLE_BURST_S)

    results["idle"] = await repeat("idle", idle, repeats)

    root = Path(tempfile.mkdtemp(prefix="memlane-stall-"))
    try:
        # (a) the store alone, precomputed 384-d vectors.
        store_users = await fill_store(root / "a", memories, users, STORE_DIMS, seed)
        # Vectors for every text the bursts will add or search, made now: making them
        # inside a burst would put numpy work on the loop during the measurement.
        needed = TextSource("a").take((repeats + 1) * BURST_CALLS)
        vectors = make_vectors(len(needed), STORE_DIMS, rng=np.random.default_rng(seed + 1))
        embedder = PrecomputedEmbedder(dict(zip(needed, vectors)), STORE_DIMS)
        memory = AsyncMemory(_store_config(root / "a"), embedder=embedder)
        results["store_precomputed"] = await repeat(
            "(a) store, precomputed",
            memory_burst(memory, store_users, TextSource("a"), rng),
            repeats,
        )
        await memory.close()

        # (b) memlane's openai embedder against the fake server, and the baselines.
        openai_users = await fill_store(root / "b", memories, users, OPENAI_DIMS, seed)
        with ChildFakeOpenAI(dims=OPENAI_DIMS, embed_delay=EMBED_DELAY_S) as server:
            memory = AsyncMemory(_store_config(root / "b", server.base_url))
            results["memlane_openai"] = await repeat(
                "(b) memlane, openai embedder",
                memory_burst(memory, openai_users, TextSource("b"), rng),
                repeats,
            )
            await memory.close()
            results.update(await embedding_baselines(server.base_url, repeats, include_float))
        results["fake_server_embedding_calls"] = server.embedding_calls
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


async def embedding_baselines(base_url: str, repeats: int, include_float: bool) -> dict[str, Any]:
    import openai

    out: dict[str, Any] = {}
    texts = TextSource("raw")

    async def raw_separate() -> None:
        await asyncio.gather(
            *(raw_embed(base_url, [t], OPENAI_DIMS) for t in texts.take(BURST_CALLS))
        )

    async def raw_one_request() -> None:
        await raw_embed(base_url, texts.take(BURST_CALLS), OPENAI_DIMS)

    out["raw_http_64x1"] = await repeat("raw HTTP, 64 requests x 1 text", raw_separate, repeats)
    out["raw_http_1x64"] = await repeat("raw HTTP, 1 request x 64 texts", raw_one_request, repeats)

    client = openai.AsyncOpenAI(base_url=base_url, api_key="benchmark", max_retries=0)

    async def stock(encoding: str | None) -> None:
        extra = {} if encoding is None else {"encoding_format": encoding}

        async def one(text: str) -> np.ndarray:
            response = await client.embeddings.create(
                model=MODEL, input=[text], dimensions=OPENAI_DIMS, **extra
            )
            return np.asarray(response.data[0].embedding, dtype=np.float32)

        await asyncio.gather(*(one(t) for t in texts.take(BURST_CALLS)))

    out["stock_openai_default"] = await repeat(
        "stock openai client, default", lambda: stock(None), repeats
    )
    if include_float:
        out["stock_openai_float"] = await repeat(
            "stock openai client, float wire", lambda: stock("float"), repeats
        )
    await client.close()

    try:
        from memlane.providers.embedders.openai_embedder import OpenAIEmbedder
    except ImportError as exc:  # an internal path: skip rather than fail if it moves
        print(f"  (memlane embedder alone skipped: {exc})", file=sys.stderr)
        return out
    embedder = OpenAIEmbedder(model=MODEL, base_url=base_url, api_key="benchmark", dims=OPENAI_DIMS)

    async def memlane_embedder() -> None:
        await asyncio.gather(*(embedder.embed([t]) for t in texts.take(BURST_CALLS)))

    out["memlane_embedder_only"] = await repeat(
        "memlane OpenAIEmbedder alone", memlane_embedder, repeats
    )
    await embedder.aclose()
    return out


# --- report -----------------------------------------------------------------------------

LABELS = {
    "idle": "idle (timer jitter)",
    "store_precomputed": "(a) memlane store, precomputed 384-d",
    "memlane_openai": "(b) memlane, openai embedder 1536-d",
    "raw_http_64x1": "raw HTTP baseline, 64 req x 1 text",
    "raw_http_1x64": "raw HTTP, 1 req x 64 texts",
    "stock_openai_default": "stock openai client (default)",
    "stock_openai_float": "stock openai client (float wire)",
    "memlane_embedder_only": "memlane OpenAIEmbedder alone",
}


def report(results: dict[str, Any], repeats: int, memories: int) -> None:
    raw_max = results["raw_http_64x1"]["median"]["max_ms"]
    rows = [("scenario", "max / p99 ms", "burst, loop-thread CPU, ticks; target")]
    for key, label in LABELS.items():
        if key not in results:
            continue
        m = results[key]["median"]
        note = f"{m['burst_ms']:.1f} ms, cpu {m['loop_cpu_ms']:.1f} ms, {m['ticks']:.0f} ticks"
        if key == "store_precomputed":
            verdict = "ok" if m["max_ms"] <= TARGET_STORE_MAX_MS else "MISSED"
            note += f"; target max <= {TARGET_STORE_MAX_MS} ms: {verdict}"
        if key == "memlane_openai":
            ratio = m["max_ms"] / raw_max if raw_max else float("inf")
            note += f"; {ratio:.2f}x raw (target <= {TARGET_OPENAI_VS_RAW}x): "
            note += "ok" if ratio <= TARGET_OPENAI_VS_RAW else "MISSED"
        rows.append((label, f"{m['max_ms']:6.2f} / {m['p99_ms']:6.2f}", note))
    print_table(
        f"event-loop stall: {TICK_S * 1e3:g} ms ticker during {BURST_CALLS} concurrent calls, "
        f"store of {memories:,} memories (median of {repeats} repeats)",
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run for CI")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", default=None, help="JSON file name inside bench-results/")
    args = parser.parse_args()
    memories, users, repeats = (
        (QUICK_MEMORIES, QUICK_USERS, QUICK_REPEATS)
        if args.quick
        else (FULL_MEMORIES, FULL_USERS, FULL_REPEATS)
    )
    repeats = args.repeats or repeats
    machine = machine_info()  # before the run: the load average is the one it ran under
    results = asyncio.run(
        run_all(memories, users, repeats, args.seed, include_float=not args.quick)
    )
    report(results, repeats, memories)
    path = write_json(
        args.out or ("loop_stall_quick.json" if args.quick else "loop_stall.json"),
        {
            "machine": machine,
            "memories": memories,
            "burst_calls": BURST_CALLS,
            "embed_delay_s": EMBED_DELAY_S,
            "repeats": repeats,
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
