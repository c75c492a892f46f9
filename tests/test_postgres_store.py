"""What only the postgres store has to prove (the contract suite runs on it as well).

- filters: every filter the embedded store answers, PostgreSQL answers identically
  (hypothesis, with the embedded store as the oracle);
- scoped search is exact: a user holding 10 of 100,000 rows gets its true top k, and the
  HNSW index is not used for it (EXPLAIN); large scopes use the index;
- two processes on one database see each other's writes and lose nothing;
- the schema is created once under concurrency, migrates forward, refuses a newer one;
- setup failures are clear StoreErrors; a hot standby serves reads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from memlane import AsyncMemory
from memlane.config import PostgresStoreSettings
from memlane.errors import MemlaneError, MemoryNotFoundError, StoreError, ValidationError
from memlane.providers.stores.base import AddOp, DeleteOp, DeleteScopeOp, UpdateOp
from memlane.providers.stores.embedded import EmbeddedStore
from memlane.providers.stores.postgres import PostgresStore, schema
from memlane.providers.stores.postgres.filters_sql import SqlDialect, compile_filter
from memlane.providers.stores.postgres.rows import PgVector, configure_connection, escape, unescape
from psycopg import sql

from tests.support.pg_server import PgServer
from tests.support.pg_worker import HashEmbedder, pg_config, run_worker


def new_collection() -> str:
    return f"p_{uuid.uuid4().hex[:16]}"


def pg_settings(dsn: str, collection: str | None = None, **kwargs: Any) -> PostgresStoreSettings:
    return PostgresStoreSettings(dsn=dsn, collection=collection or new_collection(), **kwargs)


@pytest.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_settings(pg_dsn), None)
    try:
        yield s
    finally:
        await s.close()


def unit(rng: np.random.Generator, dims: int) -> np.ndarray:
    return rng.normal(size=dims).astype(np.float32)


# --- construction, dimensions, atomicity ---------------------------------------------------


async def test_construction_does_no_io() -> None:
    # Nothing listens on port 1: only the first call may notice.
    store = PostgresStore(pg_settings("postgresql://nobody:secret@127.0.0.1:1/nowhere"), 8)
    assert store.dims == 8
    started = time.monotonic()
    with pytest.raises(StoreError, match="127.0.0.1:1/nowhere") as info:
        await store.list('{"user_id": "a"}', 10)
    assert time.monotonic() - started < 15
    assert "secret" not in str(info.value)
    await store.close()
    with pytest.raises(MemlaneError, match="closed"):
        await store.get("x")


async def test_dimension_learned_from_first_vector_then_enforced(
    store: PostgresStore, pg_dsn: str
) -> None:
    rng = np.random.default_rng(1)
    assert store.dims is None
    assert await store.search(unit(rng, 8), "x", None, 5, None) == []  # nothing stored yet
    [added] = await store.apply([AddOp(text="first", vector=unit(rng, 8), user_id="u")])
    assert store.dims == 8
    for bad, match in [
        (unit(rng, 4), "4 dimensions but this store holds 8"),
        (np.full(8, np.nan, dtype=np.float32), "non-finite value \\(NaN\\)"),
        (np.zeros(8, dtype=np.float32), "all zeros"),
        (np.ones((2, 4), dtype=np.float32), "one-dimensional"),
    ]:
        with pytest.raises(ValidationError, match=match):
            await store.apply([AddOp(text="bad", vector=bad, user_id="u")])
        with pytest.raises(ValidationError, match=match):
            await store.search(bad, "bad", '{"user_id": "u"}', 5, None)
    # another process (a fresh store object) learns the dimension from the database
    other = PostgresStore(pg_settings(pg_dsn, store.collection), None)
    assert [
        h["id"] for h in await other.search(unit(rng, 8), "x", '{"user_id": "u"}', 5, None)
    ] == [added["id"]]
    assert other.dims == 8
    await other.close()
    wrong = PostgresStore(pg_settings(pg_dsn, store.collection), 16)
    with pytest.raises(
        ValidationError, match="holds 8-dimensional vectors but the embedder makes 16"
    ):
        await wrong.get(added["id"])
    await wrong.close()


async def test_failed_apply_changes_nothing(store: PostgresStore) -> None:
    rng = np.random.default_rng(2)
    [kept] = await store.apply([AddOp(text="kept", vector=unit(rng, 8), user_id="u")])
    with pytest.raises(MemoryNotFoundError, match='memory "nope" not found'):
        await store.apply(
            [
                AddOp(text="rolled back", vector=unit(rng, 8), user_id="u"),
                UpdateOp(memory_id=kept["id"], text="changed", vector=unit(rng, 8)),
                DeleteOp(memory_id="nope"),
            ]
        )
    assert [m["memory"] for m in await store.list('{"user_id": "u"}', 10)] == ["kept"]
    assert [e["event"] for e in await store.history(kept["id"])] == ["ADD"]
    assert await store.count() == 1
    # later ops of one apply see the earlier ones
    [added, updated, deleted] = await store.apply(
        [
            AddOp(text="a", vector=unit(rng, 8), user_id="v"),
            UpdateOp(memory_id=kept["id"], metadata_json='{"n": 1}'),
            DeleteOp(memory_id=kept["id"]),
        ]
    )
    assert updated == {
        "id": kept["id"],
        "memory": "kept",
        "event": "UPDATE",
        "previous_memory": "kept",
    }
    assert deleted == {"id": kept["id"], "memory": "kept", "event": "DELETE"}
    assert [e["event"] for e in await store.history(kept["id"])] == ["ADD", "UPDATE", "DELETE"]
    assert [m["id"] for m in await store.list('{"user_id": "v"}', 10)] == [added["id"]]


async def test_nul_and_control_characters_round_trip(store: PostgresStore) -> None:
    rng = np.random.default_rng(3)
    text, user, key = "a\x00b\x01c", "u\x00\x01", "k\x00"
    metadata = json.dumps({key: ["x\x00", "\x01"], "plain": "\x00"})
    [added] = await store.apply(
        [
            AddOp(
                text=text,
                vector=unit(rng, 8),
                user_id=user,
                actor_id="\x01",
                metadata_json=metadata,
            )
        ]
    )
    assert added["memory"] == text
    item = await store.get(added["id"])
    assert (item["memory"], item["user_id"], item["actor_id"]) == (text, user, "\x01")
    assert item["metadata"] == json.loads(metadata)
    for filters in (
        {"user_id": user},
        {key: {"contains": "x\x00"}},
        {"plain": {"in": ["\x00"]}},
        {"user_id": {"gt": "u\x00"}},
        {"user_id": {"icontains": "U\x00"}},
    ):
        assert [m["id"] for m in await store.list(json.dumps(filters), 10)] == [added["id"]], (
            filters
        )
    for filters in ({"user_id": "u"}, {"user_id": {"gt": "u\x00\x01"}}, {"plain": "\x01"}):
        assert await store.list(json.dumps(filters), 10) == [], filters
    [updated] = await store.apply(
        [UpdateOp(memory_id=added["id"], text="\x00", vector=unit(rng, 8))]
    )
    assert updated["previous_memory"] == text and updated["memory"] == "\x00"
    assert [(e["old_memory"], e["new_memory"]) for e in await store.history(added["id"])] == [
        (None, text),
        (text, "\x00"),
    ]


@given(
    st.lists(
        st.text(
            st.characters(max_codepoint=4, blacklist_categories=("Cs",)) | st.sampled_from("ab"),
            max_size=6,
        ),
        min_size=2,
        max_size=2,
    )
)
def test_stored_text_escaping_keeps_equality_and_order(pair: list[str]) -> None:
    a, b = pair
    ea, eb = escape(a), escape(b)
    assert "\x00" not in ea and unescape(ea) == a
    assert (ea == eb) == (a == b)
    # PostgreSQL compares COLLATE "C" by UTF-8 bytes, i.e. by code points
    assert (ea.encode() < eb.encode()) == (a.encode() < b.encode())


async def test_delete_all_is_isolated_under_concurrent_writes(store: PostgresStore) -> None:
    rng = np.random.default_rng(4)
    first = await store.apply(
        [
            AddOp(text=f"a{i}", vector=unit(rng, 8), user_id="a", run_id=f"r{i % 2}")
            for i in range(20)
        ]
    )
    others = [AddOp(text=f"b{i}", vector=unit(rng, 8), user_id="b", run_id="r0") for i in range(40)]
    results = await asyncio.gather(
        store.apply([DeleteScopeOp(user_id="a", run_id="r0")]),
        *(store.apply([op]) for op in others),
    )
    deleted = results[0][0]["deleted"]
    assert deleted == [r["id"] for i, r in enumerate(first) if i % 2 == 0]  # oldest first
    assert [m["memory"] for m in await store.list('{"user_id": "a"}', 100)] == [
        f"a{i}" for i in range(1, 20, 2)
    ]
    assert len(await store.list('{"user_id": "b"}', 100)) == 40
    for memory_id in deleted:
        events = await store.history(memory_id)
        assert [e["event"] for e in events] == ["ADD", "DELETE"] and events[1]["is_deleted"] is True


async def test_concurrent_updates_of_one_memory_chain_in_history(store: PostgresStore) -> None:
    rng = np.random.default_rng(5)
    [memory] = await store.apply([AddOp(text="v0", vector=unit(rng, 8), user_id="u")])
    texts = [f"v{i}" for i in range(1, 41)]
    results = await asyncio.gather(
        *(
            store.apply([UpdateOp(memory_id=memory["id"], text=t, vector=unit(rng, 8))])
            for t in texts
        )
    )
    events = await store.history(memory["id"])
    assert [e["event"] for e in events] == ["ADD"] + ["UPDATE"] * 40
    for before, after in itertools.pairwise(events):
        assert after["old_memory"] == before["new_memory"]  # no update was lost or overwritten
    assert {r[0]["previous_memory"] for r in results} | {events[-1]["new_memory"]} == {"v0", *texts}
    assert (await store.get(memory["id"]))["memory"] == events[-1]["new_memory"]


# --- filters: the embedded store is the oracle ---------------------------------------------

SCALARS = [
    0,
    1,
    2,
    -1,
    2.5,
    1.0,
    10,
    2**53 + 1,
    "a",
    "B",
    "abc",
    "Äbc",
    "äBC",
    "İstanbul",
    "ß",
    "",
    "10",
    "2",
    "é",
    True,
    False,
    None,
]
VALUES = SCALARS + [["a", "b"], ["A"], [1, 2], ["abc", 1], {"x": 1}, []]
KEYS = [
    "k",
    "n",
    "s",
    "tags",
    "missing",
    "user_id",
    "agent_id",
    "run_id",
    "actor_id",
    "role",
    "created_at",
]


def dataset() -> list[dict[str, Any]]:
    rows = []
    for i in range(48):
        metadata: dict[str, Any] = {}
        for j, key in enumerate(("k", "n", "s", "tags")):
            pick = (i * (j + 3) + j) % (len(VALUES) + 3)
            if pick < len(VALUES):
                metadata[key] = VALUES[pick]
        rows.append(
            {
                "text": f"memory {i}",
                "user_id": ["alice", "bob", "Alice", "10", None][i % 5] or "carol",
                "agent_id": ["a1", None, "A1", "a2"][i % 4],
                "run_id": [None, "r1", "r2"][i % 3],
                "actor_id": [None, "Ann", "bob"][i % 3],
                "role": ["user", "assistant", None][(i // 2) % 3],
                "metadata_json": json.dumps(metadata) if metadata else None,
            }
        )
    return rows


def leaf() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.sampled_from(SCALARS)
    ordered = st.sampled_from(
        [v for v in SCALARS if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
        + ["2000-01-01", "9999"]
    )
    strings = st.sampled_from(
        ["a", "b", "B", "bc", "ä", "Ä", "i̇", "İ", "ss", "", "1", "mem", "ALI"]
    )
    condition = st.one_of(
        scalar,
        st.just("*"),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["eq", "ne"]), scalar),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte"]), ordered),
        st.builds(
            lambda op, v: {op: v}, st.sampled_from(["in", "nin"]), st.lists(scalar, max_size=3)
        ),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["contains", "icontains"]), strings),
        st.dictionaries(
            st.sampled_from(["gt", "lt", "ne", "contains"]), ordered, min_size=2, max_size=2
        ),
        # malformed ones: both stores must refuse them alike
        st.sampled_from([{"between": 1}, {"contains": 1}, {"in": 3}, {"gt": None}, {}, ["a"]]),
    )
    return st.builds(lambda k, c: {k: c}, st.sampled_from(KEYS), condition)


FILTERS = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(
            lambda op, parts: {op: parts},
            st.sampled_from(["AND", "OR", "NOT"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        st.builds(lambda a, b: {**a, **b}, inner, inner),
    ),
    max_leaves=6,
)


async def _list_outcome(store: Any, filters_json: str) -> Any:
    try:
        return [m["memory"] for m in await store.list(filters_json, 1000)]
    except ValidationError as err:
        return ("ValidationError", str(err))


def test_filters_match_the_embedded_store(pg_dsn: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    embedded = EmbeddedStore(tmp_path / "oracle.db", 4)
    postgres = PostgresStore(pg_settings(pg_dsn), 4)

    async def load() -> None:
        rng = np.random.default_rng(6)
        ops = [AddOp(vector=unit(rng, 4), **row) for row in dataset()]
        for store in (embedded, postgres):
            await store.apply(ops)

    informative = []  # filters keeping some rows but not all: the ones that tell stores apart
    try:
        loop.run_until_complete(load())

        @settings(
            max_examples=400,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(FILTERS)
        def check(filters: dict[str, Any]) -> None:
            text = json.dumps(filters)
            expected = loop.run_until_complete(_list_outcome(embedded, text))
            got = loop.run_until_complete(_list_outcome(postgres, text))
            assert got == expected, text
            if isinstance(expected, list) and 0 < len(expected) < len(dataset()):
                informative.append(text)

        check()
        assert len(informative) >= 100, len(informative)
    finally:
        loop.run_until_complete(postgres.close())
        loop.run_until_complete(embedded.close())
        loop.close()


def test_filter_values_never_become_sql_text() -> None:
    hostile = "x'); DROP TABLE t; --"
    compiled = compile_filter(
        json.dumps({hostile: {"contains": hostile}, "user_id": hostile}), SqlDialect()
    )
    assert hostile not in compiled.where.as_string(None)
    assert list(compiled.params.values()).count(hostile) == 3


# --- search: exact inside small scopes, indexed in large ones ------------------------------

BIG_ROWS = 100_000
NEEDLE_ROWS = 10
BIG_DIMS = 16


async def _bulk_load(
    dsn: str,
    settings_: PostgresStoreSettings,
    vectors: np.ndarray,
    users: list[str],
    tags: list[str | None],
) -> None:
    """COPY the rows in one transaction with the HNSW index dropped, then rebuild it (the
    fast way to load; the store's own write path is tested elsewhere)."""
    names = schema.Names(settings_.collection)
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(sql.SQL("DROP INDEX {}").format(names.ident("mem_hnsw")))
        columns = sql.SQL(
            "id, memory, hash, user_id, metadata, metadata_text, created_at, updated_at, "
            "embedding, fts, fts_len"
        )
        async with conn.cursor() as cur:
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(names.memories, columns)
            async with cur.copy(copy) as pipe:
                for i, (vector, user, tag) in enumerate(zip(vectors, users, tags)):
                    text = f"{user} memory {i}"
                    meta = json.dumps({"tag": tag}) if tag else None
                    literal = "[" + ",".join(f"{x:.9g}" for x in vector) + "]"
                    await pipe.write_row(
                        (
                            f"m{i:06d}",
                            text,
                            "h",
                            user,
                            meta,
                            meta,
                            "2026-01-01T00:00:00.000000+00:00",
                            "2026-01-01T00:00:00.000000+00:00",
                            literal,
                            f"'{user}':1 'memori':2 '{i}':3",
                            3,
                        )
                    )
        await schema.create_vector_index(conn, names, settings_, BIG_DIMS)
        await conn.execute(sql.SQL("ANALYZE {}").format(names.memories))
        await conn.commit()


def _true_top(vectors: np.ndarray, rows: np.ndarray, query: np.ndarray, k: int) -> list[str]:
    unit_rows = vectors[rows] / np.linalg.norm(vectors[rows], axis=1, keepdims=True)
    # scores clamped to [0, 1] as the stores report them; ties go to the older row
    scores = np.clip(unit_rows @ (query / np.linalg.norm(query)), 0.0, 1.0)
    order = np.lexsort((rows, -scores))[:k]
    return [f"m{rows[i]:06d}" for i in order]


async def _plan(dsn: str, store: PostgresStore, filters: str, mode: str, indexed: bool) -> str:
    compiled = compile_filter(filters, store._dialect)
    statement = (
        store._search.indexed(compiled.where, mode, BIG_DIMS)
        if indexed
        else store._search.exact(compiled.where, mode)
    )
    params = {
        **compiled.params,
        "q": PgVector(np.ones(BIG_DIMS, dtype=np.float32)),
        "text": "memory",
        "w": 0.6,
        "k": 5,
        "cap": store._settings.exact_scan_below,
    }
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await configure_connection(conn)
        await conn.execute(store._sql.hnsw_settings, ["100"])
        rows = await (
            await conn.execute(sql.SQL("EXPLAIN (COSTS OFF) ") + statement, params)
        ).fetchall()
    return "\n".join(r[0] for r in rows)


async def test_selective_filter_gets_the_true_top_k(pg_dsn: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(BIG_ROWS, BIG_DIMS)).astype(np.float32)
    users = [f"crowd{i % 4}" for i in range(BIG_ROWS)]
    needles = rng.choice(BIG_ROWS, NEEDLE_ROWS, replace=False)
    for i in needles:
        users[i] = "needle"
    tags: list[str | None] = [None] * BIG_ROWS
    rare = [i for i in range(BIG_ROWS) if users[i] == "crowd0"][:12]
    for i in rare:
        tags[i] = "rare"
    settings_ = pg_settings(pg_dsn, hnsw_m=8, hnsw_ef_construction=32)
    store = PostgresStore(settings_, BIG_DIMS)
    try:
        assert await store.count() == 0  # creates the schema and the index
        await _bulk_load(pg_dsn, settings_, vectors, users, tags)
        assert await store.count() == BIG_ROWS
        user_rows = np.array(users)
        for trial in range(5):
            query = rng.normal(size=BIG_DIMS).astype(np.float32)
            # 10 of 100,000 rows: exact, whatever the HNSW graph would have found
            hits = await store.search(query, "x", '{"user_id": "needle"}', 5, None)
            assert [h["id"] for h in hits] == _true_top(
                vectors, np.flatnonzero(user_rows == "needle"), query, 5
            )
            # a rare tag inside a 25,000-memory scope: still exact
            rare_filter = '{"AND": [{"user_id": "crowd0"}, {"tag": "rare"}]}'
            hits = await store.search(query, "x", rare_filter, 5, None)
            assert [h["id"] for h in hits] == _true_top(vectors, np.array(rare), query, 5)
            # a 25,000-memory scope: the index, with iterative scanning inside the scope
            hits = await store.search(query, "x", '{"user_id": "crowd1"}', 10, None)
            truth = _true_top(vectors, np.flatnonzero(user_rows == "crowd1"), query, 10)
            assert len(hits) == 10 and all(h["user_id"] == "crowd1" for h in hits)
            assert len({h["id"] for h in hits} & set(truth)) >= 8, trial
        for mode in ("semantic", "keyword", "hybrid"):
            exact_plan = await _plan(pg_dsn, store, '{"user_id": "needle"}', mode, indexed=False)
            assert "hnsw" not in exact_plan and "_mem_user" in exact_plan, exact_plan
        indexed_plan = await _plan(pg_dsn, store, '{"user_id": "crowd1"}', "hybrid", indexed=True)
        assert "_mem_hnsw" in indexed_plan and "_mem_fts" in indexed_plan, indexed_plan
        # keyword and hybrid agree between the exact and the indexed plan of a large scope
        exact_store = PostgresStore(
            pg_settings(pg_dsn, settings_.collection, exact_scan_below=10**9), BIG_DIMS
        )
        query = rng.normal(size=BIG_DIMS).astype(np.float32)
        text = f"crowd2 memory {users.index('crowd2') + 400}"
        for mode in ("keyword", "hybrid"):
            indexed = await store.search(query, text, '{"user_id": "crowd2"}', 10, None, mode, 0.5)
            exact = await exact_store.search(
                query, text, '{"user_id": "crowd2"}', 10, None, mode, 0.5
            )
            assert indexed[0]["memory"] == exact[0]["memory"] == text
            assert len({h["id"] for h in indexed} & {h["id"] for h in exact}) >= 8
        await exact_store.close()
    finally:
        await store.close()


# --- several processes on one database ---------------------------------------------------


async def test_two_processes_see_each_other_and_lose_nothing(pg_dsn: str) -> None:
    collection = new_collection()
    async with AsyncMemory(pg_config(pg_dsn, collection), embedder=HashEmbedder()) as memory:
        shared = (await memory.add("shared text v0", user_id="shared", infer=False))["results"][0][
            "id"
        ]
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2, timeout=120), ctx.Queue()
    adds, updates = 150, 25
    workers = [
        ctx.Process(
            target=run_worker,
            args=(name, pg_dsn, collection, adds, shared, updates, barrier, other, out),
        )
        for name, other in (("p1", "p2"), ("p2", "p1"))
    ]
    for w in workers:
        w.start()
    reports = dict(
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: [out.get(timeout=180) for _ in workers]
        )
    )
    for w in workers:
        w.join(30)
        assert w.exitcode == 0, reports
    for name, other in (("p1", "p2"), ("p2", "p1")):
        assert "error" not in reports[name], reports[name]
        assert reports[name]["seen_other"] == adds  # the other process's writes, all of them
        assert reports[name]["top_other"] == f"{other} memory 3"
    async with AsyncMemory(pg_config(pg_dsn, collection), embedder=HashEmbedder()) as memory:
        for name in ("p1", "p2"):
            stored = (await memory.get_all(user_id=name, limit=10_000))["results"]
            assert sorted(m["id"] for m in stored) == sorted(reports[name]["added"])
        events = await memory.history(shared)
        assert [e["event"] for e in events] == ["ADD"] + ["UPDATE"] * (2 * updates)
        for before, after in itertools.pairwise(events):
            assert after["old_memory"] == before["new_memory"]
        assert (await memory.get(shared))["memory"] == events[-1]["new_memory"]


