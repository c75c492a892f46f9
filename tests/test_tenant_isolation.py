"""One tenant never reads or touches another: search / get_all / delete_all / update stay
inside the scope given, whatever else the call carries.

Tenants are chosen to be easy to confuse: ids that are prefixes of others ("al", "alice",
"alice2"), that differ in case ("Alice", "ALICE") or trailing space ("alice "), in
Unicode normalisation (NFC vs NFD "alicé"), or that look like filter syntax ("*",
"alice' OR '1'='1"). Scope ids smuggled into ``metadata`` are refused (store unchanged);
smuggled into ``filters`` they are ANDed with the scope arguments, so they can only narrow.

Observed and asserted (spec/API.md: "Matching is subset-AND", "Scope ids given inside
metadata never override the real scope"):
- ``get_all(user_id="alice", filters={"OR": [{"user_id": "bob"}]})`` returns nothing:
  the filter is ANDed with alice's scope, so it can only narrow alice's memories, and
  none of them has user_id bob. Neither alice's nor bob's memories come back.
- Scope ids compare exactly (case, whitespace and Unicode normalisation all matter).
- A scope ARGUMENT is an id, never a pattern: ``get_all(user_id="*")`` is the tenant
  named "*" (inside ``filters``, ``"*"`` is the filter language's "key exists", so that
  tenant is written ``{"user_id": {"eq": "*"}}`` there).
- Not asserted, for the record: with no scope argument, ``filters={"user_id": "*"}`` (or
  ``{"ne": ...}``, ``{"in": [...]}``) satisfies "a scope is required" and reads across
  tenants, as the filter language says; only code that passes a scope argument is
  confined to one tenant whatever filters it forwards.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory
from memlane.errors import ValidationError

from tests.support.det_embedder import DigestEmbedder
from tests.support.memory_helpers import vector_store_config
from tests.support.store_dump import contents

NFC = unicodedata.normalize("NFC", "alicé")
NFD = unicodedata.normalize("NFD", "alicé")
TENANTS = ["alice", "alice2", "al", "Alice", "ALICE", "alice ", NFC, NFD, "*",
           "alice' OR '1'='1", "bob", "5"]
AGENTS = ["a1", "a2"]
RUNS = ["r1", "r2"]


@pytest.fixture
async def world(tmp_path: Path) -> Any:
    """A store where every tenant has memories under every agent/run combination."""
    config = {"vector_store": vector_store_config(tmp_path)}
    memory = AsyncMemory(config, embedder=DigestEmbedder(32))
    owner: dict[str, dict[str, str]] = {}
    for tenant in TENANTS:
        for scope in ({}, {"agent_id": "a1"}, {"agent_id": "a2", "run_id": "r1"},
                      {"run_id": "r2"}, {"agent_id": "a1", "run_id": "r1"}):
            text = f"secret of [{tenant}] {sorted(scope.items())} shared words apple"
            result = await memory.add(text, user_id=tenant, **scope, infer=False,
                                      metadata={"owner": tenant, "nested": {"user_id": "bob"}})
            owner[result["results"][0]["id"]] = {"user_id": tenant, **scope, "text": text}
    # Memories with no user at all, only an agent or a run.
    for scope in ({"agent_id": "a1"}, {"run_id": "r1"}):
        result = await memory.add(f"userless {scope}", **scope, infer=False)
        owner[result["results"][0]["id"]] = {**scope, "text": f"userless {scope}"}
    try:
        yield memory, owner, config["vector_store"]
    finally:
        await memory.close()


def ids_where(owner: dict[str, dict[str, str]], **want: str) -> set[str]:
    return {mid for mid, s in owner.items() if all(s.get(k) == v for k, v in want.items())}


def ids(result: dict[str, Any]) -> set[str]:
    return {item["id"] for item in result["results"]}


@pytest.mark.parametrize("tenant", TENANTS, ids=repr)
async def test_get_all_and_search_return_exactly_the_scope(world: Any, tenant: str) -> None:
    memory, owner, _ = world
    mine = ids_where(owner, user_id=tenant)
    assert len(mine) == 5
    assert ids(await memory.get_all(user_id=tenant, limit=1000)) == mine
    assert ids(await memory.get_all(filters={"user_id": {"eq": tenant}}, limit=1000)) == mine
    # The best possible match for another tenant's memory is still not returned.
    for other in ("alice", "bob", "alice2"):
        for mid in ids_where(owner, user_id=other):
            hits = await memory.search(owner[mid]["text"], user_id=tenant, limit=100)
            assert ids(hits) <= mine, (tenant, other)
    hits = await memory.search("secret shared words apple", user_id=tenant, limit=100)
    assert ids(hits) == mine
    for agent in AGENTS:
        want = ids_where(owner, user_id=tenant, agent_id=agent)
        assert ids(await memory.get_all(user_id=tenant, agent_id=agent)) == want
        assert ids(await memory.search("apple", user_id=tenant, agent_id=agent)) == want
    for run in RUNS:
        want = ids_where(owner, user_id=tenant, run_id=run)
        assert ids(await memory.get_all(user_id=tenant, run_id=run)) == want
    want = ids_where(owner, user_id=tenant, agent_id="a1", run_id="r1")
    assert len(want) == 1
    assert ids(await memory.get_all(user_id=tenant, agent_id="a1", run_id="r1")) == want


@pytest.mark.parametrize("tenant", [t for t in TENANTS if t != "*"], ids=repr)
async def test_scope_id_inside_filters_is_the_same_scope(world: Any, tenant: str) -> None:
    """Mem0 2.x passes the scope inside filters: ``filters={"user_id": tenant}``.

    (Inside filters ``"*"`` is the filter language's "key exists", so a tenant literally
    named "*" is written ``{"user_id": {"eq": "*"}}`` there; as a scope ARGUMENT it is an
    id like any other: see test_get_all_and_search_return_exactly_the_scope['*'].)
    """
    memory, owner, _ = world
    mine = ids_where(owner, user_id=tenant)
    assert ids(await memory.get_all(filters={"user_id": tenant}, limit=1000)) == mine
    assert ids(await memory.search("apple", filters={"user_id": tenant}, limit=1000)) == mine


async def test_agent_and_run_scopes_span_users(world: Any) -> None:
    """Agent and run scopes alone are scopes too (subset-AND): they span users."""
    memory, owner, _ = world
    assert ids(await memory.get_all(agent_id="a1", limit=1000)) == ids_where(owner, agent_id="a1")
    assert ids(await memory.get_all(run_id="r1", limit=1000)) == ids_where(owner, run_id="r1")
    assert ids(await memory.get_all(agent_id="a2", run_id="r1", limit=1000)) == ids_where(
        owner, agent_id="a2", run_id="r1")


SMUGGLED_FILTERS = [
    {"OR": [{"user_id": "bob"}]},
    {"user_id": "bob"},
    {"user_id": {"eq": "bob"}},
    {"user_id": {"ne": "alice"}},
    {"user_id": {"in": ["bob", "alice2"]}},
    {"user_id": "*"},
    {"user_id": {"contains": "alice"}},
    {"OR": [{"user_id": "bob"}, {"owner": "bob"}]},
    {"NOT": [{"user_id": "alice"}]},
    {"owner": "bob"},
    {"nested": {"eq": {"user_id": "bob"}}},
    {"OR": [{"agent_id": "a1"}, {"run_id": "r1"}]},
    {"AND": [{"user_id": "alice"}, {"OR": [{"user_id": "bob"}, {"agent_id": "a2"}]}]},
]


@pytest.mark.parametrize("filters", SMUGGLED_FILTERS, ids=[str(f) for f in SMUGGLED_FILTERS])
async def test_filters_only_narrow_the_scope_arguments(world: Any, filters: dict[str, Any]) -> None:
    memory, owner, db = world
    alices = ids_where(owner, user_id="alice")
    before = contents(db)
    try:
        listed = ids(await memory.get_all(user_id="alice", filters=filters, limit=1000))
        found = ids(await memory.search("secret apple", user_id="alice", filters=filters,
                                        limit=1000))
    except ValidationError:
        # A filter the language refuses is fine too; it must not have read anything.
        listed = found = set()
    assert listed <= alices and found <= alices, filters
    assert contents(db) == before


async def test_or_filter_for_another_user_returns_nothing(world: Any) -> None:
    """What ``filters={"OR": [{"user_id": "bob"}]}`` with ``user_id="alice"`` does:
    scope AND filter, so no memory matches (none of alice's has user_id bob)."""
    memory, _, _ = world
    assert ids(await memory.get_all(user_id="alice", filters={"OR": [{"user_id": "bob"}]})) == set()
    assert ids(await memory.search("apple", user_id="alice",
                                   filters={"OR": [{"user_id": "bob"}]})) == set()


REFUSED_METADATA = [{"user_id": "bob"}, {"agent_id": "a1"}, {"run_id": "r9"},
                    {"actor_id": "bob"}, {"role": "system"}, {"created_at": "2000-01-01"},
                    {"updated_at": "2000-01-01"}, {"topic": "x", "user_id": "alice"}]


@pytest.mark.parametrize("metadata", REFUSED_METADATA, ids=[str(m) for m in REFUSED_METADATA])
async def test_scope_ids_in_metadata_are_refused(world: Any, metadata: dict[str, str]) -> None:
    memory, owner, db = world
    before = contents(db)
    target = min(ids_where(owner, user_id="alice"))
    with pytest.raises(ValidationError, match="metadata"):
        await memory.add("smuggled", user_id="alice", metadata=metadata, infer=False)
    with pytest.raises(ValidationError, match="metadata"):
        await memory.update(target, "smuggled", metadata=metadata)
    with pytest.raises(ValidationError, match="metadata"):
        await memory.update(target, metadata=metadata)
    assert contents(db) == before
    assert ids(await memory.get_all(user_id="bob")) == ids_where(owner, user_id="bob")


async def test_nested_scope_keys_in_metadata_are_plain_data(world: Any) -> None:
    memory, owner, _ = world
    # Every memory carries metadata {"nested": {"user_id": "bob"}}: bob's scope is still
    # only bob's memories, and a user_id filter means the real field.
    assert ids(await memory.get_all(user_id="bob")) == ids_where(owner, user_id="bob")
    assert ids(await memory.get_all(filters={"user_id": "bob"})) == ids_where(owner, user_id="bob")
    item = (await memory.get_all(user_id="alice"))["results"][0]
    assert item["metadata"]["nested"] == {"user_id": "bob"} and item["user_id"] == "alice"


async def test_update_changes_one_memory_and_never_its_scope(world: Any) -> None:
    memory, owner, db = world
    target = min(ids_where(owner, user_id="alice", agent_id="a1"))
    before = contents(db)
    await memory.update(target, "alice rewrote this", metadata={"owner": "still alice"})
    after = contents(db)
    changed = [(a, b) for a, b in zip(before["memories"], after["memories"]) if a != b]
    assert len(after["memories"]) == len(before["memories"]) and len(changed) == 1
    item = await memory.get(target)
    assert {k: item.get(k) for k in ("user_id", "agent_id", "run_id")} == {
        k: owner[target].get(k) for k in ("user_id", "agent_id", "run_id")}
    assert after["history"][: len(before["history"])] == before["history"]
    assert len(after["history"]) == len(before["history"]) + 1


@pytest.mark.parametrize("scope", [
    {"user_id": "alice"},
    {"user_id": "alice", "agent_id": "a1"},
    {"user_id": "alice", "run_id": "r1"},
    {"user_id": "Alice"},
    {"user_id": "alice "},
    {"user_id": NFD},
    {"user_id": "*"},
    {"user_id": "al"},
    {"agent_id": "a2", "run_id": "r1"},
], ids=repr)
async def test_delete_all_removes_exactly_its_scope(world: Any, scope: dict[str, str]) -> None:
    memory, owner, db = world
    victims = ids_where(owner, **scope)
    assert victims
    before = contents(db)
    await memory.delete_all(**scope)
    after = contents(db)
    kept_before = [r for r in before["memories"] if r["id"] not in victims]
    assert after["memories"] == kept_before, "delete_all touched memories outside its scope"
    assert after["history"][: len(before["history"])] == before["history"]
    new_events = after["history"][len(before["history"]):]
    assert sorted(e["memory_id"] for e in new_events) == sorted(victims)
    assert {e["event"] for e in new_events} == {"DELETE"}
    for mid in owner:
        if mid in victims:
            with pytest.raises(KeyError):
                await memory.get(mid)
        else:
            assert (await memory.get(mid))["memory"] == owner[mid]["text"]


async def test_integer_scope_ids_mean_the_same_tenant_everywhere(world: Any) -> None:
    """spec/API.md: "Ids are strings (ints are converted with str())". The tenant "5"
    is the same whether the id arrives as 5 or "5", as an argument or in filters."""
    memory, owner, _ = world
    fives = ids_where(owner, user_id="5")
    assert ids(await memory.get_all(user_id=5)) == fives
    assert ids(await memory.get_all(user_id="5")) == fives
    assert ids(await memory.get_all(filters={"user_id": "5"})) == fives
    assert ids(await memory.search("apple", user_id=5)) == fives
    assert ids(await memory.get_all(filters={"user_id": 5})) == fives, (
        "an int user_id inside filters does not match the memories stored for it")
