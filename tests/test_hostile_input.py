"""Hostile input: every bad or strange argument gets its documented answer, and a refused
call leaves the store exactly as it was.

Families (counts printed at the end of the module):

- ``filter``: keys and values shaped like SQL or FTS syntax, ``$or``-style operators,
  malformed logic, non-JSON values — refused with ValidationError or answered (reads
  never write);
- ``verbatim``: SQL/FTS-shaped text, NUL characters and look-alike ids stored as given,
  as memory text, scope ids, roles, metadata;
- ``memory_id``: ids with quotes, NUL, 10 MB, case/whitespace variants — MemoryNotFoundError
  (``history`` → ``[]``); non-strings, empty and surrogate ids — ValidationError;
- ``surrogate``: a lone surrogate in every string argument — ValidationError;
- ``huge``: 10 MB strings as text, query, scope id, metadata, filter key/value — memlane
  sets no size limit, so they are stored/answered, consistently everywhere;
- ``vector``: a bad embedder object (NaN, inf, zeros, wrong length, wrong shape, wrong
  type) — ValidationError (bad values/size) or EmbeddingError (wrong shape/type);
- ``argument``: messages of the wrong types and other malformed arguments — ValidationError;
- ``metadata``: metadata values that JSON cannot carry faithfully.

"The store unchanged" is checked on the database itself, not through memlane (embedded:
the SQLite file with the stdlib sqlite3 module, read-only, in a helper process; postgres:
the collection's tables with psycopg) — every row of memories, history and meta — and
through the API (every scope's get_all and every known id's history).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory
from memlane.errors import EmbeddingError, MemoryNotFoundError, ValidationError

from tests.support.det_embedder import BadEmbedder
from tests.support.memory_helpers import snapshot, store_kind, vector_store_config
from tests.support.store_dump import contents

DIMS = 32
SCOPES = [{"user_id": "alice"}, {"user_id": "bob"}, {"agent_id": "helper"}]
TRIED: Counter[str] = Counter()
KINDS_SEEN: set[str] = set()
MB10 = 10 * 1024 * 1024


@pytest.fixture(scope="module", autouse=True)
def tally(request: pytest.FixtureRequest) -> Any:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = ("[hostile input] inputs tried per family (over the stores "
            f"{'+'.join(sorted(KINDS_SEEN))}): " + ", ".join(
                f"{k}={v}" for k, v in sorted(TRIED.items())) + f"; total={sum(TRIED.values())}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(line)


class Store:
    """An AsyncMemory with some content, and a way to prove a call changed nothing."""

    def __init__(self, memory: AsyncMemory, embedder: BadEmbedder, vs: dict[str, Any]) -> None:
        self.memory = memory
        self.embedder = embedder
        self.vs = vs  # the config's vector_store section
        self.ids: list[str] = []

    def raw(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of the store's database, read directly."""
        return contents(self.vs)

    async def state(self) -> tuple[Any, Any]:
        return self.raw(), await snapshot(self.memory, SCOPES, self.ids)

    async def refused(self, family: str, make: Callable[[], Awaitable[Any]],
                      expected: type[BaseException] | tuple[type[BaseException], ...],
                      match: str | None = None) -> BaseException:
        """Asserts the call raises ``expected`` and changes nothing; returns the error."""
        TRIED[family] += 1
        before = await self.state()
        with pytest.raises(expected, match=match) as caught:
            await make()
        assert await self.state() == before, "a refused call changed the store"
        return caught.value

    async def check_refused(self, family: str, label: str, make: Callable[[], Awaitable[Any]],
                            expected: type[BaseException] | tuple[type[BaseException], ...]
                            ) -> str | None:
        """Like :meth:`refused`, but returns what went wrong (None if all is well), so a
        test can try a whole family and report every failing input at once."""
        TRIED[family] += 1
        before = await self.state()
        try:
            await make()
        except BaseException as err:  # noqa: BLE001 - judged below
            problem = None if isinstance(err, expected) else (
                f"{label}: raised {type(err).__name__}: {err}")
        else:
            problem = f"{label}: was accepted"
        if await self.state() != before:
            problem = (problem or label) + " (AND the store changed)"
        return problem

    async def read_only(self, family: str, make: Callable[[], Awaitable[Any]]) -> Any:
        """Runs a read; it may answer or raise ValidationError, and changes nothing."""
        TRIED[family] += 1
        before = await self.state()
        try:
            result = await make()
        except ValidationError as err:
            result = err
        assert await self.state() == before, "a read changed the store"
        return result


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    embedder = BadEmbedder(DIMS)
    KINDS_SEEN.add(store_kind())
    config = {"vector_store": vector_store_config(tmp_path)}
    memory = AsyncMemory(config, embedder=embedder)
    s = Store(memory, embedder, config["vector_store"])
    try:
        for i, scope in enumerate(SCOPES * 2):
            r = await memory.add(f"baseline memory {i} about tea", **scope, infer=False,
                                 metadata={"k": "v", "n": i, "tags": ["a", "b"]})
            s.ids.append(r["results"][0]["id"])
        await memory.update(s.ids[0], "baseline memory 0 about coffee")
        await memory.delete(s.ids[-1])
        yield s
    finally:
        await memory.close()


