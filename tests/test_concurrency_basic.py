"""One AsyncMemory shared by many tasks; two on one path; cancellation is all-or-nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from memlane import AsyncMemory

from tests.support.fake_openai import FakeOpenAI, fake_vector
from tests.support.memory_helpers import (
    check_history,
    check_item,
    memory_config,
    vector_store_config,
)


async def test_hundred_concurrent_adds(memory: AsyncMemory) -> None:
    texts = [f"concurrent memory number {i}" for i in range(100)]
    results = await asyncio.gather(*(memory.add(t, user_id="alice", infer=False) for t in texts))
    ids = []
    for text, result in zip(texts, results):
        [item] = result["results"]
        assert (item["memory"], item["event"]) == (text, "ADD")
        ids.append(item["id"])
    assert len(set(ids)) == 100
    stored = (await memory.get_all(user_id="alice", limit=1000))["results"]
    assert sorted(i["id"] for i in stored) == sorted(ids)
    by_id = {i["id"]: i for i in stored}
    for text, memory_id in zip(texts, ids):
        check_item(by_id[memory_id], scope={"user_id": "alice"})
        assert by_id[memory_id]["memory"] == text
    histories = await asyncio.gather(*(memory.history(i) for i in ids))
    for memory_id, events in zip(ids, histories):
        assert check_history(events, memory_id) == ["ADD"]
    hits = (await memory.search("concurrent memory number 42", user_id="alice", limit=1))["results"]
    assert hits[0]["memory"] == "concurrent memory number 42"


async def test_mixed_concurrent_operations(memory: AsyncMemory) -> None:
    seed = [
        (await memory.add(f"seed {i}", user_id="alice", infer=False))["results"][0]["id"]
        for i in range(10)
    ]
    ops: list[Any] = []
    for i in range(30):
        ops.append(memory.add(f"new {i}", user_id="alice", infer=False))
        ops.append(memory.search(f"seed {i % 10}", user_id="alice"))
        ops.append(memory.get_all(user_id="alice"))
    ops += [memory.update(seed[i], f"seed {i} updated") for i in range(5)]
    ops += [memory.delete(seed[i]) for i in range(5, 10)]
    results = await asyncio.gather(*ops, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    for r in results[0:90:3]:
        assert r["results"][0]["event"] == "ADD"
    for r in results[2:90:3]:
        assert {i["id"] for i in r["results"]} >= set(seed[:5])
    final = (await memory.get_all(user_id="alice", limit=1000))["results"]
    assert sorted(i["memory"] for i in final) == sorted(
        [f"new {i}" for i in range(30)] + [f"seed {i} updated" for i in range(5)]
    )


async def test_two_instances_on_one_path_share_data(mem_config: dict[str, Any]) -> None:
    async with AsyncMemory(mem_config) as first, AsyncMemory(mem_config) as second:
        a = (await first.add("written by the first", user_id="alice", infer=False))["results"][0][
            "id"
        ]
        b = (await second.add("written by the second", user_id="alice", infer=False))["results"][0][
            "id"
        ]
        for m in (first, second):
            assert [i["id"] for i in (await m.get_all(user_id="alice"))["results"]] == [a, b]
            hits = (await m.search("written by the second", user_id="alice"))["results"]
            assert [h["id"] for h in hits][:1] == [b]
            assert (await m.get(a))["memory"] == "written by the first"
        await second.update(a, "changed by the second")
        assert (await first.get(a))["memory"] == "changed by the second"
        assert [
            h["id"]
            for h in (await first.search("changed by the second", user_id="alice"))["results"]
        ][:1] == [a]
        await first.delete(b)
        assert [i["id"] for i in (await second.get_all(user_id="alice"))["results"]] == [a]
        assert [
            h["id"]
            for h in (await second.search("written by the second", user_id="alice"))["results"]
        ] == [a]
        assert [e["event"] for e in await second.history(b)] == ["ADD", "DELETE"]
        writes = [
            m.add(f"both {i}", user_id="bob", infer=False)
            for i in range(20)
            for m in (first, second)
        ]
        await asyncio.gather(*writes)
        assert len((await first.get_all(user_id="bob", limit=100))["results"]) == 40
        assert len((await second.get_all(user_id="bob", limit=100))["results"]) == 40
    # closing one does not break the other
    first = AsyncMemory(mem_config)
    second = AsyncMemory(mem_config)
    await first.close()
    assert len((await second.get_all(user_id="bob", limit=100))["results"]) == 40
    await second.close()


async def state(memory: AsyncMemory) -> dict[str, Any]:
    items = (await memory.get_all(user_id="alice", limit=1000))["results"]
    return {"items": items, "history": {i["id"]: await memory.history(i["id"]) for i in items}}


async def cancel_and_check(memory: AsyncMemory, text: str, pause: Any) -> dict[str, Any]:
    """Starts an add, cancels it after ``await pause()``, and checks all-or-nothing.

    The state seen once the cancelled task has finished must be final: the memory is
    either there (with exactly its ADD history row) or absent, and stays so.
    """
    task = asyncio.create_task(memory.add(text, user_id="alice", infer=False))
    await pause()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    now = await state(memory)
    texts = [i["memory"] for i in now["items"]]
    assert texts.count(text) <= 1
    for memory_id, events in now["history"].items():
        assert check_history(events, memory_id) == ["ADD"]
    await asyncio.sleep(0.05)
    assert await state(memory) == now, f"{text!r}: a cancelled add changed the store later"
    return now


async def test_cancelled_add_during_embedding_is_all_or_nothing(tmp_path: Path) -> None:
    with FakeOpenAI(dims=64, embed_delay=0.03) as server:
        config = memory_config(tmp_path, server.base_url, llm=True)
        async with AsyncMemory(config) as memory:
            await memory.add("baseline", user_id="alice", infer=False)
            for step in range(25):
                await cancel_and_check(
                    memory, f"cancel me {step}", lambda s=step: asyncio.sleep(s * 0.004)
                )
            # concurrent adds cancelled together with others that complete
            tasks = [
                asyncio.create_task(memory.add(f"batch {i}", user_id="alice", infer=False))
                for i in range(20)
            ]
            await asyncio.sleep(0.01)
            for t in tasks[::2]:
                t.cancel()
            outcome = await asyncio.gather(*tasks, return_exceptions=True)
            for i in range(1, 20, 2):
                assert outcome[i]["results"][0]["memory"] == f"batch {i}"
            await asyncio.sleep(0.05)
            settled = await state(memory)
            texts = [i["memory"] for i in settled["items"]]
            assert all(texts.count(f"batch {i}") == 1 for i in range(1, 20, 2))
            assert all(texts.count(f"batch {i}") <= 1 for i in range(0, 20, 2))
            # the store still works and search agrees with the listing
            await memory.add("after cancellations", user_id="alice", infer=False)
            settled = await state(memory)
            hits = (await memory.search("anything", user_id="alice", limit=1000))["results"]
            assert sorted(h["id"] for h in hits) == sorted(i["id"] for i in settled["items"])
        async with AsyncMemory(config) as reopened:
            assert await state(reopened) == settled
            hits = (await reopened.search("anything", user_id="alice", limit=1000))["results"]
            assert sorted(h["id"] for h in hits) == sorted(i["id"] for i in settled["items"])


class InstantEmbedder:
    """Answers without awaiting anything, so a cancel lands while the store is writing."""

    dims = 16

    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray([fake_vector(t, self.dims) for t in texts], dtype=np.float32)

    async def aclose(self) -> None:
        pass


async def test_cancelled_add_during_store_write_is_all_or_nothing(tmp_path: Path) -> None:
    config = {"vector_store": vector_store_config(tmp_path)}
    async with AsyncMemory(config, embedder=InstantEmbedder()) as memory:
        for step in range(1, 11):

            async def pause(n: int = step) -> None:
                for _ in range(n):
                    await asyncio.sleep(0)

            await cancel_and_check(memory, f"cancel me {step}", pause)
        settled = await state(memory)
    async with AsyncMemory(config, embedder=InstantEmbedder()) as reopened:
        assert await state(reopened) == settled


SHUTDOWN_SCRIPT = """
import asyncio, json, sys
import numpy as np
from memlane import AsyncMemory
from tests.support.fake_openai import fake_vector