# --- schema ------------------------------------------------------------------------------


async def test_schema_is_created_once_by_concurrent_first_uses(pg_dsn: str) -> None:
    collection = new_collection()
    stores = [PostgresStore(pg_settings(pg_dsn, collection), 8) for _ in range(6)]
    rng = np.random.default_rng(8)
    results = await asyncio.gather(
        *(
            s.apply([AddOp(text=f"s{i}", vector=unit(rng, 8), user_id="u")])
            for i, s in enumerate(stores)
        )
    )
    assert len({r[0]["id"] for r in results}) == 6
    assert len(await stores[0].list('{"user_id": "u"}', 100)) == 6
    for s in stores:
        await s.close()


async def test_learning_the_dimension_races_safely(pg_dsn: str) -> None:
    collection = new_collection()
    stores = [PostgresStore(pg_settings(pg_dsn, collection), None) for _ in range(4)]
    rng = np.random.default_rng(9)
    outcomes = await asyncio.gather(
        *(
            s.apply([AddOp(text=f"s{i}", vector=unit(rng, 8 if i % 2 else 12), user_id="u")])
            for i, s in enumerate(stores)
        ),
        return_exceptions=True,
    )
    kept = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(kept) == 2 and len(refused) == 2  # whichever length came first won
    assert all(isinstance(e, ValidationError) for e in refused), refused
    for s in stores:
        await s.close()


