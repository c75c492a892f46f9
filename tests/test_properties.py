"""Property tests of the Python API (hypothesis), through the sync ``Memory`` facade.

- add → get round-trips text, scope, metadata (nested JSON data), hash and history;
- any finite float in metadata reads back as the same float;
- a rule-based state machine runs random sequences of add / add of several messages /
  update (text or metadata) / delete / delete_all against a model dict, and after every
  step checks that ``get_all`` equals the model (same memories, same order: oldest
  first), that a deleted memory is never returned by get, get_all or search, and that
  replaying each memory's history gives its current state.

Bounded for CI: a few hundred examples in all, no deadline (the store fsyncs), and
derandomized (examples derive from the test's source, so CI runs are reproducible).

Metadata in the state machine uses values JSON carries exactly whatever the parser
(integers, strings, booleans, None, dyadic floats): the machine is about operations;
arbitrary floats are the subject of the round-trip tests, where one failing value does
not hide everything else.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from memlane import Memory
from memlane.errors import MemoryNotFoundError

from tests.support.det_embedder import DigestEmbedder
from tests.support.memory_helpers import store_kind, vector_store_config

RESERVED = {"user_id", "agent_id", "run_id", "actor_id", "role", "created_at", "updated_at"}
chars = st.characters(blacklist_categories=("Cs",))  # any code point but lone surrogates
texts = st.text(chars, max_size=40)
json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(chars, max_size=12))
# Floats that every decimal parser reads back exactly (dyadic, few digits).
exact_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
                 | st.integers(-(2**20), 2**20).map(lambda i: i / 4) | st.text(chars, max_size=12))
json_values = st.recursive(
    exact_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(chars, max_size=6), inner, max_size=3),
    max_leaves=8,
)
metadatas = st.none() | st.dictionaries(
    st.text(chars, max_size=8).filter(lambda k: k not in RESERVED), json_values, max_size=4)
scope_ids = st.text(chars, min_size=1, max_size=10).filter(lambda s: s.strip() != "") | st.integers(0, 10**9)


def examples(embedded: int, postgres: int) -> int:
    """Example budget: the postgres store costs a network round trip per call and new
    tables per store, so it gets fewer examples (CI time is bounded)."""
    return postgres if store_kind() == "postgres" else embedded


def config(path: str) -> dict[str, Any]:
    """A store for ``path`` on the store kind under test (embedded or postgres)."""
    return {"vector_store": vector_store_config(path)}


def same(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 from True (JSON keeps them apart)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def as_json(value: Any) -> Any:
    """What metadata is expected to read back as (tuples are JSON arrays)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


# -- add -> get round-trip ----------------------------------------------------------------

