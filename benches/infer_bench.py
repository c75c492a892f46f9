"""add(infer=True): memlane against Mem0 (issue 4), on the same local OpenAI-compatible
server (200 ms per chat call, 20 ms per embeddings call; ``support/infer_server.py``).

Both systems get the same seeded multi-fact conversations (3-5 user facts each, from
templates about travel, food, family and work), added to stores that already hold
2,000 memories over 20 users (pre-filled with ``add(..., infer=False)``). Measured per
system: chat and embeddings requests per add (counted at the server), sequential add
latency p50/p95, and adds/s at concurrency 16 (asyncio.gather behind a semaphore). Each
phase starts from a freshly pre-filled store, so both phases see the same state.

    MEM0_TELEMETRY=False python benches/infer_bench.py            # 200 conversations
    MEM0_TELEMETRY=False python benches/infer_bench.py --quick    # 20 conversations, 200 pre-filled
"""

from __future__ import annotations

import os

os.environ["MEM0_TELEMETRY"] = "False"  # before mem0 is imported anywhere

import argparse
import asyncio
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from support.measure import machine_info, percentiles_ms, write_json

DIMS = 384
CONCURRENCY = 16

_CITIES = ["Lisbon", "Kyoto", "Oslo", "Lima", "Hanoi", "Cape Town", "Denver", "Porto", "Seoul"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]
_FOODS = ["sushi", "ramen", "tacos", "paella", "dumplings", "falafel", "risotto", "curry"]
_NAMES = ["Emma", "Liam", "Noah", "Ava", "Mia", "Leo", "Zoe", "Omar", "Sara", "Ines"]
_JOBS = ["nurse", "data engineer", "teacher", "architect", "chef", "pilot", "lawyer"]
_COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Labs"]

_TEMPLATES = {
    "travel": [
        "I'm flying to {city} in {month} for a week.",
        "Last year I spent two weeks hiking near {city}.",
        "I always book a window seat when I fly.",
        "My dream trip is a train ride from {city} to {city2}.",
    ],
    "food": [
        "I'm allergic to peanuts.",
        "My favourite dish is {food}.",
        "I stopped eating {food} after a bad night in {city}.",
        "I've been vegetarian since {month} last year.",
        "On Fridays I cook {food} for friends.",
    ],
    "family": [
        "My daughter {name} starts school in {month}.",
        "My brother {name} lives in {city}.",
        "We adopted a dog called {name} last spring.",
        "My mother's birthday is in {month}.",
    ],
    "work": [
        "I work as a {job} at {company}.",
        "I'm switching teams at {company} in {month}.",
        "My manager {name} wants me to lead the {city} project.",
        "I've been a {job} for {years} years.",
    ],
}
_REPLIES = ["Noted!", "That sounds great.", "Thanks for telling me.", "Good to know."]


def _fill(rng: random.Random, template: str) -> str:
    city, city2 = rng.sample(_CITIES, 2)
    return template.format(
        city=city,
        city2=city2,
        month=rng.choice(_MONTHS),
        food=rng.choice(_FOODS),
        name=rng.choice(_NAMES),
        job=rng.choice(_JOBS),
        company=rng.choice(_COMPANIES),
        years=rng.randint(2, 25),
    )


def make_conversations(n: int, users: int, seed: int) -> list[tuple[str, list[dict[str, str]]]]:
    """``n`` (user_id, messages): 3-5 user facts, each followed by an assistant reply."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topics = rng.sample(list(_TEMPLATES), k=rng.randint(2, 4))
        messages: list[dict[str, str]] = []
        for _ in range(rng.randint(3, 5)):
            fact = _fill(rng, rng.choice(_TEMPLATES[rng.choice(topics)]))
            messages.append({"role": "user", "content": fact})
            messages.append({"role": "assistant", "content": rng.choice(_REPLIES)})
        out.append((f"user-{i % users:02d}", messages))
    return out


def make_prefill(n: int, users: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (user_id, one-fact text), users interleaved."""
    rng = random.Random(seed + 1)
    topics = list(_TEMPLATES)
    return [
        (f"user-{i % users:02d}", _fill(rng, rng.choice(_TEMPLATES[rng.choice(topics)])))
        for i in range(n)
    ]


# -- the server ---------------------------------------------------------------------------


class Server:
    def __init__(self, embed_delay: float, chat_delay: float) -> None:
        self.child = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "support" / "infer_server.py"),
                str(DIMS),
                str(embed_delay),
                str(chat_delay),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.child.stdout is not None
        self.base_url = self.child.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            raise RuntimeError(f"server did not start: {self.base_url!r}")
        self.root = self.base_url.rsplit("/v1", 1)[0]

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.root + "/reset", data=b"{}")).read()

    def stats(self) -> dict[str, int]:
        return json.loads(urllib.request.urlopen(self.root + "/stats").read())

    def stop(self) -> None:
        self.child.communicate(input="", timeout=30)


# -- the systems --------------------------------------------------------------------------


