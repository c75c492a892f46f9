"""Heavy concurrency on one store: 200 concurrent async operations on one AsyncMemory and,
at the same time, a sync Memory (same path, so the same engine) driven from 8 threads.

Operations race on purpose (updates and deletes of the same memories, delete_all against
adds into the same scope). The only exception allowed is MemoryNotFoundError for an
operation on a memory a racing call deleted. Afterwards:

- no lost writes: every acknowledged add is live or was deleted by an acknowledged
  delete/delete_all; every acknowledged update is in the history;
- each memory's history is exactly its acknowledged operations (one ADD, one UPDATE per
  acknowledged update, one DELETE if deleted), each event chaining from the previous text;
- every live memory's last event is ADD/UPDATE with new_memory == its text, every deleted
  memory's last event is DELETE; operations refused with MemoryNotFoundError left no trace;
- what memlane answers equals the database's rows (read directly), and deleted
  memories are never returned.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory, Memory
from memlane.errors import MemoryNotFoundError

from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import memory_config, store_kind
from tests.support.store_dump import contents, db_file, integrity

SEED = 6_2026
USERS = ["u0", "u1", "u2", "u3"]
THREADS = 8
OPS_PER_THREAD = 25
ASYNC_OPS = 200


class Ledger:
    """Every call made and how it ended (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.added: dict[str, tuple[str, str]] = {}  # id -> (text, user)
        self.updated: dict[str, list[str]] = defaultdict(list)  # id -> acked new texts
        self.refused_updates: dict[str, list[str]] = defaultdict(list)
        self.refused: Counter[str] = Counter()  # id -> calls refused as not found
        self.deleted: Counter[str] = Counter()  # id -> acknowledged deletes
        self.scope_deletes: list[str] = []
        self.not_found = 0
        self.calls: Counter[str] = Counter()
        self.unexpected: list[BaseException] = []
        self.searched_after_delete: list[tuple[str, str, str]] = []

    def record(self, kind: str, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except MemoryNotFoundError:
            with self._lock:
                self.calls[kind + ":not-found"] += 1
                self.not_found += 1
            return MemoryNotFoundError
        except BaseException as err:  # noqa: BLE001 - collected, the test fails on it
            with self._lock:
                self.unexpected.append(err)
            return err
        with self._lock:
            self.calls[kind] += 1
        return result


async def arecord(ledger: Ledger, kind: str, make: Callable[[], Awaitable[Any]]) -> Any:
    try:
        result = await make()
    except MemoryNotFoundError:
        with ledger._lock:
            ledger.calls[kind + ":not-found"] += 1
            ledger.not_found += 1
        return MemoryNotFoundError
    except BaseException as err:  # noqa: BLE001
        with ledger._lock:
            ledger.unexpected.append(err)
        return err
    with ledger._lock:
        ledger.calls[kind] += 1
    return result


async def async_op(memory: AsyncMemory, ledger: Ledger, rng: random.Random, i: int,
                   targets: list[str]) -> None:
    roll = rng.random()
    if roll < 0.35:
        user = rng.choice(USERS + ["churn"])
        text = f"async add {i} for {user}"
        result = await arecord(ledger, "add", lambda: memory.add(text, user_id=user, infer=False))
        if isinstance(result, dict):
            [item] = result["results"]
            ledger.added[item["id"]] = (text, user)
    elif roll < 0.55:
        target = rng.choice(targets)
        text = f"async update {i} of {target[:8]}"
        result = await arecord(ledger, "update", lambda: memory.update(target, text))
        (ledger.updated if isinstance(result, dict) else ledger.refused_updates)[target].append(text)
        if not isinstance(result, dict):
            ledger.refused[target] += 1
    elif roll < 0.62:
        target = rng.choice(targets)
        result = await arecord(ledger, "delete", lambda: memory.delete(target))
        if isinstance(result, dict):
            ledger.deleted[target] += 1
        else:
            ledger.refused[target] += 1
    elif roll < 0.64:
        result = await arecord(ledger, "delete_all", lambda: memory.delete_all(user_id="churn"))
        if isinstance(result, dict):
            ledger.scope_deletes.append("churn")
    elif roll < 0.85:
        user = rng.choice(USERS)
        result = await arecord(ledger, "search", lambda: memory.search(
            f"seed memory {rng.randrange(40)}", user_id=user, limit=10))
        if isinstance(result, dict):
            assert all(h["user_id"] == user for h in result["results"])
    elif roll < 0.92:
        target = rng.choice(targets)
        if await arecord(ledger, "get", lambda: memory.get(target)) is MemoryNotFoundError:
            ledger.refused[target] += 1
        await arecord(ledger, "history", lambda: memory.history(target))
    else:
        # A chain on a memory nobody else knows: no call of it may be refused.
        user = "chain"
        text = f"chain {i} v0"
        result = await arecord(ledger, "add", lambda: memory.add(text, user_id=user, infer=False))
        if not isinstance(result, dict):
            return
        mid = result["results"][0]["id"]
        ledger.added[mid] = (text, user)
        for v in (1, 2):
            new = f"chain {i} v{v}"
            if isinstance(await arecord(ledger, "update", lambda new=new: memory.update(mid, new)), dict):
                ledger.updated[mid].append(new)
        if rng.random() < 0.5 and isinstance(
            await arecord(ledger, "delete", lambda: memory.delete(mid)), dict
        ):
            ledger.deleted[mid] += 1


def thread_ops(sync_memory: Memory, ledger: Ledger, seed: int, targets: list[str],
               start: threading.Barrier) -> None:
    try:
        _thread_ops(sync_memory, ledger, seed, targets, start)
    except BaseException as err:  # noqa: BLE001 - an assertion here fails the test
        with ledger._lock:
            ledger.unexpected.append(err)


def _thread_ops(sync_memory: Memory, ledger: Ledger, seed: int, targets: list[str],
                start: threading.Barrier) -> None:
    rng = random.Random(seed)
    start.wait()
    for i in range(OPS_PER_THREAD):
        roll = rng.random()
        if roll < 0.35:
            user = rng.choice(USERS + ["churn"])
            text = f"thread {seed} add {i} for {user}"
            result = ledger.record("add", lambda text=text, user=user: sync_memory.add(
                text, user_id=user, infer=False))
            if isinstance(result, dict):
                [item] = result["results"]
                with ledger._lock:
                    ledger.added[item["id"]] = (text, user)
        elif roll < 0.6:
            target = rng.choice(targets)
            text = f"thread {seed} update {i} of {target[:8]}"
            result = ledger.record("update", lambda target=target, text=text: sync_memory.update(
                target, text))
            with ledger._lock:
                (ledger.updated if isinstance(result, dict) else ledger.refused_updates)[
                    target].append(text)
                if not isinstance(result, dict):
                    ledger.refused[target] += 1
        elif roll < 0.66:
            target = rng.choice(targets)
            result = ledger.record("delete", lambda target=target: sync_memory.delete(target))
            with ledger._lock:
                if isinstance(result, dict):
                    ledger.deleted[target] += 1
                else:
                    ledger.refused[target] += 1
        elif roll < 0.9:
            user = rng.choice(USERS)
            result = ledger.record("search", lambda user=user: sync_memory.search(
                f"seed memory {rng.randrange(40)}", user_id=user, limit=5))
            if isinstance(result, dict):
                assert all(h["user_id"] == user for h in result["results"])
        else:
            user = rng.choice(USERS)
            ledger.record("get_all", lambda user=user: sync_memory.get_all(
                user_id=user, limit=1000))


def chained(events: list[dict[str, Any]]) -> bool:
    """Each event's old_memory is the previous event's new_memory."""
    return all(b["old_memory"] == a["new_memory"] for a, b in itertools.pairwise(events))


async def test_200_async_ops_and_8_threads_lose_nothing(
    tmp_path: Path, fake_server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    config = memory_config(tmp_path, fake_server.base_url)
    ledger = Ledger()
    async with AsyncMemory(config) as memory:
        seeds = []
        for n in range(40):
            user = USERS[n % len(USERS)]
            text = f"seed memory {n}"
            mid = (await memory.add(text, user_id=user, infer=False))["results"][0]["id"]
            ledger.added[mid] = (text, user)
            seeds.append(mid)
        targets = seeds[:32]  # the contended ones; the rest stay untouched

        sync_memory = Memory(config)  # same path: shares the engine with `memory`
        try:
            barrier = threading.Barrier(THREADS + 1)
            threads = [
                threading.Thread(target=thread_ops,
                                 args=(sync_memory, ledger, SEED + t, targets, barrier))
                for t in range(THREADS)
            ]
            for t in threads:
                t.start()
            barrier.wait()
            await asyncio.gather(*(
                async_op(memory, ledger, random.Random(rng.random()), i, targets)
                for i in range(ASYNC_OPS)
            ))
            for t in threads:
                await asyncio.to_thread(t.join, 120)
                assert not t.is_alive()
        finally:
            sync_memory.close()

        assert ledger.unexpected == [], ledger.unexpected[:3]

        live: dict[str, dict[str, Any]] = {}
        for user in USERS + ["churn", "chain"]:
            for item in (await memory.get_all(user_id=user, limit=100_000))["results"]:
                live[item["id"]] = item
        histories = dict(zip(ledger.added, await asyncio.gather(
            *(memory.history(mid) for mid in ledger.added))))

        lost: list[str] = []
        for mid, (text, user) in ledger.added.items():
            events = histories[mid]
            kinds = [e["event"] for e in events]
            deletes = ledger.deleted[mid]
            assert deletes <= 1, f"{mid} was deleted {deletes} times"
            scope_deleted = user == "churn" and kinds[-1:] == ["DELETE"] and not deletes
            assert kinds[0] == "ADD" and events[0]["new_memory"] == text, (mid, events)
            assert chained(events), (mid, events)
            assert sorted(e["new_memory"] for e in events if e["event"] == "UPDATE") == sorted(
                ledger.updated[mid]), (mid, events, ledger.updated[mid])
            for refused in ledger.refused_updates[mid]:
                assert all(refused not in (e["new_memory"], e["old_memory"]) for e in events)
            if scope_deleted:
                assert ledger.scope_deletes, f"{mid} has a DELETE but no delete_all succeeded"
            if deletes or scope_deleted:
                assert kinds.count("DELETE") == 1 and kinds[-1] == "DELETE", (mid, kinds)
                if mid in live:
                    lost.append(f"deleted {mid} is still live")
                with pytest.raises(MemoryNotFoundError):
                    await memory.get(mid)
                # An update acknowledged before the delete is in the history; none after.
                assert kinds == ["ADD"] + ["UPDATE"] * len(ledger.updated[mid]) + ["DELETE"]
            else:
                assert "DELETE" not in kinds, (mid, kinds)
                assert kinds == ["ADD"] + ["UPDATE"] * len(ledger.updated[mid])
                if mid not in live:
                    lost.append(f"acknowledged memory {mid} is gone")
                    continue
                assert live[mid]["memory"] == events[-1]["new_memory"], (mid, live[mid], events)
                assert live[mid]["user_id"] == user
        assert set(live) <= set(ledger.added), "memories nobody added"
        assert lost == []
        # "Not found" only ever answered for a memory that a racing call deleted.
        wrongly_refused = [mid for mid in ledger.refused if mid in live]
        assert not wrongly_refused, f"MemoryNotFoundError for live memories: {wrongly_refused}"
        assert sum(ledger.refused.values()) == ledger.not_found

        # Deleted memories are not returned by search (their last text, their scope).
        for mid in [m for m in ledger.added if m not in live][:40]:
            text, user = ledger.added[mid]
            last = histories[mid][-1]["old_memory"]
            hits = (await memory.search(last, user_id=user, limit=100))["results"]
            assert mid not in {h["id"] for h in hits}

        # What memlane answers is what the database holds (read directly).
        rows = {r["id"]: r for r in contents(config["vector_store"])["memories"]}
        assert set(rows) == set(live)
        assert all(rows[mid]["memory"] == item["memory"] for mid, item in live.items())
    if store_kind() == "embedded":
        assert integrity(db_file(tmp_path)) == ["ok"]
    with capsys.disabled():
        print(f"\n[concurrency] calls: {dict(sorted(ledger.calls.items()))}; "
              f"live {len(live)}, deleted {len(ledger.added) - len(live)}")
    assert ledger.calls["add"] > 50 and ledger.calls["update"] > 20
    assert ledger.calls["delete"] > 5 and ledger.calls["search"] > 20
