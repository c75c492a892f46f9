"""The filter language of spec/API.md ("Filters") and scope matching ("Scopes").

Each filter case runs through both ``get_all`` (oldest first, so the expected list is in
insertion order) and ``search`` (compared as a set), on the real embedded store.
"""

from __future__ import annotations

from typing import Any

import pytest
from memlane import AsyncMemory

# name -> (scope, metadata, message extras); the text is "memory <name>". Inserted in this
# order, one add each, so get_all's oldest-first order is this order.
ROWS: dict[str, tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = {
    "m1": (
        {"user_id": "alice", "agent_id": "a1", "run_id": "r1"},
        {"n": 1, "date": "2024-01-05", "city": "Paris", "price": 9.5},
        {"name": "bob"},
    ),
    "m2": (
        {"user_id": "alice", "agent_id": "a2"},
        {"n": 5, "date": "2024-03-01", "city": "paris", "price": 20},
        {"role": "assistant"},
    ),
    "m3": (
        {"user_id": "alice", "run_id": "r2"},
        {"n": 10, "date": "2025-06-30", "city": "London", "price": -3.25},
        {},
    ),
    "m4": ({"user_id": "alice"}, None, {}),
    "m5": ({"user_id": "bob"}, {"n": 1, "city": "Paris"}, {}),
}
ALICE = ["m1", "m2", "m3", "m4"]


@pytest.fixture
async def rows(memory: AsyncMemory) -> dict[str, str]:
    """Adds ROWS one call each (distinct created_at); returns name -> id."""
    ids = {}
    for name, (scope, metadata, extra) in ROWS.items():
        message = {"role": extra.get("role", "user"), "content": f"memory {name}"}
        if "name" in extra:
            message["name"] = extra["name"]
        result = await memory.add([message], metadata=metadata, infer=False, **scope)
        ids[name] = result["results"][0]["id"]
    return ids


def names(items: list[dict[str, Any]], ids: dict[str, str]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item["id"]] for item in items]


async def matching(
    memory: AsyncMemory, ids: dict[str, str], filters: dict[str, Any], **scope: Any
) -> list[str]:
    """Names matched by ``filters`` via get_all; asserts search agrees."""
    scope = scope or {"user_id": "alice"}
    listed = names((await memory.get_all(filters=filters, **scope))["results"], ids)
    found = names((await memory.search("memory", filters=filters, **scope))["results"], ids)
    assert sorted(found) == sorted(listed)
    return listed