def test_add_then_get_round_trips(tmp_path: Path) -> None:
    with Memory(config(str(tmp_path)), embedder=DigestEmbedder(16)) as memory:

        @settings(max_examples=examples(150, 40), deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(text=texts, user=scope_ids, agent=st.none() | scope_ids,
               run=st.none() | scope_ids, metadata=metadatas)
        def check(text: str, user: Any, agent: Any, run: Any, metadata: Any) -> None:
            scope = {k: v for k, v in (("user_id", user), ("agent_id", agent), ("run_id", run))
                     if v is not None}
            result = memory.add(text, **scope, metadata=metadata, infer=False)
            if not text.strip():
                assert result == {"results": []}
                return
            [added] = result["results"]
            assert (added["memory"], added["event"]) == (text, "ADD")
            item = memory.get(added["id"])
            note(repr(item))
            assert item["memory"] == text
            assert item["hash"] == hashlib.md5(text.encode("utf-8")).hexdigest()
            for key in ("user_id", "agent_id", "run_id"):
                assert item.get(key) == (None if key not in scope else str(scope[key]))
            expected_metadata = as_json(metadata) or None
            assert same(item["metadata"], expected_metadata), (item["metadata"], expected_metadata)
            assert item["role"] == "user" and item["created_at"] == item["updated_at"]
            listed = memory.get_all(**scope, limit=100_000)["results"]
            assert [i for i in listed if i["id"] == added["id"]] == [item]
            [event] = memory.history(added["id"])
            assert (event["event"], event["old_memory"], event["new_memory"]) == ("ADD", None, text)

        check()


# -- the state machine ----------------------------------------------------------------------

USERS = ["alice", "bob", "alice2"]
AGENTS = [None, "a1"]
RUNS = [None, "r1"]
words = st.sampled_from(["tea", "coffee", "paris", "tokyo", "running", "chess", "blue", "42"])
memory_texts = st.lists(words, min_size=1, max_size=4).map(" ".join) | texts.filter(lambda t: t.strip() != "")
scopes = st.builds(
    lambda u, a, r: {k: v for k, v in (("user_id", u), ("agent_id", a), ("run_id", r)) if v},
    st.sampled_from(USERS), st.sampled_from(AGENTS), st.sampled_from(RUNS))
small_metadata = st.none() | st.dictionaries(st.sampled_from(["topic", "n", "tags"]),
                                             exact_scalars, max_size=2)


class MemoryModel(RuleBasedStateMachine):
    """Random operation sequences against a dict model."""

    ids = Bundle("ids")

    @initialize()
    def open_store(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="memlane-props-")
        self.memory = Memory(config(self.folder), embedder=DigestEmbedder(16))
        # id -> {"text", "scope", "metadata"}; dict order = creation order
        self.live: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[tuple[str, str | None, str | None]]] = {}

    def teardown(self) -> None:
        memory = getattr(self, "memory", None)
        if memory is not None:
            memory.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _added(self, items: list[dict[str, Any]], texts_: list[str], scope: dict[str, str],
               metadata: Any) -> list[str]:
        assert [i["memory"] for i in items] == texts_
        assert all(i["event"] == "ADD" for i in items)
        for item in items:
            assert item["id"] not in self.live and item["id"] not in self.deleted
            self.live[item["id"]] = {"text": item["memory"], "scope": scope,
                                     "metadata": as_json(metadata) or None}
            self.events[item["id"]] = [("ADD", None, item["memory"])]
        return [i["id"] for i in items]

    @rule(target=ids, text=memory_texts, scope=scopes, metadata=small_metadata)
    def add(self, text: str, scope: dict[str, str], metadata: Any) -> Any:
        items = self.memory.add(text, **scope, metadata=metadata, infer=False)["results"]
        return multiple(*self._added(items, [text], scope, metadata))

    @rule(target=ids, contents=st.lists(st.tuples(st.sampled_from(["user", "assistant", "system"]),
                                                  memory_texts | st.just("  ")),
                                        min_size=1, max_size=4),
          scope=scopes)
    def add_messages(self, contents: list[tuple[str, str]], scope: dict[str, str]) -> Any:
        messages = [{"role": role, "content": text} for role, text in contents]
        items = self.memory.add(messages, **scope, infer=False)["results"]
        kept = [text for role, text in contents if role != "system" and text.strip()]
        ids = self._added(items, kept, scope, None)
        for mid, (role, _) in zip(ids, [(r, t) for r, t in contents if r != "system" and t.strip()]):
            assert self.memory.get(mid)["role"] == role
        return multiple(*ids)

    @rule(mid=ids, text=memory_texts)
    def update_text(self, mid: str, text: str) -> None:
        if mid in self.deleted:
            with pytest.raises(MemoryNotFoundError):
                self.memory.update(mid, text)
            return
        assert self.memory.update(mid, text) == {"message": "Memory updated successfully!"}
        old = self.live[mid]["text"]
        self.live[mid]["text"] = text
        self.events[mid].append(("UPDATE", old, text))

    @rule(mid=ids, metadata=st.dictionaries(st.sampled_from(["topic", "n"]), exact_scalars, max_size=2))
    def update_metadata(self, mid: str, metadata: dict[str, Any]) -> None:
        if mid in self.deleted:
            with pytest.raises(MemoryNotFoundError):
                self.memory.update(mid, metadata=metadata)
            return
        self.memory.update(mid, metadata=metadata)
        self.live[mid]["metadata"] = as_json(metadata) or None
        text = self.live[mid]["text"]
        self.events[mid].append(("UPDATE", text, text))

    @rule(mid=consumes(ids))
    def delete(self, mid: str) -> None:
        if mid in self.deleted:
            with pytest.raises(MemoryNotFoundError):
                self.memory.delete(mid)
            return
        assert self.memory.delete(mid) == {"message": "Memory deleted successfully!"}
        self._gone(mid)

    @rule(mid=ids)
    def delete_twice(self, mid: str) -> None:
        """Deleting (again) an id still in the bundle: the second time is not found."""
        if mid in self.live:
            self.memory.delete(mid)
            self._gone(mid)
        with pytest.raises(MemoryNotFoundError):
            self.memory.delete(mid)

    @precondition(lambda self: len(self.live) > 0)
    @rule(scope=scopes)
    def delete_all(self, scope: dict[str, str]) -> None:
        self.memory.delete_all(**scope)
        for mid, m in list(self.live.items()):
            if all(m["scope"].get(k) == v for k, v in scope.items()):
                self._gone(mid)

    def _gone(self, mid: str) -> None:
        m = self.live.pop(mid)
        self.deleted[mid] = m
        self.events[mid].append(("DELETE", m["text"], None))

    # -- invariants, checked after every step --------------------------------------------

    @invariant()
    def get_all_equals_the_model(self) -> None:
        if not hasattr(self, "memory"):
            return
        for user in USERS:
            for extra in ({}, {"agent_id": "a1"}, {"run_id": "r1"}):
                scope = {"user_id": user, **extra}
                got = self.memory.get_all(**scope, limit=100_000)["results"]
                want = [mid for mid, m in self.live.items()
                        if all(m["scope"].get(k) == v for k, v in scope.items())]
                assert [i["id"] for i in got] == want, scope
                for item in got:
                    m = self.live[item["id"]]
                    assert item["memory"] == m["text"]
                    assert same(item["metadata"], m["metadata"]), (item["metadata"], m["metadata"])
                    assert {k: item.get(k) for k in ("user_id", "agent_id", "run_id")} == {
                        k: m["scope"].get(k) for k in ("user_id", "agent_id", "run_id")}

    @invariant()
    def deleted_memories_are_never_returned(self) -> None:
        if not hasattr(self, "memory"):
            return
        for mid, m in list(self.deleted.items())[-5:]:
            with pytest.raises(MemoryNotFoundError):
                self.memory.get(mid)
            hits = self.memory.search(m["text"], **m["scope"], limit=100)["results"]
            assert mid not in {h["id"] for h in hits}
            assert all(h["id"] in self.live for h in hits)
        for user in USERS:
            listed = self.memory.get_all(user_id=user, limit=100_000)["results"]
            assert not {i["id"] for i in listed} & self.deleted.keys()

    @invariant()
    def history_replays_to_the_current_state(self) -> None:
        if not hasattr(self, "memory"):
            return
        for mid, want in self.events.items():
            events = self.memory.history(mid)
            assert [(e["event"], e["old_memory"], e["new_memory"]) for e in events] == want
            state: str | None = None
            for e in events:
                if e["event"] == "ADD":
                    assert state is None
                else:
                    assert e["old_memory"] == state
                state = e["new_memory"]
                assert e["is_deleted"] == (e["event"] == "DELETE")
            assert state == (self.live[mid]["text"] if mid in self.live else None)


def test_operation_sequences_match_the_model() -> None:
    run_state_machine_as_test(MemoryModel, settings=settings(
        max_examples=examples(40, 8), stateful_step_count=25, deadline=None, derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))


def test_metadata_floats_round_trip_exactly(tmp_path: Path) -> None:
    """Any finite float in metadata reads back as the same float (JSON can carry every
    double exactly: Python writes the shortest repr that round-trips)."""
    with Memory(config(str(tmp_path)), embedder=DigestEmbedder(16)) as memory:

        @settings(max_examples=examples(100, 25), deadline=None, derandomize=True, database=None)
        @given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False),
                               min_size=1, max_size=50))
        def check(values: list[float]) -> None:
            metadata = {f"f{i}": v for i, v in enumerate(values)}
            mid = memory.add("floats", user_id="floats", metadata=metadata,
                             infer=False)["results"][0]["id"]
            got = memory.get(mid)["metadata"]
            wrong = {k: (v, got[k]) for k, v in metadata.items() if got[k] != v}
            assert not wrong, f"metadata floats changed (sent, read back): {wrong}"

        check()
