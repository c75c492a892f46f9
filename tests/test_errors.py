"""The argument error rows of spec/API.md, each checked to change nothing stored.

(Configuration and embedder errors: test_config_errors.py.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from memlane import AsyncMemory, LLMError, MemlaneError, MemoryNotFoundError, ValidationError

from tests.support.memory_helpers import expect_unchanged

Call = Callable[[AsyncMemory, dict[str, str]], Coroutine[Any, Any, Any]]
ADD = {"user_id": "alice", "infer": False}  # a valid add's other arguments
ALICE = {"user_id": "alice"}


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


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    """``memory.<method>(*args, **kwargs)``; an argument ``"@name"`` is the seeded id."""

    def run(memory: AsyncMemory, ids: dict[str, str]) -> Coroutine[Any, Any, Any]:
        resolved = [ids[a[1:]] if isinstance(a, str) and a.startswith("@") else a for a in args]
        return getattr(memory, method)(*resolved, **kwargs)

    return run


def case(name: str, method: str, *args: Any, match: str, **kwargs: Any) -> Any:
    return pytest.param(call(method, *args, **kwargs), match, id=name)


BAD_LIMITS = (0, -1, True, "3", 2.5)
RESERVED = ("user_id", "agent_id", "run_id", "actor_id", "role", "created_at", "updated_at")

VALIDATION_CASES = [
    # missing scope
    case("add-no-scope", "add", "x", infer=False, match="user_id"),
    case("search-no-scope", "search", "x", match="user_id"),
    case("search-filters-no-scope", "search", "x", filters={"n": 1}, match="user_id"),
    case("get_all-no-scope", "get_all", match="user_id"),
    case("get_all-filters-no-scope", "get_all", filters={"n": 1}, match="user_id"),
    case("delete_all-no-scope", "delete_all", match="user_id"),
    # messages
    case("messages-int", "add", 5, **ADD, match="messages"),
    case("messages-none", "add", None, **ADD, match="messages"),
    case("messages-bytes", "add", b"hi", **ADD, match="messages"),
    case("messages-list-of-str", "add", ["a", "b"], **ADD, match="messages"),
    case("messages-no-content", "add", {"role": "user"}, **ADD, match="content"),
    case("messages-no-role", "add", [{"content": "x"}], **ADD, match="role"),
    case("messages-content-int", "add", [{"role": "user", "content": 5}], **ADD, match="content"),
    case("messages-bad-second", "add",
         [{"role": "user", "content": "ok"}, {"role": "user", "content": ["x"]}],
         **ADD, match=r"messages\[1\]"),
    case("infer-not-bool", "add", "x", user_id="alice", infer="no", match="infer"),
    case("memory_type-unknown", "add", "x", **ADD, memory_type="semantic", match="memory_type"),
    # query
    case("query-empty", "search", "", **ALICE, match="query"),
    case("query-blank", "search", " \n\t", **ALICE, match="query"),
    case("query-int", "search", 5, **ALICE, match="query"),
    case("query-none", "search", None, **ALICE, match="query"),
    # filters
    case("filter-unknown-op", "get_all", **ALICE, filters={"n": {"foo": 1}}, match="foo"),
    case("filter-unknown-op-search", "search", "x", **ALICE,
         filters={"n": {"between": [1, 2]}}, match="between"),
    case("filter-not-dict", "get_all", **ALICE, filters=[{"n": 1}], match="filters"),
    case("filter-str", "search", "x", **ALICE, filters="n=1", match="filters"),
    case("filter-list-value", "get_all", **ALICE, filters={"n": [1, 2]}, match="in"),
    case("filter-empty-and", "get_all", **ALICE, filters={"AND": []}, match="AND"),
    case("filter-empty-or", "search", "x", **ALICE, filters={"OR": []}, match="OR"),
    case("filter-and-not-list", "get_all", **ALICE, filters={"AND": {"n": 1}}, match="AND"),
    case("filter-in-not-list", "get_all", **ALICE, filters={"n": {"in": 1}}, match="in"),
    case("filter-nin-not-list", "get_all", **ALICE, filters={"n": {"nin": "a"}}, match="nin"),
    case("filter-empty-op", "get_all", **ALICE, filters={"n": {}}, match="n"),
    case("filter-nested-bad", "get_all", **ALICE,
         filters={"OR": [{"n": 1}, {"n": {"like": "a"}}]}, match="like"),
    # limit / threshold
    *[case(f"limit-{v!r}", "search", "x", **ALICE, limit=v, match="limit") for v in BAD_LIMITS],
    *[case(f"get_all-limit-{v!r}", "get_all", **ALICE, limit=v, match="limit") for v in BAD_LIMITS],
    case("top_k-0", "search", "x", **ALICE, top_k=0, match="limit"),
    case("limit-top_k-disagree", "search", "x", **ALICE, limit=2, top_k=3, match="top_k"),
    *[case(f"threshold-{v!r}", "search", "x", **ALICE, threshold=v, match="threshold")
      for v in (-0.1, 1.5, "x", math.nan, True)],
    # ids
    *[case(f"{op}-id-{v!r}", op, v, match="memory_id")
      for op in ("get", "delete", "history") for v in ("", "   ", 5, None, ["x"])],
    case("update-id-empty", "update", "", "x", match="memory_id"),
    case("update-id-int", "update", 5, "x", match="memory_id"),
    *[case(f"scope-{v!r}", "add", "x", user_id=v, infer=False, match="user_id")
      for v in ("", "  ", 1.5, ["alice"], True)],
    case("scope-agent-blank", "get_all", agent_id=" ", match="agent_id"),
    case("scope-run-empty", "delete_all", run_id="", match="run_id"),
    # update
    case("update-nothing", "update", "@tea", match="nothing to update"),
    case("update-empty-text", "update", "@tea", "", match="data"),
    case("update-text-int", "update", "@tea", 5, match="data"),
    case("update-data-text-disagree", "update", "@tea", "a", text="b", match="text"),
    case("update-metadata-list", "update", "@tea", metadata=["a"], match="metadata"),
    case("update-metadata-reserved", "update", "@tea", metadata={"user_id": "b"}, match="user_id"),
    # metadata
    case("metadata-list", "add", "x", **ADD, metadata=[1], match="metadata"),
    case("metadata-str", "add", "x", **ADD, metadata="k=v", match="metadata"),
    case("metadata-nan", "add", "x", **ADD, metadata={"k": math.nan}, match="metadata"),
    case("metadata-inf", "add", "x", **ADD, metadata={"k": [math.inf]}, match="metadata"),
    case("metadata-int-key", "add", "x", **ADD, metadata={1: "a"}, match="key"),
    case("metadata-object", "add", "x", **ADD, metadata={"k": object()}, match="metadata"),
    *[case(f"metadata-reserved-{k}", "add", "x", **ADD, metadata={k: "v"}, match=k)
      for k in RESERVED],
    # lone surrogates (cannot be stored as UTF-8)
    case("surrogate-content", "add", "a\ud800b", **ADD, match="content"),
    case("surrogate-scope", "add", "x", user_id="\udc00", infer=False, match="user_id"),
    case("surrogate-name", "add", {"role": "user", "content": "x", "name": "\ud83d"}, **ADD,
         match="name"),
    case("surrogate-metadata-value", "add", "x", **ADD, metadata={"k": "\ud800"}, match="metadata"),
    case("surrogate-metadata-key", "add", "x", **ADD, metadata={"\ud800": 1}, match="metadata"),
    case("surrogate-query", "search", "\ud800", **ALICE, match="query"),
    case("surrogate-update", "update", "@tea", "\ud800", match="data"),
    case("surrogate-id", "get", "\ud800", match="memory_id"),
    case("surrogate-filter", "get_all", **ALICE, filters={"k": "\ud800"}, match="filters"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "match"), VALIDATION_CASES)
async def test_validation_error_changes_nothing(
    seeded: tuple[AsyncMemory, dict[str, str]], call: Call, match: str
) -> None:
    memory, ids = seeded
    err = await expect_unchanged(memory, ids, call, ValidationError, match)
    assert isinstance(err, ValueError) and isinstance(err, MemlaneError)
    assert not isinstance(err, MemoryNotFoundError)


@pytest.mark.parametrize("op", ["get", "update", "delete"])
@pytest.mark.parametrize("missing", ["no-such-id", "@gone"])
async def test_unknown_id_is_not_found(
    seeded: tuple[AsyncMemory, dict[str, str]], op: str, missing: str
) -> None:
    memory, ids = seeded
    args = ("new text",) if op == "update" else ()
    err = await expect_unchanged(
        memory, ids, call(op, missing, *args), MemoryNotFoundError, "not found"
    )
    assert isinstance(err, ValueError) and isinstance(err, KeyError)
    assert isinstance(err, MemlaneError)
    assert ids.get(missing[1:], missing) in str(err)
    assert not str(err).startswith("'"), "the message must not carry KeyError's quotes"


async def test_history_of_unknown_id_is_empty_not_an_error(
    seeded: tuple[AsyncMemory, dict[str, str]],
) -> None:
    memory, _ = seeded
    assert await memory.history("no-such-id") == []


async def test_int_scope_ids_are_converted(memory: AsyncMemory) -> None:
    result = await memory.add("numbered", user_id=42, agent_id=7, infer=False)
    [memory_id] = [r["id"] for r in result["results"]]

    async def listed(**scope: Any) -> list[str]:
        return [i["id"] for i in (await memory.get_all(**scope))["results"]]

    assert await listed(user_id=42) == [memory_id]
    assert await listed(user_id="42", agent_id="7") == [memory_id]
    hits = (await memory.search("numbered", agent_id=7))["results"]
    assert [h["id"] for h in hits] == [memory_id]
    await memory.delete_all(user_id=42)
    assert await memory.get_all(user_id="42") == {"results": []}


async def test_failing_llm_is_llm_error(seeded: tuple[AsyncMemory, dict[str, str]]) -> None:
    # add's default infer=True asks the LLM; the fake server answers an unscripted chat
    # request with HTTP 500.
    memory, ids = seeded
    err = await expect_unchanged(memory, ids, call("add", "I like tea", **ALICE), LLMError, "500")
    assert not isinstance(err, ValueError)