class Instant:
    dims = 16
    async def embed(self, texts):
        return np.asarray([fake_vector(t, 16) for t in texts], dtype=np.float32)
    async def aclose(self):
        pass

async def main():
    config = {"vector_store": json.loads(sys.argv[1])}
    memory = AsyncMemory(config, embedder=Instant())
    for i in range(50):
        asyncio.get_running_loop().create_task(
            memory.add(f"pending {i}", user_id="alice", infer=False))
    await asyncio.sleep(0)
    # returns with the adds in flight and the memory open: asyncio.run cancels the tasks

asyncio.run(main())
print("exited cleanly")
"""


async def test_shutdown_during_asyncio_run(tmp_path: Path) -> None:
    """asyncio.run ending with adds in flight: the process exits cleanly, every add is all
    or nothing, and the store opens again."""
    repo = Path(__file__).resolve().parents[1]
    store = vector_store_config(tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SHUTDOWN_SCRIPT, json.dumps(store),
        cwd=repo, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "exited cleanly"
    assert "Traceback" not in stderr.decode(), stderr.decode()
    config = {"vector_store": store}
    async with AsyncMemory(config, embedder=InstantEmbedder()) as memory:
        items = (await memory.get_all(user_id="alice", limit=1000))["results"]
        texts = [i["memory"] for i in items]
        assert len(set(texts)) == len(texts) <= 50
        assert set(texts) <= {f"pending {i}" for i in range(50)}
        for item in items:
            assert check_history(await memory.history(item["id"]), item["id"]) == ["ADD"]
        await memory.add("after restart", user_id="alice", infer=False)