def has_nul(value: Any) -> bool:
    """True when a NUL character is anywhere in a str, or a dict/list's keys and items."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


# -- filters -------------------------------------------------------------------------------

SQLISH = ["x' OR 1=1 --", "'; DROP TABLE memories; --", '"; DROP TABLE memories; --',
          "1; DELETE FROM history", "Robert'); DROP TABLE history;--", "' || '", "%", "_",
          "\\", "/* */", "NEAR(a b)", "a AND b OR NOT c", "title:tea", "tea*", "^tea",
          '"unbalanced', "{}", "[]", "null", "\x00", "k\x00v", "v\x00", "$or", "*tea*", "?"]

# (filter, expected): "none" = answered with no memory, "error" = ValidationError,
# a number = that many of alice's memories; "...-or-error": that, or ValidationError
# (an integer JSON cannot carry exactly may be refused). A filter holding a NUL character may also
# be refused with ValidationError (a store whose text type cannot hold NUL, PostgreSQL).
FILTERS: list[tuple[dict[str, Any], str | int]] = (
    [({"k": v}, "none") for v in SQLISH]
    + [({v: "v"}, "none") for v in SQLISH]
    + [({"k": {"contains": v}}, "none") for v in SQLISH if v not in ("%", "_", "\\", "?")]
    + [
        ({"k": "*"}, 2),
        ({"k": {"icontains": "V"}}, 2),
        ({"$or": [{"k": "v"}]}, "error"),
        ({"$or": {"k": "v"}}, "error"),
        ({"$and": [{"k": "v"}]}, "error"),
        ({"k": {"$eq": "v"}}, "error"),
        ({"k": {"$ne": "v"}}, "error"),
        ({"k": {"eq": "v", "or": 1}}, "error"),
        ({"k": {"like": "%"}}, "error"),
        ({"k": {"regex": ".*"}}, "error"),
        ({"k": {"glob": "*"}}, "error"),
        ({"k": {"match": "tea"}}, "error"),
        ({"OR": []}, "error"),
        ({"AND": []}, "error"),
        ({"NOT": []}, "error"),
        ({"OR": "x' OR 1=1"}, "error"),
        ({"AND": {"k": "v"}}, "error"),
        ({"NOT": [{"k": "nothing"}]}, 2),
        ({"OR": [{"k": "v"}, {"x' OR 1=1 --": "1"}]}, 2),
        ({"or": [{"k": "v"}]}, "error"),
        ({"": "v"}, "error"),
        ({"k": {}}, "error"),
        ({"k": ["v"]}, "error"),
        ({"k": {"in": "v"}}, "error"),
        ({"k": {"in": ["x' OR 1=1 --", "v"]}}, 2),
        ({"k": {"nin": ["v"]}}, "none"),
        ({"k": {"gt": None}}, "error"),
        ({"k": {"gt": {"a": 1}}}, "error"),
        ({"k": {"contains": ["v"]}}, "error"),
        ({"k": float("nan")}, "error"),
        ({"k": float("inf")}, "error"),
        ({"k": b"v"}, "error"),
        ({"k": {1, 2}}, "error"),
        ({1: "v"}, "error"),
        ({None: "v"}, "error"),
        ({"n": 2**70}, "none-or-error"),
        ({"n": {"gte": -(2**70)}}, "2-or-error"),
        ({"metadata": {"k": "v"}}, "error"),
        ({"metadata.k": "v"}, "none"),
        ({"tags": "a"}, "none"),
        ({"tags": {"contains": "a"}}, 2),
        ({"user_id": "bob"}, "none"),
        ({"user_id": "alice' OR '1'='1"}, "none"),
        ({"user_id": {"ne": "alice"}}, "none"),
        ({"created_at": {"lt": "'; DROP TABLE memories; --"}}, "none"),
        ({"k": "v", "NOT": [{"user_id": "alice"}]}, "none"),
        (_deep := {"NOT": [{"NOT": [{"NOT": [{"k": "v"}]}]}]}, "none"),
    ]
)
_nested: dict[str, Any] = {"k": "v"}
for _ in range(40):
    _nested = {"AND": [_nested]}
FILTERS.append((_nested, "error"))  # nests deeper than the limit


async def test_hostile_filters_are_data_never_code(store: Store) -> None:
    """Each filter, in get_all and search: refused with ValidationError or answered with
    exactly the expected memories of alice (a filter can only narrow the scope)."""
    memory, problems = store.memory, []
    for filters, expected in FILTERS:
        for name, call in (
            ("get_all", lambda f=filters: memory.get_all(user_id="alice", filters=f)),
            ("search", lambda f=filters: memory.search("tea", user_id="alice", filters=f)),
        ):
            label = f"{name}(filters={filters!r:.80})"
            try:
                result = await store.read_only("filter", call)
            except AssertionError as err:
                problems.append(f"{label}: {err}")
                continue
            may_refuse = expected == "error" or has_nul(filters) or str(expected).endswith("-or-error")
            if isinstance(result, ValidationError) and may_refuse:
                continue
            if expected == "error" or isinstance(result, BaseException):
                problems.append(f"{label}: expected {expected}, got {result!r:.200}")
                continue
            items = result["results"]
            want = int(str(expected).split("-")[0]) if str(expected)[0].isdigit() else (
                0 if str(expected).startswith("none") else expected)
            if len(items) != want or any(i.get("user_id") != "alice" for i in items):
                problems.append(f"{label}: expected {want} of alice's memories, got "
                                f"{[(i.get('user_id'), i['memory']) for i in items]}")
    assert not problems, "\n".join(problems)


# -- verbatim ------------------------------------------------------------------------------

async def test_sql_and_fts_shaped_text_is_stored_verbatim(store: Store) -> None:
    """SQL/FTS-shaped strings are data: stored and returned exactly, as text, scope id,
    role, actor (name) and metadata key/value. A string with a NUL character is either
    stored verbatim too or refused with ValidationError, the store unchanged (PostgreSQL
    text cannot hold NUL)."""
    memory = store.memory
    for text in SQLISH + ["tea\x00coffee", "  padded  ", "tab\there", "é" * 3]:
        TRIED["verbatim"] += 1
        if not text.strip():
            continue
        user = f"tenant {text}"  # the same string as a scope id
        before = store.raw()
        call = memory.add([{"role": text, "content": text, "name": text}], user_id=user,
                          agent_id=text, infer=False, metadata={text: text})
        if has_nul(text):
            try:
                r = await call
            except ValidationError:
                assert store.raw() == before
                continue
        else:
            r = await call
        [added] = r["results"]
        assert added["memory"] == text
        item = await memory.get(added["id"])
        assert (item["memory"], item["user_id"], item["agent_id"], item["role"],
                item["actor_id"], item["metadata"]) == (text, user, text, text, text, {text: text})
        assert [x["id"] for x in (await memory.get_all(user_id=user))["results"]] == [added["id"]]
        hits = (await memory.search(text, user_id=user))["results"]
        assert [h["id"] for h in hits] == [added["id"]]
        assert (await memory.get_all(filters={"user_id": {"eq": user}, text: text}))["results"]
        after = store.raw()
        assert after["memories"][:-1] == before["memories"]
        assert after["memories"][-1]["id"] == added["id"]
        assert after["memories"][-1]["memory"] == text
        assert after["history"][:-1] == before["history"]
        await memory.delete(added["id"])


async def test_nul_never_truncates_a_scope_id(store: Store) -> None:
    """"alice\x00evil" is not "alice" (no C-string truncation anywhere)."""
    memory = store.memory
    TRIED["verbatim"] += 1
    alices = {x["id"] for x in (await memory.get_all(user_id="alice"))["results"]}
    before = store.raw()
    try:
        r = await memory.add("nul tenant", user_id="alice\x00evil", infer=False)
    except ValidationError:
        assert store.raw() == before
        return
    assert {x["id"] for x in (await memory.get_all(user_id="alice"))["results"]} == alices
    assert r["results"][0]["id"] not in alices
    assert [x["memory"] for x in (await memory.get_all(user_id="alice\x00evil"))["results"]] == [
        "nul tenant"]


# -- memory ids ----------------------------------------------------------------------------

NOT_FOUND_IDS = ["x' OR '1'='1", "'; DROP TABLE memories; --", "%", "*", "NEAR(a b)",
                 "a" * MB10, "\u202e", "🙂", "1 OR 1=1"]
NUL_IDS = ["a\x00b", "\x00"]


async def test_hostile_memory_ids(store: Store) -> None:
    """Ids no memory has: MemoryNotFoundError from get/update/delete, [] from history.
    Ids with a NUL may instead be refused with ValidationError — never a StoreError."""
    memory = store.memory
    real = store.ids[1]
    for mid in NOT_FOUND_IDS + NUL_IDS + [real + "\x00", real.upper(), " " + real, real + " ",
                                          real[:-1], store.ids[-1]]:
        expected = (MemoryNotFoundError, ValidationError) if has_nul(mid) else MemoryNotFoundError
        for call in (lambda mid=mid: memory.get(mid), lambda mid=mid: memory.delete(mid),
                     lambda mid=mid: memory.update(mid, "new text")):
            await store.refused("memory_id", call, expected)
        TRIED["memory_id"] += 1
        before = await store.state()
        if mid == store.ids[-1]:  # deleted: its history stays readable
            assert [e["event"] for e in await memory.history(mid)] == ["ADD", "DELETE"]
        elif has_nul(mid):
            try:
                assert await memory.history(mid) == []
            except ValidationError:
                pass
        else:
            assert await memory.history(mid) == []
        assert await store.state() == before
    for mid in ["", " ", "\n\t", 5, None, b"id", ["id"], {"id": 1}, 1.5, "\ud800", real + "\udfff"]:
        for call in (lambda mid=mid: memory.get(mid), lambda mid=mid: memory.delete(mid),
                     lambda mid=mid: memory.update(mid, "new text"),
                     lambda mid=mid: memory.history(mid)):
            await store.refused("memory_id", call, ValidationError)


# -- lone surrogates ---------------------------------------------------------------------

S = "ok \ud800 ok"
SURROGATE_CALLS: dict[str, Callable[[AsyncMemory, str], Awaitable[Any]]] = {
    "add text": lambda m, i: m.add(S, user_id="alice", infer=False),
    "add message content": lambda m, i: m.add([{"role": "user", "content": S}], user_id="alice", infer=False),
    "add message name": lambda m, i: m.add([{"role": "user", "content": "x", "name": S}], user_id="alice", infer=False),
    "add message role": lambda m, i: m.add([{"role": S, "content": "x"}], user_id="alice", infer=False),
    "add second message": lambda m, i: m.add([{"role": "user", "content": "fine"}, {"role": "user", "content": S}], user_id="alice", infer=False),
    "add user_id": lambda m, i: m.add("x", user_id=S, infer=False),
    "add agent_id": lambda m, i: m.add("x", user_id="alice", agent_id=S, infer=False),
    "add run_id": lambda m, i: m.add("x", user_id="alice", run_id=S, infer=False),
    "add metadata value": lambda m, i: m.add("x", user_id="alice", metadata={"k": S}, infer=False),
    "add metadata key": lambda m, i: m.add("x", user_id="alice", metadata={S: 1}, infer=False),
    "add metadata nested": lambda m, i: m.add("x", user_id="alice", metadata={"k": [{"j": S}]}, infer=False),
    "add prompt": lambda m, i: m.add("x", user_id="alice", prompt=S, infer=False),
    "search query": lambda m, i: m.search(S, user_id="alice"),
    "search user_id": lambda m, i: m.search("x", user_id=S),
    "search filter value": lambda m, i: m.search("x", user_id="alice", filters={"k": S}),
    "search filter key": lambda m, i: m.search("x", user_id="alice", filters={S: "v"}),
    "get_all user_id": lambda m, i: m.get_all(user_id=S),
    "get_all filter value": lambda m, i: m.get_all(user_id="alice", filters={"k": {"in": [S]}}),
    "update text": lambda m, i: m.update(i, S),
    "update text kwarg": lambda m, i: m.update(i, text=S),
    "update metadata": lambda m, i: m.update(i, metadata={"k": S}),
    "delete_all user_id": lambda m, i: m.delete_all(user_id=S),
    "delete_all run_id": lambda m, i: m.delete_all(user_id="alice", run_id=S),
    "get id": lambda m, i: m.get(S),
    "delete id": lambda m, i: m.delete(i + "\udc00"),
    "history id": lambda m, i: m.history(S),
}


async def test_lone_surrogates_are_refused(store: Store) -> None:
    """A lone surrogate anywhere a string goes: ValidationError, store unchanged."""
    problems = []
    for where, call in SURROGATE_CALLS.items():
        problem = await store.check_refused(
            "surrogate", where, lambda call=call: call(store.memory, store.ids[1]), ValidationError)
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


# -- 10 MB strings -------------------------------------------------------------------------
# memlane documents no size limit on strings. Whatever a store decides, it must be the same
# answer everywhere and a clear one: stored/answered like any other string, or refused
# with ValidationError before anything is written — never a StoreError.

def huge(tag: str) -> str:
    block = tag + "x" * (99 - len(tag)) + " "
    return (block * (MB10 // len(block) + 1))[:MB10]


async def stored_or_refused(store: Store, make: Callable[[], Awaitable[Any]]) -> Any:
    """Runs a write that may be refused (ValidationError, store unchanged); None if so."""
    TRIED["huge"] += 1
    before = store.raw()
    try:
        return await make()
    except ValidationError:
        assert store.raw() == before
        return None


async def test_ten_megabyte_text_and_metadata(store: Store) -> None:
    memory = store.memory
    text, other = huge("alpha"), huge("beta")
    r = await stored_or_refused(store, lambda: memory.add(
        text, user_id="alice", infer=False, metadata={"blob": other}))
    if r is None:
        return
    mid = r["results"][0]["id"]
    item = await memory.get(mid)
    assert item["memory"] == text and item["metadata"] == {"blob": other}
    TRIED["huge"] += 1
    hits = (await memory.search(text, user_id="alice"))["results"]
    assert hits[0]["id"] == mid
    TRIED["huge"] += 1
    await memory.update(mid, other)  # accepted once, accepted again
    assert (await memory.get(mid))["memory"] == other
    events = await memory.history(mid)
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in events] == [
        ("ADD", None, text), ("UPDATE", text, other)]
    for filters in ({"blob": other}, {"blob": {"eq": other}},
                    {"blob": {"contains": other[: MB10 // 2]}}):
        TRIED["huge"] += 1
        assert [x["id"] for x in (await memory.get_all(user_id="alice", filters=filters))["results"]
                if x["id"] == mid] == [mid]
    rows = {r["id"]: r for r in store.raw()["memories"]}
    assert rows[mid]["memory"] == other
    await memory.delete(mid)
    with pytest.raises(MemoryNotFoundError):
        await memory.get(mid)


async def test_ten_megabyte_scope_id(store: Store) -> None:
    memory = store.memory
    scope_id = huge("tenant")
    r = await stored_or_refused(store, lambda: memory.add("small text", user_id=scope_id, infer=False))
    if r is None:
        with pytest.raises(ValidationError):  # refused as a scope id: refused everywhere
            await memory.get_all(user_id=scope_id)
        return
    mid = r["results"][0]["id"]
    assert (await memory.get(mid))["user_id"] == scope_id
    assert [x["id"] for x in (await memory.get_all(user_id=scope_id))["results"]] == [mid]
    assert [h["id"] for h in (await memory.search("small text", user_id=scope_id))["results"]] == [mid]
    await memory.delete_all(user_id=scope_id)
    assert (await memory.get_all(user_id=scope_id))["results"] == []


async def test_ten_megabyte_query_and_filters_are_answered(store: Store) -> None:
    memory, text = store.memory, huge("gamma")
    for make in (lambda: memory.search(text, user_id="alice"),
                 lambda: memory.get_all(user_id="alice", filters={"k": text}),
                 lambda: memory.get_all(user_id="alice", filters={text: "v"}),
                 lambda: memory.get_all(user_id="alice", filters={"k": {"in": [text, "x"]}}),
                 lambda: memory.search("tea", user_id="alice", filters={"k": {"contains": text}})):
        result = await store.read_only("huge", make)
        assert not isinstance(result, BaseException), result
        assert all(i.get("user_id") == "alice" for i in result["results"])


# -- vectors from a bad embedder ---------------------------------------------------------

EITHER = (ValidationError, EmbeddingError)
#: What each malformed embedder answer must raise. spec/API.md: a wrong dimension and NaN
#: are ValidationError; other unusable vectors may be either error. "coercible" answers
#: (a list of lists of floats, numbers as strings) may also be converted and used.
VECTOR_KINDS: dict[str, Any] = {
    "nan": ValidationError, "too-long": ValidationError, "too-short": ValidationError,
    "inf": EITHER, "-inf": EITHER, "zeros": EITHER, "empty-rows": EITHER,
    "float64-huge": EITHER, "objects": EITHER, "none": EITHER,
    "one-dimensional": EITHER, "three-dimensional": EITHER,
    "extra-row": EITHER, "missing-row": EITHER,
    "python-list": "coercible", "strings": "coercible",
}


async def test_bad_vectors_are_refused(store: Store) -> None:
    """Each malformed embedder answer, in each call that embeds: the documented error and
    the store unchanged (or, for a coercible answer, the right vector used), and the store
    still working afterwards. Every failing combination is reported."""
    memory, problems = store.memory, []
    target = store.ids[1]
    calls = {
        "add": lambda: memory.add("a new memory", user_id="alice", infer=False),
        "add many": lambda: memory.add([{"role": "user", "content": "one"},
                                        {"role": "user", "content": "two"}],
                                       user_id="alice", infer=False),
        "search": lambda: memory.search("tea", user_id="alice"),
        "update": lambda: memory.update(target, "a new text"),
    }
    for kind, expected in VECTOR_KINDS.items():
        for name, call in calls.items():
            store.embedder.arm(kind)
            label = f"{kind} vectors in {name}"
            if expected != "coercible":
                names = "/".join(e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,)))
                problem = await store.check_refused("vector", f"{label} (expected {names})", call, expected)
                if problem:
                    problems.append(problem)
                continue
            TRIED["vector"] += 1
            before = await store.state()
            try:
                await call()
            except EITHER:
                if await store.state() != before:
                    problems.append(f"{label}: refused, but the store changed")
            except BaseException as err:  # noqa: BLE001
                problems.append(f"{label}: raised {type(err).__name__}: {err}")
    assert not problems, "\n".join(problems)
    # The store still works, and coerced vectors were the right ones: every memory's
    # exact text is its own best semantic match.
    for item in (await memory.get_all(user_id="alice", limit=1000))["results"]:
        hits = (await memory.search(item["memory"], user_id="alice", limit=50))["results"]
        assert item["id"] in {h["id"] for h in hits}


async def test_embedder_that_raises(store: Store) -> None:
    """A caller-supplied embedder that raises: nothing changes. (memlane passes the
    embedder's own exception through; its own embedders raise EmbeddingError.)"""
    for call in (lambda: store.memory.add("x", user_id="alice", infer=False),
                 lambda: store.memory.search("x", user_id="alice"),
                 lambda: store.memory.update(store.ids[1], "x")):
        store.embedder.arm("raises")
        await store.refused("vector", call, (RuntimeError, EmbeddingError))


# -- malformed arguments -------------------------------------------------------------------

def _gen() -> Any:
    yield {"role": "user", "content": "x"}


BAD_MESSAGES: list[Any] = [
    5, 1.5, None, True, b"bytes", bytearray(b"x"), ("a tuple",), {"a", "set"}, _gen(),
    ["a str in a list"], [None], [5], [["nested"]], [{"content": "no role"}],
    [{"role": 5, "content": "x"}], [{"role": "", "content": "x"}], [{"role": None, "content": "x"}],
    [{"role": "user"}], [{"role": "user", "content": None}], [{"role": "user", "content": 5}],
    [{"role": "user", "content": ["x"]}], [{"role": "user", "content": {"type": "text"}}],
    [{"role": "user", "content": b"x"}], [{"role": "user", "content": "x", "name": 5}],
    [{"role": "user", "content": "x", "name": ""}], [{"role": "user", "content": "x"}, "str"],
    {"role": "user"}, {"content": "x"}, {},
]
BAD_CALLS: list[tuple[str, Callable[[AsyncMemory, str], Awaitable[Any]]]] = [
    ("add no scope", lambda m, i: m.add("x", infer=False)),
    ("add empty user", lambda m, i: m.add("x", user_id="", infer=False)),
    ("add blank user", lambda m, i: m.add("x", user_id="   ", infer=False)),
    ("add float user", lambda m, i: m.add("x", user_id=1.5, infer=False)),
    ("add bool user", lambda m, i: m.add("x", user_id=True, infer=False)),
    ("add list user", lambda m, i: m.add("x", user_id=["alice"], infer=False)),
    ("add dict user", lambda m, i: m.add("x", user_id={"$ne": None}, infer=False)),
    ("add infer str", lambda m, i: m.add("x", user_id="alice", infer="false")),
    ("add infer None", lambda m, i: m.add("x", user_id="alice", infer=None)),
    ("add metadata list", lambda m, i: m.add("x", user_id="alice", metadata=[("k", 1)], infer=False)),
    ("add metadata str", lambda m, i: m.add("x", user_id="alice", metadata="{}", infer=False)),
    ("add metadata nan", lambda m, i: m.add("x", user_id="alice", metadata={"k": math.nan}, infer=False)),
    ("add metadata inf", lambda m, i: m.add("x", user_id="alice", metadata={"k": [math.inf]}, infer=False)),
    ("add metadata bytes", lambda m, i: m.add("x", user_id="alice", metadata={"k": b"v"}, infer=False)),
    ("add metadata set", lambda m, i: m.add("x", user_id="alice", metadata={"k": {1}}, infer=False)),
    ("add metadata object", lambda m, i: m.add("x", user_id="alice", metadata={"k": object()}, infer=False)),
    ("add metadata int key", lambda m, i: m.add("x", user_id="alice", metadata={1: "v"}, infer=False)),
    ("add memory_type", lambda m, i: m.add("x", user_id="alice", memory_type="semantic", infer=False)),
    ("add procedural without agent", lambda m, i: m.add("x", user_id="alice", memory_type="procedural_memory")),
    ("add prompt int", lambda m, i: m.add("x", user_id="alice", prompt=5)),
    ("search no scope", lambda m, i: m.search("x")),
    ("search empty", lambda m, i: m.search("", user_id="alice")),
    ("search blank", lambda m, i: m.search(" \n", user_id="alice")),
    ("search query int", lambda m, i: m.search(5, user_id="alice")),
    ("search query list", lambda m, i: m.search(["x"], user_id="alice")),
    ("search query None", lambda m, i: m.search(None, user_id="alice")),
    ("search limit 0", lambda m, i: m.search("x", user_id="alice", limit=0)),
    ("search limit -1", lambda m, i: m.search("x", user_id="alice", limit=-1)),
    ("search limit str", lambda m, i: m.search("x", user_id="alice", limit="5")),
    ("search limit float", lambda m, i: m.search("x", user_id="alice", limit=1.5)),
    ("search limit bool", lambda m, i: m.search("x", user_id="alice", limit=True)),
    ("search limit top_k disagree", lambda m, i: m.search("x", user_id="alice", limit=2, top_k=3)),
    ("search threshold -0.1", lambda m, i: m.search("x", user_id="alice", threshold=-0.1)),
    ("search threshold 1.1", lambda m, i: m.search("x", user_id="alice", threshold=1.1)),
    ("search threshold nan", lambda m, i: m.search("x", user_id="alice", threshold=math.nan)),
    ("search threshold str", lambda m, i: m.search("x", user_id="alice", threshold="0.5")),
    ("search rerank str", lambda m, i: m.search("x", user_id="alice", rerank="yes")),
    ("search filters list", lambda m, i: m.search("x", user_id="alice", filters=[{"k": "v"}])),
    ("search filters str", lambda m, i: m.search("x", user_id="alice", filters="k = 'v'")),
    ("search filters without scope", lambda m, i: m.search("x", filters={"OR": [{"user_id": "alice"}]})),
    ("get_all no scope", lambda m, i: m.get_all()),
    ("get_all limit 0", lambda m, i: m.get_all(user_id="alice", limit=0)),
    ("get_all filters str", lambda m, i: m.get_all(user_id="alice", filters="1=1")),
    ("update nothing", lambda m, i: m.update(i)),
    ("update empty text", lambda m, i: m.update(i, "")),
    ("update blank text", lambda m, i: m.update(i, "   ")),
    ("update int text", lambda m, i: m.update(i, 5)),
    ("update dict text", lambda m, i: m.update(i, {"text": "x"})),
    ("update data/text disagree", lambda m, i: m.update(i, "a", text="b")),
    ("update metadata list", lambda m, i: m.update(i, metadata=["k"])),
    ("update metadata scope", lambda m, i: m.update(i, "x", metadata={"run_id": "r"})),
    ("delete_all no scope", lambda m, i: m.delete_all()),
    ("delete_all empty", lambda m, i: m.delete_all(user_id="")),
    ("delete_all list", lambda m, i: m.delete_all(user_id=["alice", "bob"])),
    ("delete_all dict", lambda m, i: m.delete_all(user_id={"$ne": "x"})),
]


async def test_messages_of_the_wrong_type(store: Store) -> None:
    problems = []
    for messages in BAD_MESSAGES:
        problem = await store.check_refused(
            "argument", f"add(messages={messages!r:.60})",
            lambda m=messages: store.memory.add(m, user_id="alice", infer=False), ValidationError)
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


async def test_malformed_arguments(store: Store) -> None:
    problems = []
    for name, call in BAD_CALLS:
        problem = await store.check_refused(
            "argument", name, lambda call=call: call(store.memory, store.ids[1]), ValidationError)
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


# -- metadata that JSON cannot carry faithfully -------------------------------------------

BIG_INTS = [2**63, 2**64, 2**70, -(2**63) - 1, -(2**70), 10**30]


async def test_big_integers_in_metadata_round_trip_or_are_refused(store: Store) -> None:
    """Metadata is stored as given: an integer either comes back as the same integer or
    the call is refused with ValidationError (and the store is unchanged)."""
    problems = []
    for value in BIG_INTS:
        TRIED["metadata"] += 1
        before = await store.state()
        try:
            r = await store.memory.add("big number", user_id="alice", infer=False,
                                       metadata={"n": value})
        except ValidationError:
            if await store.state() != before:
                problems.append(f"{value}: refused, but the store changed")
            continue
        got = (await store.memory.get(r["results"][0]["id"]))["metadata"]["n"]
        if type(got) is not int or got != value:
            problems.append(f"metadata {{'n': {value}}} was stored but reads back as {got!r}")
    assert not problems, "\n".join(problems)
