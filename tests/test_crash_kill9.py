"""Nothing acknowledged is ever lost: SIGKILL a writing process, reopen, check everything.

A child process (tests/support/crash_child.py) runs 32 concurrent writers (add, atomic
multi-message add, update, delete) on one embedded store and prints every operation it
starts and every one that was acknowledged. The test SIGKILLs it at seeded random
moments, several rounds on the same store (one round dies while the store is opening),
and after each kill checks, on the SQLite file itself and through a reopened memlane:

- the file passes ``PRAGMA integrity_check``;
- every acknowledged add is there with its text, scope, metadata, exact vector and ADD
  history row, and searching its exact text finds it with score ~1 (semantic mode);
- every acknowledged update is visible, every acknowledged delete stays deleted, and the
  history rows of every memory are exactly its acknowledged operations;
- the only differences allowed are the (at most one per writer) operations in flight
  when the kill landed, each applied whole or not at all;
- the reopened in-memory state answers for exactly the rows in SQLite.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory

from tests.support.det_embedder import DigestEmbedder, digest_vector
from tests.support.store_dump import db_file, history_rows, integrity, memory_rows

REPO = Path(__file__).resolve().parent.parent
SEED = 20261128
ROUNDS = 5
WORKERS = 32
DIMS = 32
USERS = [f"user{i}" for i in range(8)]
AGENTS = [f"agent{i}" for i in range(3)]


class Child:
    """The writer process and the lines it printed (complete lines only)."""

    def __init__(self, plan_file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crash_child", str(plan_file)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[dict[str, Any]] = []
        self.seen = {"opening": threading.Event(), "ready": threading.Event()}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                break  # cut mid-line by the kill: never acknowledged
            line = json.loads(raw)
            self.lines.append(line)
            if line["ev"] in self.seen:
                self.seen[line["ev"]].set()

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.returncode
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")


class Model:
    """What the store must hold: acknowledged operations, replayed."""

    def __init__(self) -> None:
        self.live: dict[str, dict[str, Any]] = {}  # id -> text, scope, metadata, owner
        self.deleted: set[str] = set()
        self.events: dict[str, list[tuple[str, str | None, str | None]]] = {}
        self.acked_writes = 0
        self.lost: list[str] = []

    def add(self, mid: str, text: str, scope: dict[str, str], meta: dict[str, Any]) -> None:
        assert mid not in self.live and mid not in self.deleted
        self.live[mid] = {"text": text, "scope": scope, "metadata": meta}
        self.events[mid] = [("ADD", None, text)]

    def update(self, mid: str, text: str) -> None:
        old = self.live[mid]["text"]
        self.live[mid]["text"] = text
        self.events[mid].append(("UPDATE", old, text))

    def delete(self, mid: str) -> None:
        old = self.live.pop(mid)["text"]
        self.deleted.add(mid)
        self.events[mid].append(("DELETE", old, None))

    def apply_acks(self, lines: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """Replays the acks; returns each worker's operation still in flight."""
        pending: dict[int, dict[str, Any]] = {}
        for line in lines:
            if line["ev"] == "error":
                pytest.fail(f"the child's call failed: {line}")
            if line["ev"] == "begin":
                pending[line["w"]] = line
                continue
            if line["ev"] != "ack":
                continue
            pending.pop(line["w"], None)
            self.acked_writes += 1
            if line["op"] in ("add", "add_many"):
                assert len(line["ids"]) == len(line["texts"])
                for mid, text in zip(line["ids"], line["texts"]):
                    self.add(mid, text, line["scope"], line["metadata"])
            elif line["op"] == "update":
                self.update(line["id"], line["text"])
            else:
                self.delete(line["id"])
        return pending


def plan_for(model: Model, path: Path, round_no: int) -> dict[str, Any]:
    pool: dict[str, list[list[str]]] = {}
    for i, mid in enumerate(sorted(model.live)):
        pool.setdefault(str(i % WORKERS), []).append([mid, model.live[mid]["text"]])
    return {"path": str(path), "round": round_no, "seed": SEED, "workers": WORKERS,
            "dims": DIMS, "pool": pool}


def settle_in_flight(model: Model, pending: dict[int, dict[str, Any]],
                     rows: dict[str, dict[str, Any]]) -> int:
    """Each operation in flight at the kill was applied whole or not at all; adopt the
    ones that were (they are now facts of the store). Returns how many were applied."""
    applied = 0
    known = set(model.live) | model.deleted
    phantoms = {rows[mid]["memory"]: mid for mid in rows if mid not in known}
    for op in pending.values():
        if op["op"] in ("add", "add_many"):
            present = [t in phantoms for t in op["texts"]]
            assert all(present) or not any(present), f"a multi-message add was torn: {op}"
            if all(present):
                applied += 1
                for text in op["texts"]:
                    model.add(phantoms.pop(text), text, op["scope"], op["metadata"])
        elif op["op"] == "update":
            row = rows.get(op["id"])
            assert row is not None, f"memory {op['id']} vanished during an update"
            assert row["memory"] in (model.live[op["id"]]["text"], op["text"]), (op, row)
            if row["memory"] == op["text"]:
                applied += 1
                model.update(op["id"], op["text"])
        else:  # delete
            if op["id"] not in rows:
                applied += 1
                model.delete(op["id"])
    assert not phantoms, f"rows nobody wrote: {sorted(phantoms.items())[:5]}"
    return applied