def open_memlane(base_url: str, path: str) -> Any:
    from memlane import AsyncMemory

    return AsyncMemory(
        {
            "vector_store": {"provider": "embedded", "config": {"path": path}},
            "llm": {"provider": "openai", "config": {"base_url": base_url, "api_key": "x"}},
            "embedder": {
                "provider": "openai",
                "config": {"base_url": base_url, "api_key": "x", "embedding_dims": DIMS},
            },
        }
    )


def open_mem0(base_url: str, path: str, on_disk: bool = True) -> Any:
    from mem0 import AsyncMemory
    from mem0.configs.base import MemoryConfig

    return AsyncMemory(
        MemoryConfig(
            llm={
                "provider": "openai",
                "config": {
                    "model": "gpt-4.1-nano-2025-04-14",
                    "openai_base_url": base_url,
                    "api_key": "x",
                },
            },
            embedder={
                "provider": "openai",
                "config": {"openai_base_url": base_url, "api_key": "x", "embedding_dims": DIMS},
            },
            vector_store={
                "provider": "qdrant",
                "config": {
                    "path": os.path.join(path, "qdrant"),
                    "embedding_model_dims": DIMS,
                    "on_disk": on_disk,
                },
            },
            history_db_path=os.path.join(path, "history.db"),
        )
    )


async def close(system: str, memory: Any) -> None:
    if system == "memlane":
        await memory.close()
    else:
        client = getattr(memory.vector_store, "client", None)
        if client is not None:
            client.close()


async def prefill(memory: Any, rows: list[tuple[str, str]], concurrent: bool) -> None:
    # Not measured. memlane: users concurrently, in order within a user. Mem0: one add at
    # a time, because its embedded Qdrant (on_disk) fails under concurrent writes
    # ("cannot start a transaction within a transaction").
    if not concurrent:
        for user, text in rows:
            await memory.add(text, user_id=user, infer=False)
        return
    by_user: dict[str, list[str]] = {}
    for user, text in rows:
        by_user.setdefault(user, []).append(text)

    async def one_user(user: str, texts: list[str]) -> None:
        for text in texts:
            await memory.add(text, user_id=user, infer=False)

    await asyncio.gather(*(one_user(u, t) for u, t in by_user.items()))


async def fresh(
    system: str, server: Server, root: Path, name: str, rows: list, on_disk: bool = True
) -> Any:
    path = root / f"{system}-{name}"
    path.mkdir()
    if system == "memlane":
        memory = open_memlane(server.base_url, str(path))
    else:
        memory = open_mem0(server.base_url, str(path), on_disk)
    await prefill(memory, rows, concurrent=system == "memlane")
    return memory


async def run_system(system: str, server: Server, convs: list, rows: list, root: Path) -> dict:
    # Sequential adds: latency and calls per add.
    memory = await fresh(system, server, root, "seq", rows)
    server.reset()
    latencies: list[int] = []
    added = 0
    for user, messages in convs:
        start = time.perf_counter_ns()
        result = await memory.add(messages, user_id=user)
        latencies.append(time.perf_counter_ns() - start)
        added += len(result.get("results", []))
    seq_stats = server.stats()
    await close(system, memory)

    n = len(convs)
    conc = await concurrent_phase(system, server, convs, rows, root, "conc", on_disk=True)
    extra = {}
    if conc["errors"] and system == "mem0":
        # Mem0's embedded Qdrant with on_disk=True is not safe for concurrent adds; measure
        # the in-memory variant too so there is a throughput figure to compare.
        extra["c16_in_memory_qdrant"] = await concurrent_phase(
            system, server, convs, rows, root, "conc-mem", on_disk=False
        )
    wall = conc["wall_s"]
    conc_stats = conc["server_counts"]
    return {
        **extra,
        "c16_errors": conc["errors"],
        "c16_error_sample": conc["error_sample"],
        "chat_calls_per_add": seq_stats.get("chat_calls", 0) / n,
        "embedding_calls_per_add": seq_stats.get("embedding_calls", 0) / n,
        "embedded_texts_per_add": seq_stats.get("embedded_texts", 0) / n,
        "memories_added_per_add": added / n,
        "latency_ms": percentiles_ms(latencies, (50, 95)),
        "adds_per_s_c16": (n - conc["errors"]) / wall,
        "c16_wall_s": wall,
        "server_counts_sequential": seq_stats,
        "server_counts_c16": conc_stats,
    }