OPERATOR_CASES = [
    ({"n": 1}, ["m1"]),
    ({"city": "Paris"}, ["m1"]),
    ({"n": {"eq": 5}}, ["m2"]),
    ({"price": {"eq": 9.5}}, ["m1"]),
    ({"n": {"ne": 1}}, ["m2", "m3", "m4"]),
    ({"city": {"ne": "Paris"}}, ["m2", "m3", "m4"]),
    ({"n": {"gt": 1}}, ["m2", "m3"]),
    ({"n": {"gte": 5}}, ["m2", "m3"]),
    ({"n": {"lt": 5}}, ["m1"]),
    ({"n": {"lte": 5}}, ["m1", "m2"]),
    ({"price": {"lt": 0}}, ["m3"]),
    ({"price": {"gt": 9.4, "lt": 9.6}}, ["m1"]),
    ({"date": {"gt": "2024-02-01"}}, ["m2", "m3"]),
    ({"date": {"gte": "2024-03-01"}}, ["m2", "m3"]),
    ({"date": {"lt": "2024-03-01"}}, ["m1"]),
    ({"date": {"lte": "2024-03-01"}}, ["m1", "m2"]),
    ({"n": {"gte": 2, "lte": 10}}, ["m2", "m3"]),
    ({"date": {"gte": "2024-01-01", "lt": "2025-01-01"}}, ["m1", "m2"]),
    ({"n": {"in": [1, 10]}}, ["m1", "m3"]),
    ({"city": {"in": ["Paris", "London"]}}, ["m1", "m3"]),
    ({"n": {"nin": [1, 10]}}, ["m2", "m4"]),
    ({"city": {"nin": ["paris"]}}, ["m1", "m3", "m4"]),
    ({"city": {"contains": "ar"}}, ["m1", "m2"]),
    ({"city": {"contains": "Par"}}, ["m1"]),
    ({"city": {"icontains": "PAR"}}, ["m1", "m2"]),
    ({"city": {"icontains": "don"}}, ["m3"]),
    ({"city": "*"}, ["m1", "m2", "m3"]),
    ({"price": "*"}, ["m1", "m2", "m3"]),
    ({"nothing": "*"}, []),
    ({"n": 1, "city": "Paris"}, ["m1"]),
    ({"n": {"gte": 1}, "city": {"contains": "aris"}}, ["m1", "m2"]),
    ({"AND": [{"n": {"gte": 1}}, {"city": {"icontains": "paris"}}]}, ["m1", "m2"]),
    ({"AND": [{"n": 1}, {"n": 5}]}, []),
    ({"OR": [{"n": 1}, {"city": "London"}]}, ["m1", "m3"]),
    ({"OR": [{"n": 99}]}, []),
    ({"NOT": [{"city": "*"}]}, ["m4"]),
    ({"NOT": [{"n": {"gt": 1}}]}, ["m1", "m4"]),
    (
        {
            "OR": [
                {"AND": [{"n": {"gt": 1}}, {"city": {"icontains": "paris"}}]},
                {"NOT": [{"n": "*"}]},
            ]
        },
        ["m2", "m4"],
    ),
    ({"AND": [{"OR": [{"n": 1}, {"n": 10}]}, {"NOT": [{"city": {"contains": "Lon"}}]}]}, ["m1"]),
    ({"NOT": [{"OR": [{"n": 1}, {"n": 5}]}]}, ["m3", "m4"]),
    # missing keys: only ne / nin (and NOT) match a memory without the key
    ({"n": {"lt": 100}}, ["m1", "m2", "m3"]),
    ({"n": {"gt": -100}}, ["m1", "m2", "m3"]),
    ({"city": {"icontains": ""}}, ["m1", "m2", "m3"]),
    ({"n": {"in": [1, 5, 10]}}, ["m1", "m2", "m3"]),
    ({"n": {"nin": []}}, ALICE),
    ({"n": {"in": []}}, []),
]


@pytest.mark.parametrize(
    ("filters", "expected"), OPERATOR_CASES, ids=[str(c[0]) for c in OPERATOR_CASES]
)
async def test_operator_on_metadata(
    memory: AsyncMemory, rows: dict[str, str], filters: dict[str, Any], expected: list[str]
) -> None:
    assert await matching(memory, rows, filters) == expected


BUILTIN_CASES = [
    ({"actor_id": "bob"}, ["m1"]),
    ({"actor_id": "*"}, ["m1"]),
    ({"actor_id": {"ne": "bob"}}, ["m2", "m3", "m4"]),
    ({"actor_id": {"in": ["bob", "carol"]}}, ["m1"]),
    ({"role": "assistant"}, ["m2"]),
    ({"role": {"ne": "assistant"}}, ["m1", "m3", "m4"]),
    ({"role": {"in": ["user"]}}, ["m1", "m3", "m4"]),
    ({"agent_id": "a1"}, ["m1"]),
    ({"agent_id": "*"}, ["m1", "m2"]),
    ({"run_id": {"in": ["r1", "r2"]}}, ["m1", "m3"]),
    ({"run_id": {"ne": "r1"}}, ["m2", "m3", "m4"]),
    ({"NOT": [{"agent_id": "*"}]}, ["m3", "m4"]),
    ({"created_at": {"gte": "2000-01-01"}}, ALICE),
    ({"created_at": {"lt": "2000-01-01"}}, []),
]