def check_disk(model: Model, db: Path, rows: dict[str, dict[str, Any]]) -> None:
    """The SQLite file holds exactly the model: rows, vectors, history."""
    for mid in model.deleted:
        if mid in rows:
            model.lost.append(f"acknowledged delete of {mid} undone")
    for mid, want in model.live.items():
        row = rows.get(mid)
        if row is None:
            model.lost.append(f"acknowledged memory {mid} ({want['text']!r}) missing")
            continue
        if row["memory"] != want["text"]:
            model.lost.append(f"{mid}: {row['memory']!r} instead of {want['text']!r}")
            continue
        for key in ("user_id", "agent_id", "run_id"):
            assert row[key] == want["scope"].get(key), (mid, key, row[key], want["scope"])
        assert json.loads(row["metadata"]) == want["metadata"]
        expected_vector = digest_vector(want["text"], DIMS).astype("<f4").tobytes()
        assert row["embedding"] == expected_vector, f"vector of {mid} is not its text's"
    assert not model.lost, f"{len(model.lost)} acknowledged writes lost: {model.lost[:10]}"
    assert set(rows) == set(model.live)
    history = history_rows(db)
    assert set(history) == set(model.events), "history rows for unknown or missing memories"
    for mid, want in model.events.items():
        got = [(h["event"], h["old_memory"], h["new_memory"]) for h in history[mid]]
        assert got == want, f"history of {mid}: {got} != {want}"
        assert [bool(h["is_deleted"]) for h in history[mid]] == [e == "DELETE" for e, _, _ in want]


async def check_reopened(model: Model, path: Path, rows: dict[str, dict[str, Any]],
                         touched: set[str]) -> None:
    """A reopened memlane answers for exactly the SQLite rows; searches find new texts."""
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(path)}},
              "search": {"mode": "semantic"}}
    async with AsyncMemory(config, embedder=DigestEmbedder(DIMS)) as memory:
        seen: dict[str, dict[str, Any]] = {}
        for user in USERS:
            for item in (await memory.get_all(user_id=user, limit=1_000_000))["results"]:
                assert item["user_id"] == user
                seen[item["id"]] = item
        assert set(seen) == set(rows), "in-memory state differs from SQLite"
        for agent in AGENTS:
            by_agent = (await memory.get_all(agent_id=agent, limit=1_000_000))["results"]
            assert {i["id"] for i in by_agent} == {
                mid for mid, r in rows.items() if r["agent_id"] == agent}
        for mid, item in seen.items():
            assert item["memory"] == rows[mid]["memory"]
            assert item["metadata"] == json.loads(rows[mid]["metadata"])
        for mid in sorted(touched & set(model.live)):
            want = model.live[mid]
            assert (await memory.get(mid))["memory"] == want["text"]
            hits = (await memory.search(want["text"], **want["scope"], limit=1))["results"]
            assert hits and hits[0]["id"] == mid, (mid, hits[:1])
            assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
        for mid in sorted(touched & model.deleted):
            with pytest.raises(KeyError):
                await memory.get(mid)
            events = await memory.history(mid)
            assert events[-1]["event"] == "DELETE"


async def test_kill9_loses_no_acknowledged_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    store = tmp_path / "store"
    db = db_file(store)
    model = Model()
    kills = 0
    in_flight_applied = 0
    started = time.monotonic()

    def summary() -> str:
        return (f"\n[kill -9] writes acknowledged: {model.acked_writes}, kills: {kills}, "
                f"writes lost: {len(model.lost)}, in-flight writes found applied: "
                f"{in_flight_applied}, memories live: {len(model.live)}, deleted: "
                f"{len(model.deleted)}, {time.monotonic() - started:.1f}s")

    try:
        for round_no in range(ROUNDS):
            plan_file = tmp_path / f"plan{round_no}.json"
            plan_file.write_text(json.dumps(plan_for(model, store, round_no)))
            before = set(model.live) | model.deleted
            acked_before = model.acked_writes
            child = Child(plan_file)
            if round_no == 1:
                # Die while the store is opening (its rows are being loaded).
                assert child.seen["opening"].wait(30), "the child never started"
                await asyncio.sleep(rng.uniform(0.0, 0.02))
            else:
                assert child.seen["ready"].wait(30), "the child never opened the store"
                await asyncio.sleep(rng.uniform(0.15, 0.9))
            stderr = child.kill()
            kills += 1
            assert "Traceback" not in stderr, stderr

            if db.exists():
                assert integrity(db) == ["ok"]
            pending = model.apply_acks(child.lines)
            rows = memory_rows(db) if db.exists() else {}
            in_flight_applied += settle_in_flight(model, pending, rows)
            check_disk(model, db, rows)
            touched = (set(model.live) | model.deleted) - before
            touched |= {op["id"] for op in pending.values() if "id" in op}
            touched |= {line["id"] for line in child.lines if line["ev"] == "ack" and "id" in line}
            await check_reopened(model, store, rows, touched)
            if round_no != 1:
                assert model.acked_writes > acked_before, "the kill landed before any write"
        assert integrity(db) == ["ok"]
    finally:
        with capsys.disabled():
            print(summary())
    assert kills == ROUNDS
    assert model.acked_writes > 500
    assert len(model.lost) == 0
