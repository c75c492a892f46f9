"""Workloads shared by the store benchmarks: timed sequential calls and the add fill."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from support.measure import percentiles_ms
from support.precomputed import Dataset


async def timed(calls: Iterable[Callable[[], Awaitable[Any]]]) -> list[int]:
    """Awaits each zero-argument coroutine factory in turn; returns nanoseconds per call."""
    samples = []
    for call in calls:
        started = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - started)
    return samples


async def measure_adds(
    memory: Any,
    data: Dataset,
    sequential_adds: int,
    memories: int,
    concurrency: int,
    percentiles: tuple[int, ...],
) -> dict[str, Any]:
    """Adds the first ``sequential_adds`` texts one at a time (latency), then the rest up to
    ``memories`` with ``concurrency`` in flight (throughput)."""
    started = time.perf_counter()
    latencies = await timed(
        lambda i=i: memory.add(data.texts[i], user_id=data.user_ids[i], infer=False)
        for i in range(sequential_adds)
    )
    sequential_s = time.perf_counter() - started
    gate = asyncio.Semaphore(concurrency)

    async def add_one(i: int) -> None:
        async with gate:
            await memory.add(data.texts[i], user_id=data.user_ids[i], infer=False)

    rest = range(sequential_adds, memories)
    started = time.perf_counter()
    await asyncio.gather(*(add_one(i) for i in rest))
    concurrent_s = time.perf_counter() - started
    return {
        "sequential_adds_per_s": sequential_adds / sequential_s,
        "sequential_add_ms": percentiles_ms(latencies, percentiles),
        "concurrent_adds_per_s": len(rest) / concurrent_s,
    }
