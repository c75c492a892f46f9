"""The REST server under concurrent requests: every write is stored exactly once, and a
slow LLM call never holds up other requests (handlers await, they do not block)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from memlane.server import create_app

from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import memory_config
from tests.support.served_app import ServedApp

ADDS = 50
USERS = 5


async def test_fifty_concurrent_adds_are_all_stored(served):
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:

        async def add(i: int) -> httpx.Response:
            body = {"messages": f"fact number {i}", "user_id": f"user-{i % USERS}", "infer": False}
            return await client.post("/memories", json=body)

        responses = await asyncio.gather(*(add(i) for i in range(ADDS)))
        assert [r.status_code for r in responses] == [200] * ADDS
        ids = [r.json()["results"][0]["id"] for r in responses]
        assert len(set(ids)) == ADDS

        listed = await asyncio.gather(
            *(
                client.get("/memories", params={"user_id": f"user-{u}", "limit": 1000})
                for u in range(USERS)
            )
        )
    stored = {item["id"]: item["memory"] for r in listed for item in r.json()["results"]}
    assert stored == {ids[i]: f"fact number {i}" for i in range(ADDS)}


async def test_concurrent_reads_and_writes_on_one_scope(served):
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        writes = [
            client.post(
                "/memories", json={"messages": f"note {i}", "user_id": "alice", "infer": False}
            )
            for i in range(20)
        ]
        reads = [
            client.post("/search", json={"query": "note", "user_id": "alice"}) for _ in range(20)
        ]
        responses = await asyncio.gather(*writes, *reads)
        assert all(r.status_code == 200 for r in responses), [
            r.text for r in responses if r.status_code != 200
        ]
        notes = {f"note {i}" for i in range(20)}
        for search in responses[20:]:
            found = [hit["memory"] for hit in search.json()["results"]]
            assert set(found) <= notes and len(found) == len(set(found))
        final = await client.get("/memories", params={"user_id": "alice"})
    assert sorted(m["memory"] for m in final.json()["results"]) == sorted(
        f"note {i}" for i in range(20)
    )


@pytest.fixture
def slow_llm() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server whose chat answers take 2 s."""
    with FakeOpenAI(dims=32, chat_delay=2.0) as server:
        yield server


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Waits (bounded) for a condition another thread makes true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_slow_llm_call_does_not_hold_up_other_requests(
    tmp_path: Path, slow_llm: FakeOpenAI
):
    config: dict[str, Any] = memory_config(tmp_path, slow_llm.base_url, dims=32, llm=True)
    slow_llm.script_chat(json.dumps({"memory": [{"event": "ADD", "text": "Likes tea"}]}))
    with ServedApp(create_app(config)) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            inferred = asyncio.create_task(
                client.post("/memories", json={"messages": "I like tea", "user_id": "alice"})
            )
            await until(lambda: slow_llm.chat_calls == 1)  # the add now waits on the LLM
            others = await asyncio.gather(
                client.get("/health"),
                client.post(
                    "/memories", json={"messages": "Likes jazz", "user_id": "bob", "infer": False}
                ),
                client.post("/search", json={"query": "jazz", "user_id": "bob"}),
            )
            assert [r.status_code for r in others] == [200, 200, 200]
            assert not inferred.done(), "the other requests finished while the LLM call was pending"
            response = await inferred
    assert response.status_code == 200
    assert response.json()["results"][0]["memory"] == "Likes tea"