async def _exec(dsn: str, statement: Any, params: Any = None) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(statement, params)
        return await cur.fetchall() if cur.description else []


async def test_migrates_a_version_1_collection(pg_dsn: str) -> None:
    collection = new_collection()
    names = schema.Names(collection)
    settings_ = pg_settings(pg_dsn, collection)
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await configure_connection(conn)
        assert await schema.migrate(conn, names, settings_, 4, target=1) == 4
        # rows as a version-1 memlane wrote them (no keyword columns yet)
        for i, text in enumerate(["I like green tea", "Paris is in France"]):
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (id, memory, hash, user_id, created_at, updated_at, embedding) "
                    "VALUES (%s, %s, 'h', 'alice', 't', 't', %s::vector)"
                ).format(names.memories),
                [f"old{i}", text, PgVector(np.array([1, i, 0, 0], dtype=np.float32))],
            )
    assert await _exec(
        pg_dsn, sql.SQL("SELECT value FROM {} WHERE key = 'schema_version'").format(names.meta)
    ) == [("1",)]
    store = PostgresStore(settings_, 4)
    try:
        assert [m["id"] for m in await store.list('{"user_id": "alice"}', 10)] == ["old0", "old1"]
        hits = await store.search(None, "green teas", '{"user_id": "alice"}', 10, None, "keyword")
        assert [h["id"] for h in hits] == ["old0"]  # back-filled keyword columns
        version = sql.SQL("SELECT value FROM {} WHERE key = 'schema_version'").format(names.meta)
        assert await _exec(pg_dsn, version) == [(str(schema.SCHEMA_VERSION),)]
        indexes = await _exec(
            pg_dsn,
            "SELECT indexname FROM pg_indexes WHERE tablename = %s",
            [f"{collection}_memories"],
        )
        assert {f"{collection}_mem_fts", f"{collection}_mem_hnsw"} <= {r[0] for r in indexes}
    finally:
        await store.close()


