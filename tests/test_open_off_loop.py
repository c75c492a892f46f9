"""``await AsyncMemory.open(config)``: the same memory as ``AsyncMemory(config)``, with the
embedded store opened on a worker thread so the event loop keeps running meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from memlane import AsyncMemory, StoreError, ValidationError
from memlane.providers.stores.embedded import EmbeddedStore
from tests.support.det_embedder import DigestEmbedder


def config(path: Path) -> dict:
    return {"vector_store": {"provider": "embedded", "config": {"path": str(path)}}}


async def test_open_gives_a_working_memory(tmp_path: Path) -> None:
    async with await AsyncMemory.open(config(tmp_path), embedder=DigestEmbedder()) as memory:
        assert isinstance(memory.store, EmbeddedStore)
        added = await memory.add("Likes tea", user_id="alice", infer=False)
    async with await AsyncMemory.open(config(tmp_path), embedder=DigestEmbedder()) as memory:
        item = await memory.get(added["results"][0]["id"])
        assert item["memory"] == "Likes tea"


async def test_the_loop_runs_while_the_store_opens(tmp_path: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    memory = await AsyncMemory.open(config(tmp_path), embedder=DigestEmbedder())
    opened_after = ticks - before
    task.cancel()
    await memory.close()
    # A constructor would open the file before returning, with no tick in between; the
    # awaitable is resolved from the worker thread, at the earliest one iteration later.
    assert opened_after >= 1


async def test_open_raises_what_the_constructor_raises(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="paht"):
        await AsyncMemory.open({"vector_store": {"provider": "embedded", "config": {"paht": "x"}}})
    holder = AsyncMemory(config(tmp_path), embedder=DigestEmbedder())
    try:
        # Same process: the engine is shared, so the second memory opens fine...
        second = await AsyncMemory.open(config(tmp_path), embedder=DigestEmbedder())
        await second.close()
    finally:
        await holder.close()
    # ...and a file that is not a database is refused with StoreError.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "memlane.db").write_bytes(b"not sqlite at all" * 64)
    with pytest.raises(StoreError):
        await AsyncMemory.open(config(bad), embedder=DigestEmbedder())
