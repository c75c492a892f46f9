"""Every error row of spec/API.md, and "a failed call changes nothing that is stored"."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memlane import (
    AsyncMemory,
    EmbeddingError,
    LLMError,
    MemlaneError,
    MemoryConfig,
    MemoryNotFoundError,
    ValidationError,
)
from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import memory_config, snapshot

SCOPES = [{"user_id": "alice"}, {"user_id": "bob"}, {"agent_id": "a1"}, {"run_id": "r1"}]
Call = Callable[[AsyncMemory, dict[str, str]], Coroutine[Any, Any, Any]]


@pytest.fixture
async def seeded(memory: AsyncMemory) -> tuple[AsyncMemory, dict[str, str]]:
    """A store with memories in several scopes, an updated one and a deleted one."""
    ids: dict[str, str] = {}

    async def add(name: str, text: str, **kwargs: Any) -> None:
        ids[name] = (await memory.add(text, infer=False, **kwargs))["results"][0]["id"]

    await add("tea", "alice likes tea", user_id="alice", metadata={"n": 1})
    await add("diet", "alice is vegetarian", user_id="alice", agent_id="a1", run_id="r1")
    await add("chess", "bob plays chess", user_id="bob")
    await add("agent", "agent a1 note", agent_id="a1")
    await add("gone", "to be deleted", user_id="bob")
    await memory.update(ids["tea"], "alice likes green tea")
    await memory.delete(ids["gone"])
    return memory, ids


async def expect_unchanged(
    memory: AsyncMemory, ids: dict[str, str], call: Call, exc: type[BaseException], match: str
) -> BaseException:
    """Runs ``call``, expecting ``exc``; asserts the store is exactly as before."""
    before = await snapshot(memory, SCOPES, list(ids.values()))
    with pytest.raises(exc, match=match or None) as info:
        await call(memory, ids)
    assert await snapshot(memory, SCOPES, list(ids.values())) == before
    return info.value


def case(name: str, call: Call, match: str) -> Any:
    return pytest.param(call, match, id=name)


VALIDATION_CASES = [
    # missing scope
    case("add-no-scope", lambda m, i: m.add("x", infer=False), "user_id"),
    case("search-no-scope", lambda m, i: m.search("x"), "user_id"),
    case("search-filters-no-scope", lambda m, i: m.search("x", filters={"n": 1}), "user_id"),
    case("get_all-no-scope", lambda m, i: m.get_all(), "user_id"),
    case("get_all-filters-no-scope", lambda m, i: m.get_all(filters={"n": 1}), "user_id"),
    case("delete_all-no-scope", lambda m, i: m.delete_all(), "user_id"),
    # messages
    case("messages-int", lambda m, i: m.add(5, user_id="alice", infer=False), "messages"),
    case("messages-none", lambda m, i: m.add(None, user_id="alice", infer=False), "messages"),
    case("messages-bytes", lambda m, i: m.add(b"hi", user_id="alice", infer=False), "messages"),
    case("messages-list-of-str", lambda m, i: m.add(["a", "b"], user_id="alice", infer=False), "messages"),
    case("messages-no-content", lambda m, i: m.add({"role": "user"}, user_id="alice", infer=False), "content"),
    case("messages-no-role", lambda m, i: m.add([{"content": "x"}], user_id="alice", infer=False), "role"),
    case("messages-content-int",
         lambda m, i: m.add([{"role": "user", "content": 5}], user_id="alice", infer=False), "content"),
    case("messages-bad-second",
         lambda m, i: m.add([{"role": "user", "content": "ok"}, {"role": "user", "content": ["x"]}],
                            user_id="alice", infer=False), r"messages\[1\]"),
    case("infer-not-bool", lambda m, i: m.add("x", user_id="alice", infer="no"), "infer"),
    case("memory_type-unknown",
         lambda m, i: m.add("x", user_id="alice", infer=False, memory_type="semantic"), "memory_type"),
    # query
    case("query-empty", lambda m, i: m.search("", user_id="alice"), "query"),
    case("query-blank", lambda m, i: m.search(" \n\t", user_id="alice"), "query"),
    case("query-int", lambda m, i: m.search(5, user_id="alice"), "query"),
    case("query-none", lambda m, i: m.search(None, user_id="alice"), "query"),
    # filters
    case("filter-unknown-op", lambda m, i: m.get_all(user_id="alice", filters={"n": {"foo": 1}}), "foo"),
    case("filter-unknown-op-search",
         lambda m, i: m.search("x", user_id="alice", filters={"n": {"between": [1, 2]}}), "between"),
    case("filter-not-dict", lambda m, i: m.get_all(user_id="alice", filters=[{"n": 1}]), "filters"),
    case("filter-str", lambda m, i: m.search("x", user_id="alice", filters="n=1"), "filters"),
    case("filter-list-value", lambda m, i: m.get_all(user_id="alice", filters={"n": [1, 2]}), "in"),
    case("filter-empty-and", lambda m, i: m.get_all(user_id="alice", filters={"AND": []}), "AND"),
    case("filter-empty-or", lambda m, i: m.search("x", user_id="alice", filters={"OR": []}), "OR"),
    case("filter-and-not-list", lambda m, i: m.get_all(user_id="alice", filters={"AND": {"n": 1}}), "AND"),
    case("filter-in-not-list", lambda m, i: m.get_all(user_id="alice", filters={"n": {"in": 1}}), "in"),
    case("filter-nin-not-list", lambda m, i: m.get_all(user_id="alice", filters={"n": {"nin": "a"}}), "nin"),
    case("filter-empty-op", lambda m, i: m.get_all(user_id="alice", filters={"n": {}}), "n"),
    case("filter-nested-bad",
         lambda m, i: m.get_all(user_id="alice", filters={"OR": [{"n": 1}, {"n": {"like": "a"}}]}), "like"),
    # limit / threshold
    *[case(f"limit-{v!r}", (lambda v: lambda m, i: m.search("x", user_id="alice", limit=v))(v), "limit")
      for v in (0, -1, True, "3", 2.5)],
    *[case(f"get_all-limit-{v!r}", (lambda v: lambda m, i: m.get_all(user_id="alice", limit=v))(v), "limit")
      for v in (0, -1, True, "3", 2.5)],
    case("top_k-0", lambda m, i: m.search("x", user_id="alice", top_k=0), "limit"),
    case("limit-top_k-disagree", lambda m, i: m.search("x", user_id="alice", limit=2, top_k=3), "top_k"),
    *[case(f"threshold-{v!r}", (lambda v: lambda m, i: m.search("x", user_id="alice", threshold=v))(v),
           "threshold") for v in (-0.1, 1.5, "x", math.nan, True)],
    # ids
    *[case(f"{op}-id-{v!r}", (lambda op, v: lambda m, i: getattr(m, op)(v))(op, v), "memory_id")
      for op in ("get", "delete", "history") for v in ("", "   ", 5, None, ["x"])],
    case("update-id-empty", lambda m, i: m.update("", "x"), "memory_id"),
    case("update-id-int", lambda m, i: m.update(5, "x"), "memory_id"),
    *[case(f"scope-{v!r}", (lambda v: lambda m, i: m.add("x", user_id=v, infer=False))(v), "user_id")
      for v in ("", "  ", 1.5, ["alice"], True)],
    case("scope-agent-blank", lambda m, i: m.get_all(agent_id=" "), "agent_id"),
    case("scope-run-empty", lambda m, i: m.delete_all(run_id=""), "run_id"),
    # update
    case("update-nothing", lambda m, i: m.update(i["tea"]), "nothing to update"),
    case("update-empty-text", lambda m, i: m.update(i["tea"], ""), "data"),
    case("update-text-int", lambda m, i: m.update(i["tea"], 5), "data"),
    case("update-data-text-disagree", lambda m, i: m.update(i["tea"], "a", text="b"), "text"),
    case("update-metadata-list", lambda m, i: m.update(i["tea"], metadata=["a"]), "metadata"),
    case("update-metadata-reserved", lambda m, i: m.update(i["tea"], metadata={"user_id": "bob"}), "user_id"),
    # metadata
    case("metadata-list", lambda m, i: m.add("x", user_id="alice", metadata=[1], infer=False), "metadata"),
    case("metadata-str", lambda m, i: m.add("x", user_id="alice", metadata="k=v", infer=False), "metadata"),
    case("metadata-nan",
         lambda m, i: m.add("x", user_id="alice", metadata={"k": math.nan}, infer=False), "metadata"),
    case("metadata-inf",
         lambda m, i: m.add("x", user_id="alice", metadata={"k": [math.inf]}, infer=False), "metadata"),
    case("metadata-int-key", lambda m, i: m.add("x", user_id="alice", metadata={1: "a"}, infer=False), "key"),
    case("metadata-object",
         lambda m, i: m.add("x", user_id="alice", metadata={"k": object()}, infer=False), "metadata"),
    *[case(f"metadata-reserved-{k}",
           (lambda k: lambda m, i: m.add("x", user_id="alice", metadata={k: "v"}, infer=False))(k), k)
      for k in ("user_id", "agent_id", "run_id", "actor_id", "role", "created_at", "updated_at")],
    # lone surrogates (cannot be stored as UTF-8)
    case("surrogate-content", lambda m, i: m.add("a\ud800b", user_id="alice", infer=False), "content"),
    case("surrogate-scope", lambda m, i: m.add("x", user_id="\udc00", infer=False), "user_id"),
    case("surrogate-name",
         lambda m, i: m.add({"role": "user", "content": "x", "name": "\ud83d"}, user_id="alice", infer=False),
         "name"),
    case("surrogate-metadata-value",
         lambda m, i: m.add("x", user_id="alice", metadata={"k": "\ud800"}, infer=False), "metadata"),
    case("surrogate-metadata-key",
         lambda m, i: m.add("x", user_id="alice", metadata={"\ud800": 1}, infer=False), "metadata"),
    case("surrogate-query", lambda m, i: m.search("\ud800", user_id="alice"), "query"),
    case("surrogate-update", lambda m, i: m.update(i["tea"], "\ud800"), "data"),
    case("surrogate-id", lambda m, i: m.get("\ud800"), "memory_id"),
    case("surrogate-filter", lambda m, i: m.get_all(user_id="alice", filters={"k": "\ud800"}), "filters"),
]


@pytest.mark.parametrize(("call", "match"), VALIDATION_CASES)
async def test_validation_error_changes_nothing(
    seeded: tuple[AsyncMemory, dict[str, str]], call: Call, match: str
) -> None:
    memory, ids = seeded
    err = await expect_unchanged(memory, ids, call, ValidationError, match)
    assert isinstance(err, ValueError) and isinstance(err, MemlaneError)
    assert not isinstance(err, MemoryNotFoundError)


@pytest.mark.parametrize("op", ["get", "update", "delete"])
async def test_unknown_id_is_not_found(seeded: tuple[AsyncMemory, dict[str, str]], op: str) -> None:
    memory, ids = seeded
    args = {"get": (), "update": ("new text",), "delete": ()}[op]
    for missing in ("no-such-id", ids["gone"]):
        err = await expect_unchanged(
            memory, ids, lambda m, i: getattr(m, op)(missing, *args), MemoryNotFoundError, "not found"
        )
        assert isinstance(err, ValueError) and isinstance(err, KeyError) and isinstance(err, MemlaneError)
        assert missing in str(err)
        assert not str(err).startswith("'"), "message must not carry KeyError's quotes"


async def test_int_scope_ids_are_converted(memory: AsyncMemory) -> None:
    result = await memory.add("numbered", user_id=42, agent_id=7, infer=False)
    memory_id = result["results"][0]["id"]
    assert [i["id"] for i in (await memory.get_all(user_id=42))["results"]] == [memory_id]
    assert [i["id"] for i in (await memory.get_all(user_id="42", agent_id="7"))["results"]] == [memory_id]
    assert [h["id"] for h in (await memory.search("numbered", agent_id=7))["results"]] == [memory_id]
    await memory.delete_all(user_id=42)
    assert await memory.get_all(user_id="42") == {"results": []}


async def test_infer_true_without_llm_is_llm_error(seeded: tuple[AsyncMemory, dict[str, str]]) -> None:
    memory, ids = seeded
    err = await expect_unchanged(memory, ids, lambda m, i: m.add("I like tea", user_id="alice"),
                                 LLMError, "")
    assert str(err)


async def test_embedder_failure_changes_nothing(tmp_path: Path) -> None:
    with FakeOpenAI(dims=64) as server:
        async with AsyncMemory(memory_config(tmp_path, server.base_url)) as memory:
            kept = (await memory.add("kept", user_id="alice", infer=False))["results"][0]["id"]
            ids = {"kept": kept}
            # 1 request + 2 retries (the embedder's default max_retries) per call
            server.fail_embeddings(n=3, status=500)
            await expect_unchanged(memory, ids, lambda m, i: m.add("lost", user_id="alice", infer=False),
                                   EmbeddingError, "500")
            server.fail_embeddings(n=3, status=500)
            await expect_unchanged(memory, ids, lambda m, i: m.update(i["kept"], "changed"),
                                   EmbeddingError, "500")
            server.corrupt_embeddings("nan")
            await expect_unchanged(memory, ids, lambda m, i: m.add("nan", user_id="alice", infer=False),
                                   EmbeddingError, "")


class FixedEmbedder:
    """A custom embedder returning constant vectors of ``width`` (to test store checks)."""

    def __init__(self, dims: int, width: int, value: float = 1.0) -> None:
        self.dims, self.width, self.value = dims, width, value

    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), self.width), self.value, dtype=np.float32)

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize(("width", "value", "match"), [(4, 1.0, "dimension"), (8, math.nan, "NaN")])
async def test_bad_vectors_from_custom_embedder(tmp_path: Path, width: int, value: float, match: str) -> None:
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(tmp_path)}}}
    async with AsyncMemory(config, embedder=FixedEmbedder(8, 8)) as good:
        kept = (await good.add("kept", user_id="alice", infer=False))["results"][0]["id"]
    async with AsyncMemory(config, embedder=FixedEmbedder(8, width, value)) as memory:
        ids = {"kept": kept}
        await expect_unchanged(memory, ids, lambda m, i: m.add("x", user_id="alice", infer=False),
                               ValidationError, match)
        await expect_unchanged(memory, ids, lambda m, i: m.search("x", user_id="alice"), ValidationError, match)


# --- configuration --------------------------------------------------------------------------


def test_unknown_config_key_is_named(mem_config: dict[str, Any]) -> None:
    for build in (AsyncMemory, AsyncMemory.from_config, MemoryConfig.from_dict):
        with pytest.raises(ValidationError, match="bogus_key"):
            build({**mem_config, "bogus_key": 1})
    nested = {**mem_config, "vector_store": {"provider": "embedded", "config": {"weird_key": 1}}}
    with pytest.raises(ValidationError, match="weird_key"):
        AsyncMemory(nested)


def test_memory_config_constructor_rejects_unknown_key() -> None:
    with pytest.raises(ValidationError, match="bogus_key"):
        MemoryConfig(bogus_key=1)


def test_wrong_config_type_is_named(mem_config: dict[str, Any]) -> None:
    bad = {**mem_config, "embedder": {"provider": "openai", "config": {"embedding_dims": "many"}}}
    with pytest.raises(ValidationError, match="embedding_dims"):
        AsyncMemory(bad)
    with pytest.raises(ValidationError, match="vector_store"):
        AsyncMemory({**mem_config, "vector_store": "embedded"})


@pytest.mark.parametrize(
    ("section", "provider"), [("vector_store", "chroma"), ("embedder", "huggingface"), ("llm", "litellm")]
)
def test_unsupported_provider(mem_config: dict[str, Any], section: str, provider: str) -> None:
    bad = {**mem_config, section: {"provider": provider, "config": {}}}
    for build in (AsyncMemory, AsyncMemory.from_config, lambda c: MemoryConfig(**c)):
        with pytest.raises(ValidationError, match=provider) as info:
            build(bad)
        assert isinstance(info.value, ValueError)


async def test_mem0_legacy_keys_are_accepted(mem_config: dict[str, Any], tmp_path: Path) -> None:
    config = {
        **mem_config,
        "vector_store": {"provider": "embedded",
                         "config": {"path": str(tmp_path), "embedding_model_dims": 64,
                                    "collection_name": "legacy"}},
        "graph_store": {"provider": "neo4j", "config": {}},
        "version": "v1.1",
    }
    for build in (AsyncMemory, AsyncMemory.from_config):
        async with build(config) as memory:
            await memory.add("legacy ok", user_id="alice", infer=False)
    async with AsyncMemory(config) as memory:
        assert [i["memory"] for i in (await memory.get_all(user_id="alice"))["results"]] == [
            "legacy ok", "legacy ok"]
    assert (tmp_path / "legacy.db").is_file()


async def test_embedder_dims_mismatch_on_existing_store(tmp_path: Path, fake_server: FakeOpenAI) -> None:
    config = memory_config(tmp_path, fake_server.base_url, dims=64)
    async with AsyncMemory(config) as memory:
        kept = (await memory.add("kept", user_id="alice", infer=False))["results"][0]["id"]
        before = await snapshot(memory, SCOPES, [kept])
    with pytest.raises(ValidationError, match="64") as info:
        AsyncMemory(memory_config(tmp_path, fake_server.base_url, dims=32))
    assert "32" in str(info.value)
    async with AsyncMemory(config) as memory:
        assert await snapshot(memory, SCOPES, [kept]) == before