@pytest.mark.parametrize(
    ("filters", "expected"), BUILTIN_CASES, ids=[str(c[0]) for c in BUILTIN_CASES]
)
async def test_operator_on_builtin_keys(
    memory: AsyncMemory, rows: dict[str, str], filters: dict[str, Any], expected: list[str]
) -> None:
    assert await matching(memory, rows, filters) == expected


async def test_created_and_updated_at_compare_as_iso_strings(
    memory: AsyncMemory, rows: dict[str, str]
) -> None:
    stamps = {name: (await memory.get(i))["created_at"] for name, i in rows.items()}
    assert await matching(memory, rows, {"created_at": {"gte": stamps["m2"]}}) == ["m2", "m3", "m4"]
    assert await matching(memory, rows, {"created_at": {"lt": stamps["m2"]}}) == ["m1"]
    assert await matching(memory, rows, {"created_at": stamps["m3"]}) == ["m3"]
    assert await matching(
        memory, rows, {"created_at": {"gt": stamps["m1"], "lte": stamps["m3"]}}
    ) == ["m2", "m3"]
    await memory.update(rows["m1"], metadata={"n": 1})
    touched = (await memory.get(rows["m1"]))["updated_at"]
    assert await matching(memory, rows, {"updated_at": {"gte": touched}}) == ["m1"]
    assert await matching(memory, rows, {"updated_at": {"lt": touched}}) == ["m2", "m3", "m4"]


async def test_scope_is_subset_matching(memory: AsyncMemory, rows: dict[str, str]) -> None:
    async def listed(**scope: str) -> list[str]:
        return names((await memory.get_all(**scope))["results"], rows)

    assert await listed(user_id="alice") == ALICE
    assert await listed(user_id="alice", run_id="r1") == ["m1"]
    assert await listed(user_id="alice", agent_id="a2") == ["m2"]
    assert await listed(user_id="alice", agent_id="a1", run_id="r1") == ["m1"]
    assert await listed(user_id="alice", agent_id="a1", run_id="r2") == []
    assert await listed(agent_id="a1") == ["m1"]
    assert await listed(run_id="r2") == ["m3"]
    assert await listed(user_id="bob") == ["m5"]
    assert await listed(user_id="bob", run_id="r1") == []
    hits = (await memory.search("memory", user_id="alice", run_id="r1"))["results"]
    assert names(hits, rows) == ["m1"]


async def test_scope_inside_filters(memory: AsyncMemory, rows: dict[str, str]) -> None:
    async def listed(filters: dict[str, Any]) -> list[str]:
        return names((await memory.get_all(filters=filters))["results"], rows)

    assert await listed({"user_id": "alice"}) == ALICE
    assert await listed({"user_id": "alice", "run_id": "r1"}) == ["m1"]
    assert await listed({"user_id": "alice", "n": 1}) == ["m1"]
    assert await listed({"agent_id": "a2"}) == ["m2"]
    found = (await memory.search("memory", filters={"user_id": "bob", "city": "Paris"}))["results"]
    assert names(found, rows) == ["m5"]


async def test_in_on_scope_fields(memory: AsyncMemory, rows: dict[str, str]) -> None:
    """``in`` on a scope field (served from the scope's posting lists) matches exactly
    what the filter says, alone or combined; OR and NOT around it still see every row."""

    async def listed(filters: dict[str, Any], **scope: str) -> list[str]:
        got = names((await memory.get_all(filters=filters, **scope))["results"], rows)
        hits = (await memory.search("memory", filters=filters, **scope))["results"]
        assert sorted(names(hits, rows)) == sorted(got), filters
        return got

    assert await listed({"user_id": {"in": ["alice", "bob"]}}) == [*ALICE, "m5"]
    assert await listed({"user_id": {"in": ["bob", "bob", "carol"]}}) == ["m5"]
    assert await listed({"user_id": {"in": ["carol"]}}) == []
    assert await listed({"user_id": {"in": []}}) == []
    assert await listed({"user_id": "alice", "run_id": {"in": ["r1", "r2"]}}) == ["m1", "m3"]
    assert await listed({"run_id": {"in": ["r2", "r9"]}}) == ["m3"]
    both = {"AND": [{"agent_id": {"in": ["a1", "a2"]}}, {"n": {"gte": 5}}]}
    assert await listed(both, user_id="alice") == ["m2"]
    assert await listed(
        {"OR": [{"user_id": {"in": ["bob"]}}, {"run_id": "r1"}]}, user_id="alice"
    ) == ["m1"]
    assert await listed({"NOT": [{"run_id": {"in": ["r1"]}}]}, user_id="alice") == [
        "m2",
        "m3",
        "m4",
    ]
    assert await listed({"user_id": {"nin": ["alice"]}}, user_id="bob") == ["m5"]