async def test_refuses_a_schema_newer_than_it_knows(store: PostgresStore, pg_dsn: str) -> None:
    await store.count()
    meta = schema.Names(store.collection).meta
    await _exec(
        pg_dsn, sql.SQL("UPDATE {} SET value = '99' WHERE key = 'schema_version'").format(meta)
    )
    newer = PostgresStore(pg_settings(pg_dsn, store.collection), None)
    with pytest.raises(StoreError, match="newer memlane \\(schema 99"):
        await newer.count()
    await newer.close()


async def test_creates_the_extension_or_says_who_must(pg_server: PgServer) -> None:
    database = f"ext_{uuid.uuid4().hex[:8]}"
    dsn = pg_server.create_database(database, with_vector=False)
    store = PostgresStore(pg_settings(dsn), 8)  # as the superuser: creates it
    await store.count()
    await store.close()
    assert await _exec(dsn, "SELECT extversion FROM pg_extension WHERE extname = 'vector'") == [
        ("0.8.5",)
    ]
    role = f"plain_{uuid.uuid4().hex[:8]}"
    pg_server.psql(f"CREATE ROLE {role} LOGIN")
    other = f"ext_{uuid.uuid4().hex[:8]}"
    pg_server.psql(f"CREATE DATABASE {other} OWNER {role}")
    store = PostgresStore(pg_settings(pg_server.dsn(other, user=role)), 8)
    with pytest.raises(StoreError, match="CREATE EXTENSION vector"):
        await store.count()
    await store.close()


