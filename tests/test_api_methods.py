"""Every method of AsyncMemory, on the real embedded store (spec/API.md, "Methods")."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import pytest
from memlane import AsyncMemory, MemoryNotFoundError
from memlane.types import MemoryItem

from tests.support.memory_helpers import check_add_results, check_history, check_item

ALICE = {"user_id": "alice"}


async def add_one(memory: AsyncMemory, text: str, **kwargs: Any) -> str:
    """Adds one verbatim memory and returns its id."""
    result = await memory.add(text, infer=False, **kwargs)
    return check_add_results(result, [text])[0]


# --- add ----------------------------------------------------------------------------------


async def test_add_str_is_one_user_memory(memory: AsyncMemory) -> None:
    result = await memory.add("I'm travelling to SF", user_id="alice", infer=False)
    [memory_id] = check_add_results(result, ["I'm travelling to SF"])
    item = await memory.get(memory_id)
    check_item(item, scope=ALICE, role="user")
    assert item["id"] == memory_id
    assert item["memory"] == "I'm travelling to SF"
    assert item["hash"] == hashlib.md5(b"I'm travelling to SF").hexdigest()
    assert item["metadata"] is None
    assert item["created_at"] == item["updated_at"]


async def test_add_dict_records_role_and_name_as_actor(memory: AsyncMemory) -> None:
    message = {"role": "assistant", "content": "Noted, vegetarian it is", "name": "chef"}
    [memory_id] = check_add_results(
        await memory.add(message, agent_id="diet", infer=False), ["Noted, vegetarian it is"]
    )
    item = await memory.get(memory_id)
    check_item(item, scope={"agent_id": "diet"}, role="assistant", actor_id="chef")


async def test_add_list_skips_system_and_keeps_order(memory: AsyncMemory) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "I like tea", "name": "bob"},
        {"role": "assistant", "content": "Tea noted"},
        {"role": "system", "content": "another instruction"},
        {"role": "user", "content": "And biscuits"},
    ]
    result = await memory.add(messages, user_id="alice", infer=False)
    ids = check_add_results(result, ["I like tea", "Tea noted", "And biscuits"])
    items = (await memory.get_all(user_id="alice"))["results"]
    assert [i["id"] for i in items] == ids
    check_item(items[0], scope=ALICE, role="user", actor_id="bob")
    check_item(items[1], scope=ALICE, role="assistant")
    check_item(items[2], scope=ALICE, role="user")


async def test_add_only_system_messages_stores_nothing(memory: AsyncMemory) -> None:
    result = await memory.add(
        [{"role": "system", "content": "be nice"}], user_id="alice", infer=False
    )
    assert result == {"results": []}
    assert await memory.get_all(user_id="alice") == {"results": []}


async def test_add_metadata_is_stored_on_every_memory(memory: AsyncMemory) -> None:
    metadata = {"topic": "food", "n": 3, "score": 0.5, "ok": True, "tags": ["a", "b"], "x": None}
    result = await memory.add(
        [{"role": "user", "content": "Pizza"}, {"role": "user", "content": "Pasta"}],
        user_id="alice",
        metadata=metadata,
        infer=False,
    )
    for memory_id in check_add_results(result, ["Pizza", "Pasta"]):
        assert (await memory.get(memory_id))["metadata"] == metadata


@pytest.mark.parametrize("metadata", [None, {}])
async def test_add_without_metadata_gives_none(memory: AsyncMemory, metadata: Any) -> None:
    memory_id = await add_one(memory, "no metadata", user_id="alice", metadata=metadata)
    assert (await memory.get(memory_id))["metadata"] is None


@pytest.mark.parametrize(
    "scope",
    [
        {"user_id": "alice"},
        {"agent_id": "diet-assistant"},
        {"run_id": "consultation-001"},
        {"user_id": "alice", "run_id": "consultation-001"},
        {"user_id": "alice", "agent_id": "diet-assistant", "run_id": "consultation-001"},
    ],
)
async def test_scope_ids_appear_only_when_set(memory: AsyncMemory, scope: dict[str, str]) -> None:
    memory_id = await add_one(memory, "I prefer vegetarian food", **scope)
    check_item(await memory.get(memory_id), scope=scope)
    check_item((await memory.get_all(**scope))["results"][0], scope=scope)
    hit = (await memory.search("vegetarian food", **scope))["results"][0]
    check_item(hit, scope=scope, score=True)


async def test_add_int_scope_ids_are_strings(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "numbers", user_id=42, run_id=7)
    item = await memory.get(memory_id)
    check_item(item, scope={"user_id": "42", "run_id": "7"})
    assert (await memory.get_all(user_id="42"))["results"] == [item]


# --- search -------------------------------------------------------------------------------


async def test_search_best_first_identical_text_highest(memory: AsyncMemory) -> None:
    texts = ["I like green tea", "My dog is called Rex", "Paris is in France", "I like black tea"]
    for text in texts:
        await add_one(memory, text, user_id="alice")
    await add_one(memory, "I like green tea", user_id="bob")
    hits = (await memory.search("I like green tea", user_id="alice"))["results"]
    assert len(hits) == 4
    for hit in hits:
        check_item(hit, scope=ALICE, score=True)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0]["memory"] == "I like green tea"
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert hits[1]["memory"] == "I like black tea"
    assert hits[0]["score"] > hits[1]["score"] > hits[-1]["score"]


async def test_search_limit_and_top_k(memory: AsyncMemory) -> None:
    for i in range(6):
        await add_one(memory, f"note number {i} about tea", user_id="alice")
    full = (await memory.search("note about tea", user_id="alice"))["results"]
    assert len(full) == 6
    by_limit = (await memory.search("note about tea", user_id="alice", limit=2))["results"]
    by_top_k = (await memory.search("note about tea", user_id="alice", top_k=2))["results"]
    both = (await memory.search("note about tea", user_id="alice", limit=2, top_k=2))["results"]
    assert [h["id"] for h in by_limit] == [h["id"] for h in full[:2]]
    assert by_top_k == by_limit == both


async def test_search_threshold(memory: AsyncMemory) -> None:
    for text in ["I like green tea", "I like black tea", "Quantum chromodynamics"]:
        await add_one(memory, text, user_id="alice")
    everything = (await memory.search("I like green tea", user_id="alice", threshold=0.0))[
        "results"
    ]
    assert len(everything) == 3
    cut = everything[1]["score"]
    kept = (await memory.search("I like green tea", user_id="alice", threshold=cut))["results"]
    assert [h["id"] for h in kept] == [h["id"] for h in everything if h["score"] >= cut]
    only = (await memory.search("I like green tea", user_id="alice", threshold=0.999))["results"]
    assert [h["memory"] for h in only] == ["I like green tea"]


async def test_search_scope_as_kwargs_or_filters(memory: AsyncMemory) -> None:
    await add_one(memory, "alice likes tea", user_id="alice", agent_id="a1")
    await add_one(memory, "alice likes coffee", user_id="alice")
    await add_one(memory, "bob likes tea", user_id="bob")
    by_kwargs = await memory.search("likes tea", user_id="alice")
    by_filters = await memory.search("likes tea", filters={"user_id": "alice"})
    assert by_kwargs == by_filters
    assert sorted(h["memory"] for h in by_kwargs["results"]) == [
        "alice likes coffee",
        "alice likes tea",
    ]
    agent = await memory.search("likes tea", filters={"user_id": "alice", "agent_id": "a1"})
    assert [h["memory"] for h in agent["results"]] == ["alice likes tea"]


# --- get / get_all ------------------------------------------------------------------------


async def test_get_matches_get_all(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "one", user_id="alice", metadata={"k": "v"})
    item = await memory.get(memory_id)
    assert (await memory.get_all(user_id="alice"))["results"] == [item]
    msgspec.convert(item, MemoryItem)
    assert item["metadata"] == {"k": "v"}


async def test_get_all_oldest_first_with_limit(memory: AsyncMemory) -> None:
    ids = [await add_one(memory, f"memory {i}", user_id="alice") for i in range(5)]
    items = (await memory.get_all(user_id="alice"))["results"]
    assert [i["id"] for i in items] == ids
    created = [i["created_at"] for i in items]
    assert created == sorted(created)
    limited = (await memory.get_all(user_id="alice", limit=2))["results"]
    assert [i["id"] for i in limited] == ids[:2]
    assert (await memory.get_all(user_id="nobody")) == {"results": []}


# --- update -------------------------------------------------------------------------------


async def test_update_text_is_reembedded_and_recorded(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "I'm travelling to SF", user_id="alice", metadata={"t": 1})
    await add_one(memory, "My cat is grumpy", user_id="alice")
    before = await memory.get(memory_id)
    result = await memory.update(memory_id=memory_id, data="Moving to Seattle next spring")
    assert result == {"message": "Memory updated successfully!"}
    after = await memory.get(memory_id)
    check_item(after, scope=ALICE)
    assert after["memory"] == "Moving to Seattle next spring"
    assert after["hash"] == hashlib.md5(b"Moving to Seattle next spring").hexdigest()
    assert after["metadata"] == {"t": 1}
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    hits = (await memory.search("Moving to Seattle next spring", user_id="alice"))["results"]
    assert hits[0]["id"] == memory_id and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    old = (await memory.search("I'm travelling to SF", user_id="alice"))["results"]
    assert all(h["score"] < 0.99 for h in old)
    events = await memory.history(memory_id)
    assert check_history(events, memory_id) == ["ADD", "UPDATE"]
    assert (events[1]["old_memory"], events[1]["new_memory"]) == (
        "I'm travelling to SF",
        "Moving to Seattle next spring",
    )
    assert events[1]["is_deleted"] is False


async def test_update_text_keyword(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "old words", user_id="alice")
    await memory.update(memory_id, text="new words")
    assert (await memory.get(memory_id))["memory"] == "new words"


async def test_update_metadata_replaces_and_empty_clears(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "keep this text", user_id="alice", metadata={"a": 1, "b": 2})
    await memory.update(memory_id, metadata={"c": 3})
    item = await memory.get(memory_id)
    assert (item["memory"], item["metadata"]) == ("keep this text", {"c": 3})
    await memory.update(memory_id, metadata={})
    assert (await memory.get(memory_id))["metadata"] is None
    both = await memory.update(memory_id, "new text", metadata={"d": 4})
    assert both == {"message": "Memory updated successfully!"}
    item = await memory.get(memory_id)
    assert (item["memory"], item["metadata"]) == ("new text", {"d": 4})
    assert check_history(await memory.history(memory_id), memory_id) == [
        "ADD",
        "UPDATE",
        "UPDATE",
        "UPDATE",
    ]


# --- delete / delete_all ------------------------------------------------------------------


async def test_delete(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "forget me", user_id="alice", metadata={"k": 1})
    keep_id = await add_one(memory, "remember me", user_id="alice")
    assert await memory.delete(memory_id=memory_id) == {"message": "Memory deleted successfully!"}
    with pytest.raises(MemoryNotFoundError):
        await memory.get(memory_id)
    assert [i["id"] for i in (await memory.get_all(user_id="alice"))["results"]] == [keep_id]
    assert [h["id"] for h in (await memory.search("forget me", user_id="alice"))["results"]] == [
        keep_id
    ]
    events = await memory.history(memory_id)
    assert check_history(events, memory_id) == ["ADD", "DELETE"]
    assert (events[1]["old_memory"], events[1]["new_memory"], events[1]["is_deleted"]) == (
        "forget me",
        None,
        True,
    )


async def test_delete_all_only_that_scope(memory: AsyncMemory) -> None:
    alice = [
        await add_one(memory, "alice plain", user_id="alice"),
        await add_one(memory, "alice with agent", user_id="alice", agent_id="a1"),
        await add_one(memory, "alice in run", user_id="alice", run_id="r1"),
    ]
    bob = await add_one(memory, "bob plain", user_id="bob")
    agent_only = await add_one(memory, "agent a1 alone", agent_id="a1")
    result = await memory.delete_all(user_id="alice")
    assert result == {"message": "Memories deleted successfully!"}
    assert await memory.get_all(user_id="alice") == {"results": []}
    assert [i["id"] for i in (await memory.get_all(user_id="bob"))["results"]] == [bob]
    assert [i["id"] for i in (await memory.get_all(agent_id="a1"))["results"]] == [agent_only]
    for memory_id in alice:
        assert check_history(await memory.history(memory_id), memory_id) == ["ADD", "DELETE"]
    assert check_history(await memory.history(bob), bob) == ["ADD"]


async def test_delete_all_needs_every_given_id(memory: AsyncMemory) -> None:
    in_run = await add_one(memory, "in r1", user_id="alice", run_id="r1")
    other_run = await add_one(memory, "in r2", user_id="alice", run_id="r2")
    bob_run = await add_one(memory, "bob in r1", user_id="bob", run_id="r1")
    await memory.delete_all(user_id="alice", run_id="r1")
    left = [i["id"] for i in (await memory.get_all(filters={"run_id": "r1"}))["results"]]
    assert left == [bob_run]
    assert [i["id"] for i in (await memory.get_all(user_id="alice"))["results"]] == [other_run]
    assert check_history(await memory.history(in_run), in_run) == ["ADD", "DELETE"]


async def test_delete_all_of_empty_scope_is_fine(memory: AsyncMemory) -> None:
    keep = await add_one(memory, "stay", user_id="alice")
    assert await memory.delete_all(user_id="nobody") == {
        "message": "Memories deleted successfully!"
    }
    assert [i["id"] for i in (await memory.get_all(user_id="alice"))["results"]] == [keep]


# --- history / reset ----------------------------------------------------------------------


async def test_history_oldest_first_and_survives_deletion(memory: AsyncMemory) -> None:
    memory_id = await add_one(memory, "v1", user_id="alice")
    await memory.update(memory_id, "v2")
    await memory.update(memory_id, "v3")
    await memory.delete(memory_id)
    events = await memory.history(memory_id=memory_id)
    assert check_history(events, memory_id) == ["ADD", "UPDATE", "UPDATE", "DELETE"]
    assert [(e["old_memory"], e["new_memory"]) for e in events] == [
        (None, "v1"),
        ("v1", "v2"),
        ("v2", "v3"),
        ("v3", None),
    ]
    assert [e["is_deleted"] for e in events] == [False, False, False, True]
    assert len({e["id"] for e in events}) == 4
    assert await memory.history("never-seen-id") == []


async def test_history_records_actor_and_role(memory: AsyncMemory) -> None:
    result = await memory.add(
        {"role": "assistant", "content": "said by bot", "name": "bot"}, user_id="alice", infer=False
    )
    [memory_id] = check_add_results(result, ["said by bot"])
    [event] = await memory.history(memory_id)
    assert (event["actor_id"], event["role"], event["event"]) == ("bot", "assistant", "ADD")


async def test_reset_empties_everything(memory: AsyncMemory) -> None:
    ids = [
        await add_one(memory, "a", user_id="alice"),
        await add_one(memory, "b", agent_id="x"),
        await add_one(memory, "c", run_id="r"),
    ]
    await memory.update(ids[0], "a2")
    assert await memory.reset() is None
    for scope in ({"user_id": "alice"}, {"agent_id": "x"}, {"run_id": "r"}):
        assert await memory.get_all(**scope) == {"results": []}
        assert await memory.search("a", **scope) == {"results": []}
    for memory_id in ids:
        assert await memory.history(memory_id) == []
        with pytest.raises(MemoryNotFoundError):
            await memory.get(memory_id)
    new_id = await add_one(memory, "after reset", user_id="alice")
    assert [i["id"] for i in (await memory.get_all(user_id="alice"))["results"]] == [new_id]
