"""AsyncMemory's lifecycle: close, the async context manager, reopening a store, and
building from a config dict (spec/API.md, "Construction and lifecycle")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory, MemlaneError

from tests.support.memory_helpers import check_add_results, store_kind


async def add_one(memory: AsyncMemory, text: str, **kwargs: Any) -> str:
    """Adds one verbatim memory and returns its id."""
    result = await memory.add(text, infer=False, **kwargs)
    return check_add_results(result, [text])[0]


async def test_calls_after_close_raise(mem_config: dict[str, Any]) -> None:
    m = AsyncMemory(mem_config)
    memory_id = await add_one(m, "x", user_id="alice")
    await m.close()
    await m.close()  # idempotent
    calls = [
        m.add("y", user_id="alice", infer=False),
        m.search("x", user_id="alice"),
        m.get(memory_id),
        m.get_all(user_id="alice"),
        m.update(memory_id, "z"),
        m.delete(memory_id),
        m.delete_all(user_id="alice"),
        m.history(memory_id),
        m.reset(),
    ]
    for call in calls:
        with pytest.raises(MemlaneError, match="closed"):
            await call


async def test_async_context_manager(mem_config: dict[str, Any]) -> None:
    async with AsyncMemory(mem_config) as m:
        assert isinstance(m, AsyncMemory)
        memory_id = await add_one(m, "inside", user_id="alice")
    with pytest.raises(MemlaneError, match="closed"):
        await m.get(memory_id)
    async with AsyncMemory(mem_config) as again:
        assert (await again.get(memory_id))["memory"] == "inside"


async def test_reopen_keeps_memories_vectors_and_history(mem_config: dict[str, Any]) -> None:
    m = AsyncMemory(mem_config)
    kept = await add_one(m, "I like green tea", user_id="alice", metadata={"k": 1})
    await add_one(m, "I like black coffee", user_id="alice", agent_id="a1")
    gone = await add_one(m, "temporary", user_id="alice")
    await m.update(kept, "I like green tea a lot")
    await m.delete(gone)
    state = {
        "all": await m.get_all(user_id="alice"),
        "search": await m.search("green tea", user_id="alice"),
        "kept": await m.history(kept),
        "gone": await m.history(gone),
    }
    await m.close()
    async with AsyncMemory(mem_config) as reopened:
        assert await reopened.get_all(user_id="alice") == state["all"]
        assert await reopened.history(kept) == state["kept"]
        assert await reopened.history(gone) == state["gone"]
        hits = (await reopened.search("green tea", user_id="alice"))["results"]
        assert [h["id"] for h in hits] == [h["id"] for h in state["search"]["results"]]
        assert [h["score"] for h in hits] == pytest.approx(
            [h["score"] for h in state["search"]["results"]]
        )


async def test_from_config_dict(mem_config: dict[str, Any], tmp_path: Path) -> None:
    m = AsyncMemory.from_config(mem_config)
    try:
        assert isinstance(m, AsyncMemory)
        memory_id = await add_one(m, "from config", user_id="alice")
        assert (await m.get(memory_id))["memory"] == "from config"
        if store_kind() == "embedded":
            assert (tmp_path / "memlane.db").is_file()
    finally:
        await m.close()