# --- replication ---------------------------------------------------------------------------


async def test_hot_standby_serves_reads(pg_server: PgServer) -> None:
    dsn = pg_server.create_database(f"repl_{uuid.uuid4().hex[:8]}")
    collection = new_collection()
    async with AsyncMemory(pg_config(dsn, collection), embedder=HashEmbedder()) as primary:
        ids = [
            (await primary.add(f"replicated {i}", user_id="alice", infer=False))["results"][0]["id"]
            for i in range(5)
        ]
        standby = pg_server.start_standby()
        try:
            standby_dsn = dsn.replace(f":{pg_server.port}/", f":{standby.port}/")
            async with AsyncMemory(
                pg_config(standby_dsn, collection), embedder=HashEmbedder()
            ) as replica:
                late = (
                    await primary.add(
                        "written after the standby started", user_id="alice", infer=False
                    )
                )["results"][0]["id"]
                deadline = time.monotonic() + 30
                while True:
                    listed = [m["id"] for m in (await replica.get_all(user_id="alice"))["results"]]
                    if late in listed or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                assert listed == [*ids, late]
                hits = (await replica.search("replicated 3", user_id="alice", limit=1))["results"]
                assert hits[0]["id"] == ids[3]
                with pytest.raises(StoreError, match="read-only"):
                    await replica.add("no writes on a standby", user_id="alice", infer=False)
        finally:
            standby.stop()


