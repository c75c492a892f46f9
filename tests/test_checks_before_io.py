"""Bad arguments are refused before any network call: a malformed filter or an
out-of-range limit raises ValidationError without the query being embedded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from memlane import AsyncMemory, ValidationError
from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import memory_config


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(dims=16) as s:
        yield s


@pytest.fixture
async def memory(tmp_path: Path, server: FakeOpenAI) -> AsyncIterator[AsyncMemory]:
    m = AsyncMemory(memory_config(tmp_path, server.base_url, dims=16))
    await m.add("Likes tea", user_id="alice", infer=False)
    yield m
    await m.close()


BAD_SEARCHES: dict[str, dict[str, Any]] = {
    "unknown operator": {"filters": {"topic": {"near": "x"}}},
    "operator on a list": {"filters": {"topic": {"in": "not a list"}}},
    "empty AND": {"filters": {"AND": []}},
    "limit past 64 bits": {"limit": 2**64},
    "top_k past 64 bits": {"top_k": 2**63},
}


@pytest.mark.parametrize("case", BAD_SEARCHES)
async def test_bad_search_is_refused_before_embedding(
    memory: AsyncMemory, server: FakeOpenAI, case: str
) -> None:
    before = server.embedding_calls
    with pytest.raises(ValidationError):
        await memory.search("tea", user_id="alice", **BAD_SEARCHES[case])
    assert server.embedding_calls == before, "nothing was embedded for a refused search"
    # The same memory still answers a good search.
    hits = await memory.search("tea", user_id="alice", filters={"topic": {"ne": "x"}})
    assert [h["memory"] for h in hits["results"]] == ["Likes tea"]


async def test_get_all_refuses_a_limit_past_64_bits(memory: AsyncMemory) -> None:
    with pytest.raises(ValidationError, match="at most"):
        await memory.get_all(user_id="alice", limit=2**63)
    assert len((await memory.get_all(user_id="alice", limit=2**63 - 1))["results"]) == 1
