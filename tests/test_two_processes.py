"""Two processes, one embedded store path: the second gets a clear StoreError at open
while the first holds it; once the first is gone (closed, or killed with SIGKILL) the path
is usable again and everything the first acknowledged is there.

The processes are real ones (tests/support/store_holder.py), talking over pipes.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from memlane import AsyncMemory
from memlane.errors import StoreError

from tests.support.det_embedder import DigestEmbedder
from tests.support.store_dump import db_file, integrity, memory_rows

REPO = Path(__file__).resolve().parent.parent
DIMS = 32
IN_USE = "in use by another process"


class Holder:
    """A store_holder child process."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "tests.support.store_holder", str(path), str(DIMS)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.acked: dict[str, str] = {}

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.endswith("\n"):
                self._lines.put(json.loads(raw))
        self._lines.put(None)

    def next(self, timeout: float = 30) -> dict[str, Any]:
        line = self._lines.get(timeout=timeout)
        assert line is not None, f"the child exited: {self.stderr()}"
        return line

    def send(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.next()

    def add(self, text: str) -> str:
        answer = self.send(f"add {text}")
        assert answer["ev"] == "ack", answer
        self.acked[answer["id"]] = text
        return answer["id"]

    def close(self) -> None:
        assert self.send("close") == {"ev": "closed"}
        code = self.proc.wait(timeout=30)
        assert code == 0, (f"the holder closed its store but exited with status {code} "
                           f"(see test_a_process_exits_cleanly_after_close): {self.stderr()[-500:]}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def holders() -> Any:
    started: list[Holder] = []

    def start(path: Path) -> Holder:
        holder = Holder(path)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        holder.stop()


def files_of(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


async def stored_by_holder(path: Path) -> dict[str, str]:
    """Opens the store in this process: the holder's memories, by id."""
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(path)}}}
    async with AsyncMemory(config, embedder=DigestEmbedder(DIMS)) as memory:
        items = (await memory.get_all(user_id="holder", limit=1_000_000))["results"]
    return {i["id"]: i["memory"] for i in items}


def test_second_process_is_refused_while_the_first_holds_the_store(tmp_path: Path, holders: Any) -> None:
    store = tmp_path / "store"
    first = holders(store)
    assert first.next()["ev"] == "ready"
    for i in range(40):
        first.add(f"first process memory {i}")
    before = files_of(store)

    # The same path, and the same folder reached through a symlink and through "..".
    (tmp_path / "alias").symlink_to(store)
    spellings = [store, tmp_path / "alias", store / ".." / "store"]
    for path in spellings:
        second = holders(path)
        answer = second.next()
        assert answer["ev"] == "open_failed", answer
        assert answer["type"] == "StoreError"
        assert IN_USE in answer["message"] and str(db_file(store)) in answer["message"], answer
        assert 2.0 < answer["elapsed"] < 15, answer  # it waited ~3 s, then gave up
        assert second.proc.wait(timeout=30) == 3
    # The refused opens neither touched the files nor disturbed the first process.
    assert files_of(store) == before
    for i in range(10):
        first.add(f"first process memory after the refusals {i}")
    listed = first.send("list")
    assert dict(map(tuple, listed["items"])) == first.acked

    first.close()
    assert integrity(db_file(store)) == ["ok"]
    # Usable again, from another process and from this one.
    third = holders(store)
    ready = third.next()
    assert ready["ev"] == "ready" and ready["count"] == 50, ready
    assert ready["elapsed"] < 2.0, "the lock of a cleanly closed store was not released at once"
    third.close()


async def test_this_process_is_refused_too_and_gets_the_store_after_close(tmp_path: Path, holders: Any) -> None:
    store = tmp_path / "store"
    first = holders(store)
    assert first.next()["ev"] == "ready"
    first.add("held by the child")
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(store)}}}
    started = time.monotonic()
    with pytest.raises(StoreError, match=IN_USE):
        AsyncMemory(config, embedder=DigestEmbedder(DIMS))
    assert time.monotonic() - started < 15
    first.close()
    assert await stored_by_holder(store) == first.acked


async def test_store_is_usable_after_the_holder_is_killed(tmp_path: Path, holders: Any) -> None:
    store = tmp_path / "store"
    acked: dict[str, str] = {}
    for generation in range(3):
        holder = holders(store)
        ready = holder.next()
        assert ready["ev"] == "ready", ready
        # Not the 3 s wait: SIGKILL released the previous holder's lock.
        assert ready["elapsed"] < 2.0, ready
        assert ready["count"] == len(acked)
        assert dict(map(tuple, holder.send("list")["items"])) == acked
        for i in range(25):
            holder.add(f"generation {generation} memory {i}")
        acked.update(holder.acked)
        holder.kill9()
        assert integrity(db_file(store)) == ["ok"]
        rows = memory_rows(db_file(store))
        assert {mid: r["memory"] for mid, r in rows.items()} == acked
    assert await stored_by_holder(store) == acked


EXIT_AFTER_CLOSE = """
import asyncio, sys
from memlane import AsyncMemory
from tests.support.det_embedder import DigestEmbedder

async def main():
    config = {"vector_store": {"provider": "embedded", "config": {"path": sys.argv[1]}}}
    memory = AsyncMemory(config, embedder=DigestEmbedder(8))
    await memory.add("one memory", user_id="u", infer=False)
    await memory.search("one memory", user_id="u")
    await memory.close()

asyncio.run(main())
"""


def test_a_process_exits_cleanly_after_close(tmp_path: Path) -> None:
    """A program that uses memlane, closes it and returns must exit with status 0 —
    every time, not only when the interpreter's shutdown wins a race with memlane's
    worker threads. (Run many times: the failure is intermittent.)"""
    runs, lanes = 20, 2
    failures = []
    for start in range(0, runs, lanes):
        procs = [
            subprocess.Popen(
                [sys.executable, "-X", "faulthandler", "-c", EXIT_AFTER_CLOSE, str(tmp_path / f"s{i}")],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(start, start + lanes)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failures.append(f"exit status {proc.returncode}: {err.strip()[:120]!r}")
    assert not failures, f"{len(failures)} of {runs} runs did not exit cleanly:\n" + "\n".join(failures)


def test_symlinked_store_file_is_not_opened_twice(tmp_path: Path, holders: Any) -> None:
    """A second folder whose memlane.db is a symlink to the first store's file.

    The contract allows two outcomes (spec/API.md, "Construction and lifecycle"): both
    processes work correctly (each sees the other's writes), or the second gets a clear
    error at open. Seeing a stale copy of the store is neither.
    """
    store = tmp_path / "store"
    first = holders(store)
    assert first.next()["ev"] == "ready"
    first.add("written by the first process")
    other = tmp_path / "other"
    other.mkdir()
    os.symlink(db_file(store), db_file(other))
    second = holders(other)
    answer = second.next()
    if answer["ev"] == "open_failed":
        assert answer["type"] == "StoreError" and IN_USE in answer["message"], answer
        return
    assert answer["ev"] == "ready"
    assert answer["count"] == 1
    second.add("written by the second process")
    both = {**first.acked, **second.acked}
    assert dict(map(tuple, first.send("list")["items"])) == both, (
        "two processes opened one store file (through a symlink) and the first one does "
        "not see the second one's writes"
    )
    assert dict(map(tuple, second.send("list")["items"])) == both