async def test_semantic_search_matches_the_embedded_store(pg_dsn: str, tmp_path: Path) -> None:
    """Same vectors, same filters: same hits in the same order, same scores (to float32
    rounding). Keyword scores differ slightly by design (PostgreSQL's word splitting)."""
    embedded = EmbeddedStore(tmp_path / "oracle.db", 8)
    postgres = PostgresStore(pg_settings(pg_dsn), 8)
    rng = np.random.default_rng(10)
    ops = [AddOp(vector=unit(rng, 8), **row) for row in dataset()]
    try:
        for s in (embedded, postgres):
            await s.apply(ops)
        for i in range(40):
            query = unit(rng, 8)
            filters = [
                None,
                '{"user_id": "alice"}',
                '{"OR": [{"role": "user"}, {"n": {"gt": 1}}]}',
            ][i % 3]
            threshold = [None, 0.0, 0.3][i % 3]
            want = await embedded.search(query, "memory", filters, 7, threshold, "semantic")
            got = await postgres.search(query, "memory", filters, 7, threshold, "semantic")
            assert [h["memory"] for h in got] == [h["memory"] for h in want]
            assert [h["score"] for h in got] == pytest.approx([h["score"] for h in want], abs=1e-5)
            assert all(set(g) == set(w) for g, w in zip(got, want))
    finally:
        await postgres.close()
        await embedded.close()