async def test_int_scope_ids_in_filters(memory: AsyncMemory) -> None:
    memory_id = (await memory.add("numbered", user_id=7, run_id=3, infer=False))["results"][0]["id"]
    for filters in (
        {"user_id": 7},
        {"user_id": "7"},
        {"user_id": 7, "run_id": 3},
        {"user_id": {"eq": 7}},
        {"user_id": {"in": [7, 8]}},
    ):
        assert [i["id"] for i in (await memory.get_all(filters=filters))["results"]] == [memory_id]
        assert [h["id"] for h in (await memory.search("numbered", filters=filters))["results"]] == [
            memory_id
        ]


async def test_filters_are_anded_with_kwarg_scope(
    memory: AsyncMemory, rows: dict[str, str]
) -> None:
    assert await matching(memory, rows, {"n": 1}, user_id="bob") == ["m5"]
    assert await matching(memory, rows, {"city": "Paris"}, user_id="alice") == ["m1"]
    assert await matching(memory, rows, {"user_id": "bob"}, user_id="alice") == []
    assert await matching(memory, rows, {"run_id": "r1"}, user_id="alice") == ["m1"]
    assert await matching(
        memory, rows, {"OR": [{"user_id": "bob"}, {"n": 5}]}, user_id="alice"
    ) == ["m2"]


SQL = "x' OR 1=1 --"
DROP = "a'; DROP TABLE memories; --"


async def test_sql_shaped_keys_and_values_are_data(memory: AsyncMemory) -> None:
    metadata = [
        {SQL: DROP},
        {"k": "100%"},
        {"k": "a_b"},
        {"k": "axb"},
        {'we"ird': 1},
        {"a.b": 1},
        {"a": {"b": 1}},
        {"$.n": 2},
    ]
    ids = {}
    for i, md in enumerate(metadata):
        ids[f"r{i}"] = (await memory.add(f"row {i}", user_id="u", metadata=md, infer=False))[
            "results"
        ][0]["id"]
    cases = [
        ({SQL: DROP}, ["r0"]),
        ({SQL: "*"}, ["r0"]),
        ({"k": SQL}, []),
        ({SQL: {"ne": DROP}}, ALL_BUT("r0")),
        ({"k": {"contains": "%"}}, ["r1"]),
        ({"k": {"contains": "_"}}, ["r2"]),
        ({"k": {"icontains": "A_"}}, ["r2"]),
        ({"k": {"in": [SQL, "axb"]}}, ["r3"]),
        ({'we"ird': 1}, ["r4"]),
        ({"a.b": 1}, ["r5"]),
        ({"a": "*"}, ["r6"]),
        ({"$.n": 2}, ["r7"]),
        ({"role": SQL}, []),
        ({"actor_id": {"in": [SQL]}}, []),
        ({"OR": [{SQL: "*"}, {"k": "axb"}]}, ["r0", "r3"]),
    ]
    for filters, expected in cases:
        assert await matching(memory, ids, filters, user_id="u") == expected, filters
    assert (await memory.get_all(user_id=SQL)) == {"results": []}
    assert len((await memory.get_all(user_id="u"))["results"]) == len(metadata)
    assert (await memory.get(ids["r0"]))["metadata"] == {SQL: DROP}


def ALL_BUT(*excluded: str) -> list[str]:
    return [f"r{i}" for i in range(8) if f"r{i}" not in excluded]
