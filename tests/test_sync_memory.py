"""`Memory`, the synchronous twin: same results as AsyncMemory, thread safety, and use from
inside a running event loop (it runs its own loop in a thread)."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory, MemlaneError, Memory

from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import check_add_results, check_history, memory_config


class Ref:
    """The id of result ``item`` of the add at step ``step`` of a script."""

    def __init__(self, step: int, item: int = 0) -> None:
        self.step, self.item = step, item


SCRIPT: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("add", ("I like tea",), {"user_id": "alice", "metadata": {"k": 1}, "infer": False}),
    (
        "add",
        (
            [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "I like coffee", "name": "bob"},
                {"role": "assistant", "content": "coffee noted"},
            ],
        ),
        {"user_id": "alice", "agent_id": "a1", "infer": False},
    ),
    ("add", ({"role": "user", "content": "run note"},), {"run_id": 5, "infer": False}),
    ("search", ("I like tea",), {"user_id": "alice"}),
    ("search", ("I like coffee",), {"filters": {"user_id": "alice", "agent_id": "a1"}, "top_k": 1}),
    ("search", ("tea",), {"user_id": "alice", "threshold": 0.5, "limit": 3}),
    ("get", (Ref(0),), {}),
    ("get_all", (), {"user_id": "alice"}),
    ("get_all", (), {"filters": {"run_id": "5"}}),
    ("get_all", (), {"user_id": "alice", "filters": {"k": {"gte": 1}}, "limit": 5}),
    ("update", (Ref(0), "I like green tea"), {}),
    ("update", (Ref(0),), {"metadata": {}}),
    ("history", (Ref(0),), {}),
    ("delete", (Ref(1, 1),), {}),
    ("history", (Ref(1, 1),), {}),
    ("delete_all", (), {"user_id": "alice"}),
    ("history", (Ref(1, 0),), {}),
    ("get_all", (), {"user_id": "alice"}),
    ("get", ("missing-id",), {}),
    ("update", ("missing-id", "x"), {}),
    ("search", ("",), {"user_id": "alice"}),
    ("get_all", (), {}),
    ("add", ("needs an llm",), {"user_id": "alice"}),
    ("history", ("never-seen",), {}),
    ("reset", (), {}),
    ("get_all", (), {"run_id": "5"}),
]

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT")


def normalise(value: Any, ids: dict[str, str]) -> Any:
    """Replaces ids (by order of appearance), timestamps and float noise."""
    if isinstance(value, dict):
        return {k: normalise(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, ids) for v in value]
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, str):
        if _TIMESTAMP.match(value):
            return "<ts>"
        if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value):
            return ids.setdefault(value, f"<id{len(ids)}>")
    return value


def resolve(args: tuple[Any, ...], results: list[Any]) -> list[Any]:
    return [results[a.step]["results"][a.item]["id"] if isinstance(a, Ref) else a for a in args]


def run_sync(memory: Memory) -> list[Any]:
    results: list[Any] = []
    for name, args, kwargs in SCRIPT:
        try:
            results.append(getattr(memory, name)(*resolve(args, results), **kwargs))
        except MemlaneError as err:
            results.append(("error", type(err).__name__))
    return results


async def run_async(memory: AsyncMemory) -> list[Any]:
    results: list[Any] = []
    for name, args, kwargs in SCRIPT:
        try:
            results.append(await getattr(memory, name)(*resolve(args, results), **kwargs))
        except MemlaneError as err:
            results.append(("error", type(err).__name__))
    return results


def test_memory_mirrors_async_memory(tmp_path: Path, fake_server: FakeOpenAI) -> None:
    with Memory(memory_config(tmp_path / "sync", fake_server.base_url, llm=True)) as memory:
        sync_results = run_sync(memory)

    async def go() -> list[Any]:
        async with AsyncMemory(
            memory_config(tmp_path / "async", fake_server.base_url, llm=True)
        ) as memory:
            return await run_async(memory)

    async_results = asyncio.run(go())
    assert len(sync_results) == len(SCRIPT)
    assert normalise(sync_results, {}) == normalise(async_results, {})
    # the script really exercised each method, with its real outcome
    by_step = dict(enumerate(sync_results))
    assert by_step[7]["results"][0]["memory"] == "I like tea"
    assert [h["memory"] for h in by_step[4]["results"]] == ["I like coffee"]
    assert check_history(by_step[12], by_step[0]["results"][0]["id"]) == ["ADD", "UPDATE", "UPDATE"]
    assert by_step[15] == {"message": "Memories deleted successfully!"}
    assert by_step[17] == {"results": []}
    assert by_step[18] == ("error", "MemoryNotFoundError")
    assert by_step[20] == by_step[21] == ("error", "ValidationError")
    assert by_step[22] == ("error", "LLMError")
    assert by_step[23] == [] and by_step[24] is None and by_step[25] == {"results": []}


def test_context_manager_and_close(mem_config: dict[str, Any]) -> None:
    with Memory(mem_config) as memory:
        assert isinstance(memory, Memory)
        memory_id = check_add_results(memory.add("hello", user_id="alice", infer=False), ["hello"])[
            0
        ]
    with pytest.raises(MemlaneError, match="closed"):
        memory.get(memory_id)
    memory.close()  # idempotent
    again = Memory.from_config(mem_config)
    try:
        assert again.get(memory_id)["memory"] == "hello"
    finally:
        again.close()
        again.close()
    for call in (
        lambda: again.add("x", user_id="alice", infer=False),
        lambda: again.get_all(user_id="alice"),
        lambda: again.search("x", user_id="alice"),
        lambda: again.reset(),
    ):
        with pytest.raises(MemlaneError, match="closed"):
            call()


def test_close_stops_the_loop_thread(mem_config: dict[str, Any]) -> None:
    def loop_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "memlane-loop")

    before = loop_threads()
    for _ in range(3):
        with Memory(mem_config) as memory:
            memory.get_all(user_id="alice")
    assert loop_threads() == before


def test_eight_threads_lose_no_writes(mem_config: dict[str, Any]) -> None:
    per_thread = 20
    errors: list[BaseException] = []
    added: dict[int, list[str]] = {}
    barrier = threading.Barrier(8)

    with Memory(mem_config) as memory:

        def worker(n: int) -> None:
            try:
                barrier.wait()
                ids = []
                for i in range(per_thread):
                    result = memory.add(
                        f"thread {n} note {i}", user_id=f"user{n}", agent_id="shared", infer=False
                    )
                    ids.append(result["results"][0]["id"])
                    if i % 5 == 0:
                        memory.search(f"note {i}", user_id=f"user{n}")
                        memory.get_all(agent_id="shared")
                added[n] = ids
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        all_ids = [i for ids in added.values() for i in ids]
        assert len(all_ids) == len(set(all_ids)) == 8 * per_thread
        stored = memory.get_all(agent_id="shared", limit=1000)["results"]
        assert sorted(i["id"] for i in stored) == sorted(all_ids)
        for n in range(8):
            items = memory.get_all(user_id=f"user{n}", limit=1000)["results"]
            assert [i["memory"] for i in items] == [
                f"thread {n} note {i}" for i in range(per_thread)
            ]
        for memory_id in added[3]:
            assert [e["event"] for e in memory.history(memory_id)] == ["ADD"]


async def test_memory_works_inside_a_running_event_loop(mem_config: dict[str, Any]) -> None:
    asyncio.get_running_loop()  # we are in a coroutine
    memory = Memory(mem_config)
    try:
        memory_id = check_add_results(
            memory.add("from a coroutine", user_id="alice", infer=False), ["from a coroutine"]
        )[0]
        hits = memory.search("from a coroutine", user_id="alice")["results"]
        assert [h["id"] for h in hits] == [memory_id]
        memory.update(memory_id, "still from a coroutine")
        assert memory.get(memory_id)["memory"] == "still from a coroutine"
        assert [e["event"] for e in memory.history(memory_id)] == ["ADD", "UPDATE"]
        # the caller's loop keeps running normally around the blocking calls
        await asyncio.sleep(0)
        assert memory.get_all(user_id="alice")["results"][0]["id"] == memory_id
    finally:
        memory.close()
    with pytest.raises(MemlaneError, match="closed"):
        memory.get(memory_id)
