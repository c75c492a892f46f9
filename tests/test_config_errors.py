"""Configuration errors, Mem0 legacy keys, and failures of the embedder (spec/API.md,
"Configuration" and "Errors"): each names the problem and changes nothing stored."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from memlane import AsyncMemory, EmbeddingError, MemoryConfig, ValidationError

from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import (
    SNAPSHOT_SCOPES,
    expect_unchanged,
    memory_config,
    snapshot,
    vector_store_config,
)


def test_unknown_config_key_is_named(mem_config: dict[str, Any]) -> None:
    for build in (AsyncMemory, AsyncMemory.from_config, MemoryConfig.from_dict):
        with pytest.raises(ValidationError, match="bogus_key"):
            build({**mem_config, "bogus_key": 1})
    nested = {**mem_config, "vector_store": {"provider": "embedded", "config": {"weird_key": 1}}}
    with pytest.raises(ValidationError, match="weird_key"):
        AsyncMemory(nested)


def test_memory_config_constructor_rejects_unknown_key() -> None:
    with pytest.raises(ValidationError, match="bogus_key") as info:
        MemoryConfig(bogus_key=1)
    assert isinstance(info.value, ValueError)


def test_wrong_config_type_is_named(mem_config: dict[str, Any]) -> None:
    bad = {**mem_config, "embedder": {"provider": "openai", "config": {"embedding_dims": "many"}}}
    with pytest.raises(ValidationError, match="embedding_dims"):
        AsyncMemory(bad)
    with pytest.raises(ValidationError, match="vector_store"):
        AsyncMemory({**mem_config, "vector_store": "embedded"})


@pytest.mark.parametrize(
    ("section", "provider"),
    [("vector_store", "chroma"), ("embedder", "huggingface"), ("llm", "litellm")],
)
def test_unsupported_provider(mem_config: dict[str, Any], section: str, provider: str) -> None:
    bad = {**mem_config, section: {"provider": provider, "config": {}}}
    for build in (AsyncMemory, AsyncMemory.from_config, lambda c: MemoryConfig(**c)):
        with pytest.raises(ValidationError, match=provider) as info:
            build(bad)
        assert isinstance(info.value, ValueError)


@pytest.mark.embedded_only("checks the embedded store's file name (collection_name)")
async def test_mem0_legacy_keys_are_accepted(mem_config: dict[str, Any], tmp_path: Path) -> None:
    settings = {"path": str(tmp_path), "embedding_model_dims": 64, "collection_name": "legacy"}
    config = {
        **mem_config,
        "vector_store": {"provider": "embedded", "config": settings},
        "graph_store": {"provider": "neo4j", "config": {}},
        "version": "v1.1",
    }
    for build in (AsyncMemory, AsyncMemory.from_config):
        async with build(config) as memory:
            await memory.add("legacy ok", user_id="alice", infer=False)
    async with AsyncMemory(config) as memory:
        items = (await memory.get_all(user_id="alice"))["results"]
        assert [i["memory"] for i in items] == ["legacy ok", "legacy ok"]
    assert (tmp_path / "legacy.db").is_file()


async def test_embedder_dims_mismatch_on_existing_store(
    tmp_path: Path, fake_server: FakeOpenAI
) -> None:
    config = memory_config(tmp_path, fake_server.base_url, dims=64)
    async with AsyncMemory(config) as memory:
        kept = (await memory.add("kept", user_id="alice", infer=False))["results"][0]["id"]
        before = await snapshot(memory, SNAPSHOT_SCOPES, [kept])
    with pytest.raises(ValidationError, match="64") as info:
        mismatched = AsyncMemory(memory_config(tmp_path, fake_server.base_url, dims=32))
        try:  # the postgres store does no I/O when constructed: it refuses at first use
            await mismatched.get_all(user_id="alice")
        finally:
            await mismatched.close()
    assert "32" in str(info.value)
    async with AsyncMemory(config) as memory:
        assert await snapshot(memory, SNAPSHOT_SCOPES, [kept]) == before


async def test_embedder_failure_changes_nothing(tmp_path: Path) -> None:
    with FakeOpenAI(dims=64) as server:
        async with AsyncMemory(memory_config(tmp_path, server.base_url, llm=True)) as memory:
            kept = (await memory.add("kept", user_id="alice", infer=False))["results"][0]["id"]
            ids = {"kept": kept}

            def add(m: AsyncMemory, i: dict[str, str]) -> Any:
                return m.add("lost", user_id="alice", infer=False)

            def update(m: AsyncMemory, i: dict[str, str]) -> Any:
                return m.update(i["kept"], "changed")

            # 1 request + 2 retries (the embedder's default max_retries) per call
            server.fail_embeddings(n=3, status=500)
            await expect_unchanged(memory, ids, add, EmbeddingError, "500")
            server.fail_embeddings(n=3, status=500)
            await expect_unchanged(memory, ids, update, EmbeddingError, "500")
            server.corrupt_embeddings("nan")
            await expect_unchanged(memory, ids, add, EmbeddingError, None)
            assert (await memory.get(kept))["memory"] == "kept"


class FixedEmbedder:
    """A custom embedder returning constant vectors of ``width`` (to test store checks)."""

    def __init__(self, dims: int, width: int, value: float = 1.0) -> None:
        self.dims, self.width, self.value = dims, width, value

    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), self.width), self.value, dtype=np.float32)

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize(("width", "value", "match"), [(4, 1.0, "dimension"), (8, math.nan, "NaN")])
async def test_bad_vectors_from_custom_embedder(
    tmp_path: Path, width: int, value: float, match: str
) -> None:
    config = {"vector_store": vector_store_config(tmp_path)}
    async with AsyncMemory(config, embedder=FixedEmbedder(8, 8)) as good:
        kept = (await good.add("kept", user_id="alice", infer=False))["results"][0]["id"]
    async with AsyncMemory(config, embedder=FixedEmbedder(8, width, value)) as memory:
        ids = {"kept": kept}

        def add(m: AsyncMemory, i: dict[str, str]) -> Any:
            return m.add("x", user_id="alice", infer=False)

        def search(m: AsyncMemory, i: dict[str, str]) -> Any:
            return m.search("x", user_id="alice")

        await expect_unchanged(memory, ids, add, ValidationError, match)
        await expect_unchanged(memory, ids, search, ValidationError, match)