async def concurrent_phase(
    system: str, server: Server, convs: list, rows: list, root: Path, name: str, on_disk: bool
) -> dict[str, Any]:
    """Concurrency 16 from a fresh pre-filled store; failed adds are counted, not fatal."""
    memory = await fresh(system, server, root, name, rows, on_disk=on_disk)
    server.reset()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(user: str, messages: list) -> None:
        async with gate:
            await memory.add(messages, user_id=user)

    start = time.perf_counter()
    outcomes = await asyncio.gather(*(one(u, m) for u, m in convs), return_exceptions=True)
    wall = time.perf_counter() - start
    stats = server.stats()
    await close(system, memory)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    return {
        "wall_s": wall,
        "adds_per_s": (len(convs) - len(errors)) / wall,
        "errors": len(errors),
        "error_sample": repr(errors[0])[:300] if errors else None,
        "server_counts": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 conversations, 200 pre-filled")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--out", default=None)
    # Zero delays leave only what each system adds on top of the model server: its own
    # overhead per add (HTTP clients, searches, storage), with no floor to hide it.
    parser.add_argument("--chat-delay", type=float, default=0.2, help="seconds per chat call")
    parser.add_argument("--embed-delay", type=float, default=0.02, help="seconds per embeddings call")
    args = parser.parse_args()
    n_convs, n_prefill, users = (20, 200, 20) if args.quick else (200, 2000, 20)
    logging.getLogger("mem0").setLevel(logging.ERROR)

    from importlib.metadata import version

    import mem0  # noqa: F401  (after MEM0_TELEMETRY is set)

    convs = make_conversations(n_convs, users, args.seed)
    rows = make_prefill(n_prefill, users, args.seed)
    server = Server(embed_delay=args.embed_delay, chat_delay=args.chat_delay)
    root = Path(tempfile.mkdtemp(prefix="infer_bench-"))
    results: dict[str, Any] = {}
    try:
        for system in ("memlane", "mem0"):
            t0 = time.perf_counter()
            results[system] = asyncio.run(run_system(system, server, convs, rows, root))
            print(f"{system}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    ml, m0 = results["memlane"], results["mem0"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    def c16(r: dict[str, Any]) -> str:
        # Successful adds per second; a run where adds failed is not a throughput figure.
        if r["c16_errors"]:
            return f"{r['adds_per_s_c16']:.1f} ({r['c16_errors']}/{n_convs} adds failed)"
        return f"{r['adds_per_s_c16']:.1f}"

    table = [
        ("metric", "memlane", "Mem0", "memlane/Mem0"),
        (
            "chat calls per add",
            f"{ml['chat_calls_per_add']:.2f}",
            f"{m0['chat_calls_per_add']:.2f}",
            ratio(ml["chat_calls_per_add"], m0["chat_calls_per_add"]),
        ),
        (
            "embedding calls per add",
            f"{ml['embedding_calls_per_add']:.2f}",
            f"{m0['embedding_calls_per_add']:.2f}",
            ratio(ml["embedding_calls_per_add"], m0["embedding_calls_per_add"]),
        ),
        (
            "memories stored per add",
            f"{ml['memories_added_per_add']:.2f}",
            f"{m0['memories_added_per_add']:.2f}",
            "",
        ),
        (
            "add latency p50 (ms)",
            f"{ml['latency_ms']['p50']:.1f}",
            f"{m0['latency_ms']['p50']:.1f}",
            ratio(ml["latency_ms"]["p50"], m0["latency_ms"]["p50"]),
        ),
        (
            "add latency p95 (ms)",
            f"{ml['latency_ms']['p95']:.1f}",
            f"{m0['latency_ms']['p95']:.1f}",
            ratio(ml["latency_ms"]["p95"], m0["latency_ms"]["p95"]),
        ),
        (
            "adds/s at concurrency 16",
            c16(ml),
            c16(m0),
            "n/a"
            if ml["c16_errors"] or m0["c16_errors"]
            else ratio(ml["adds_per_s_c16"], m0["adds_per_s_c16"]),
        ),
    ]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    print(
        f"\nadd(infer=True): {n_convs} conversations, {n_prefill} pre-filled memories over "
        f"{users} users, {DIMS}-d, chat {args.chat_delay * 1e3:.0f} ms / embeddings {args.embed_delay * 1e3:.0f} ms"
    )
    for i, row in enumerate(table):
        print(
            "  ".join(
                f"{c:<{widths[j]}}" if j == 0 else f"{c:>{widths[j]}}" for j, c in enumerate(row)
            )
        )
        if i == 0:
            print("-" * (sum(widths) + 6))
    target = (
        ml["chat_calls_per_add"] == 1.0 and ml["latency_ms"]["p50"] <= 0.6 * m0["latency_ms"]["p50"]
    )
    print(f"target (1 chat call per add, p50 <= 0.6x Mem0): {'met' if target else 'NOT met'}")

    payload = {
        "benchmark": "infer_bench",
        "quick": args.quick,
        "conversations": n_convs,
        "prefilled": n_prefill,
        "users": users,
        "dims": DIMS,
        "concurrency": CONCURRENCY,
        "chat_delay_s": args.chat_delay,
        "embed_delay_s": args.embed_delay,
        "seed": args.seed,
        "mem0_version": version("mem0ai"),
        "machine": machine_info(),
        "memlane": ml,
        "mem0": m0,
        "target_met": target,
    }
    name = args.out or ("infer_bench_quick.json" if args.quick else "infer_bench.json")
    print(f"wrote {write_json(name, payload)}")


if __name__ == "__main__":
    main()
