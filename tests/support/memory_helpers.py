"""Helpers for the AsyncMemory/Memory contract tests (spec/API.md).

Building configs that point the real OpenAI embedder at the fake server, checking the
exact shape of result dicts, and snapshotting everything a store holds so that a test
can prove a failed call changed nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from memlane.types import AddResultItem, HistoryEvent, MemoryItem

__all__ = [
    "DIMS",
    "HISTORY_KEYS",
    "ITEM_KEYS",
    "SNAPSHOT_SCOPES",
    "check_add_results",
    "check_history",
    "check_item",
    "expect_unchanged",
    "memory_config",
    "snapshot",
    "store_kind",
    "use_store",
    "vector_store_config",
]

#: Vector width the contract tests use (small keeps the fake server fast).
DIMS = 64

#: Keys every memory item has; scope ids, actor_id, role and score are added when set.
ITEM_KEYS = frozenset({"id", "memory", "hash", "metadata", "created_at", "updated_at"})
HISTORY_KEYS = frozenset(
    {
        "id",
        "memory_id",
        "old_memory",
        "new_memory",
        "event",
        "created_at",
        "updated_at",
        "is_deleted",
        "actor_id",
        "role",
    }
)


#: The store the contract tests run on: "embedded", or "postgres" with its DSN. The
#: autouse ``store_kind`` fixture of tests/conftest.py sets it for each test.
_STORE: dict[str, str | None] = {"kind": "embedded", "dsn": None}


def use_store(kind: str, dsn: str | None = None) -> None:
    """Makes :func:`memory_config` build configs for ``kind`` ("embedded" or "postgres")."""
    if kind not in ("embedded", "postgres") or (kind == "postgres" and not dsn):
        raise ValueError(f"unknown store {kind!r} (postgres needs a dsn)")
    _STORE.update(kind=kind, dsn=dsn)


def store_kind() -> str:
    """The store :func:`memory_config` currently builds configs for."""
    return str(_STORE["kind"])


def vector_store_config(path: Path | str) -> dict[str, Any]:
    """The ``vector_store`` section for the current store kind.

    Embedded: a store in the folder ``path``. Postgres: a collection named after ``path``,
    so each test (each tmp_path) gets its own tables and the same path means the same
    collection (reopening works as with a file).
    """
    if _STORE["kind"] == "postgres":
        digest = hashlib.blake2b(str(Path(path).resolve()).encode(), digest_size=8).hexdigest()
        return {"provider": "postgres", "config": {"dsn": _STORE["dsn"], "collection": f"t_{digest}"}}
    return {"provider": "embedded", "config": {"path": str(path)}}


def memory_config(
    path: Path | str, base_url: str, dims: int = DIMS, *, llm: bool = False
) -> dict[str, Any]:
    """Mem0-shaped config: the current store (see :func:`vector_store_config`) for
    ``path``, openai embedder at ``base_url``.

    With ``llm=True`` the LLM is the fake server too (no retries: a chat request the test
    did not script fails at once with HTTP 500), so nothing depends on OPENAI_* in the
    environment; without it the LLM section is left to its defaults.
    """
    config: dict[str, Any] = {
        "vector_store": vector_store_config(path),
        "embedder": {
            "provider": "openai",
            "config": {"base_url": base_url, "api_key": "test", "embedding_dims": dims},
        },
    }
    if llm:
        config["llm"] = {
            "provider": "openai",
            "config": {"base_url": base_url, "api_key": "test", "max_retries": 0},
        }
    return config


def is_utc_iso(value: str) -> bool:
    """True when ``value`` is an ISO-8601 timestamp with a zero UTC offset."""
    parsed = datetime.fromisoformat(value)
    return parsed.utcoffset() == timedelta(0)


def check_item(
    item: dict[str, Any],
    *,
    scope: dict[str, str],
    role: str | None = "user",
    actor_id: str | None = None,
    score: bool = False,
) -> None:
    """Asserts ``item`` is a memory item with exactly the keys the contract allows."""
    msgspec.convert(item, MemoryItem)
    expected = set(ITEM_KEYS) | set(scope)
    if role is not None:
        expected.add("role")
    if actor_id is not None:
        expected.add("actor_id")
    if score:
        expected.add("score")
    assert set(item) == expected, item
    for key, value in scope.items():
        assert item[key] == value
    assert item.get("role") == role
    assert item.get("actor_id") == actor_id
    assert item["hash"] == hashlib.md5(item["memory"].encode("utf-8")).hexdigest()
    assert is_utc_iso(item["created_at"]) and is_utc_iso(item["updated_at"])
    assert item["updated_at"] >= item["created_at"]
    assert item["metadata"] is None or (isinstance(item["metadata"], dict) and item["metadata"])
    if score:
        assert isinstance(item["score"], float) and 0.0 <= item["score"] <= 1.0


def check_add_results(result: dict[str, Any], texts: list[str]) -> list[str]:
    """Asserts ``add``'s result is one ADD per text, in order; returns the ids."""
    assert set(result) == {"results"}
    items = result["results"]
    assert [r["memory"] for r in items] == texts
    for r in items:
        msgspec.convert(r, AddResultItem)
        assert set(r) == {"id", "memory", "event"}
        assert r["event"] == "ADD"
    ids = [r["id"] for r in items]
    assert len(set(ids)) == len(ids)
    return ids


def check_history(events: list[dict[str, Any]], memory_id: str) -> list[str]:
    """Asserts every event is well formed and about ``memory_id``; returns the event names."""
    for event in events:
        msgspec.convert(event, HistoryEvent)
        assert set(event) == HISTORY_KEYS
        assert event["memory_id"] == memory_id
    return [e["event"] for e in events]


async def snapshot(memory: Any, scopes: list[dict[str, str]], ids: list[str]) -> dict[str, Any]:
    """Everything observable in a store: each scope's memories and each id's history."""
    state: dict[str, Any] = {}
    for scope in scopes:
        key = "scope:" + ",".join(f"{k}={v}" for k, v in sorted(scope.items()))
        state[key] = await memory.get_all(**scope, limit=10_000)
    for memory_id in ids:
        state["history:" + memory_id] = await memory.history(memory_id)
    return state


#: The scopes the error tests' stores use; snapshots cover each of them.
SNAPSHOT_SCOPES = [{"user_id": "alice"}, {"user_id": "bob"}, {"agent_id": "a1"}, {"run_id": "r1"}]


async def expect_unchanged(
    memory: Any, ids: dict[str, str], call: Any, exc: type[BaseException], match: str | None
) -> BaseException:
    """Runs ``call(memory, ids)`` expecting ``exc`` (message matching ``match``), and
    asserts that nothing stored changed: every scope's memories and every id's history."""
    import pytest

    before = await snapshot(memory, SNAPSHOT_SCOPES, list(ids.values()))
    with pytest.raises(exc, match=match or None) as info:
        await call(memory, ids)
    assert await snapshot(memory, SNAPSHOT_SCOPES, list(ids.values())) == before
    return info.value
