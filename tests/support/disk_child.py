"""Child process for tests/test_disk_faults.py: writes to an embedded store while the disk
"fills up" (RLIMIT_FSIZE) or while its files are read-only, and reports every call.

``python -m tests.support.disk_child PLAN.json``; the plan (JSON) has ``path``, ``mode``
and mode-specific settings:

- ``mode="fsize"``: opens the store, makes ``warmup`` acknowledged writes, then lowers the
  soft RLIMIT_FSIZE to the largest store file's size + ``margin`` bytes (SIGXFSZ ignored,
  so a write past it fails with EFBIG instead of killing the process) and runs
  ``workers`` concurrent writers (add / add of several messages / update / delete, each
  on its own memories) until ``failures`` calls have failed. If ``recover`` is true it
  then raises the limit back and runs ``after`` more rounds, which must all succeed;
  if ``hold`` is true it prints ``{"ev": "holding"}`` and waits to be killed.
  With ``limit_before_open`` the limit is set before the store is opened (fresh store),
  so the open itself must fail; it is then lifted and the store opened again.
- ``mode="readonly"``: opens the store (whose files the parent made read-only), reads,
  tries each kind of write once, and reports.

Every call is reported as one JSON line, flushed: ``{"ev": "ack", ...}`` for an
acknowledged write (with what it did), ``{"ev": "fail", "type", "message", ...}`` for a
refused one, plus ``{"ev": "state", "items": [[id, text], ...]}`` (what the child's own
memlane answers) before closing and ``{"ev": "done"}`` at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import sys
from typing import Any

from memlane import AsyncMemory

from tests.support.det_embedder import DigestEmbedder

USERS = ["u0", "u1", "u2", "u3"]


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def config(path: str) -> dict[str, Any]:
    return {"vector_store": {"provider": "embedded", "config": {"path": path}}}


def store_files_size(path: str) -> int:
    return max((os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)), default=0)


async def call(kind: str, make: Any, **info: Any) -> Any:
    try:
        result = await make()
    except Exception as err:  # noqa: BLE001 - reported; the parent judges
        emit(ev="fail", op=kind, type=type(err).__name__, message=str(err), **info)
        return None
    return result


class Writer:
    """One writer task: sequential operations on its own memories."""

    def __init__(self, memory: AsyncMemory, w: int, seed: int, size: int) -> None:
        self.memory, self.w, self.size = memory, w, size
        self.rng = random.Random(seed * 7919 + w)
        self.own: dict[str, str] = {}
        self.n = 0

    def text(self, label: str) -> str:
        self.n += 1
        filler = "".join(self.rng.choice("abcdefgh ") for _ in range(self.size))
        return f"w{self.w} n{self.n} {label} {filler}"

    async def step(self) -> bool:
        """One operation; True when it was acknowledged."""
        roll = self.rng.random()
        user = USERS[self.w % len(USERS)]
        if self.own and roll < 0.25:
            mid = self.rng.choice(sorted(self.own))
            text = self.text("updated")
            ok = await call("update", lambda: self.memory.update(mid, text), id=mid, text=text)
            if ok is not None:
                emit(ev="ack", op="update", id=mid, text=text)
                self.own[mid] = text
            return ok is not None
        if self.own and roll < 0.35:
            mid = self.rng.choice(sorted(self.own))
            ok = await call("delete", lambda: self.memory.delete(mid), id=mid)
            if ok is not None:
                emit(ev="ack", op="delete", id=mid)
                del self.own[mid]
            return ok is not None
        texts = [self.text("added") for _ in range(3 if roll < 0.5 else 1)]
        messages = [{"role": "user", "content": t} for t in texts]
        result = await call("add", lambda: self.memory.add(messages, user_id=user, infer=False),
                            texts=texts)
        if result is None:
            return False
        ids = [r["id"] for r in result["results"]]
        emit(ev="ack", op="add", ids=ids, texts=texts, user_id=user)
        self.own.update(zip(ids, texts))
        return True


async def report_state(memory: AsyncMemory) -> None:
    items: list[list[str]] = []
    for user in USERS:
        for item in (await memory.get_all(user_id=user, limit=1_000_000))["results"]:
            items.append([item["id"], item["memory"]])
    emit(ev="state", items=items)


async def fsize(plan: dict[str, Any]) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    path = plan["path"]
    if plan.get("limit_before_open"):
        os.makedirs(path, exist_ok=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, (plan["margin"], hard))
        try:
            AsyncMemory(config(path), embedder=DigestEmbedder(32))
        except Exception as err:  # noqa: BLE001
            emit(ev="fail", op="open", type=type(err).__name__, message=str(err))
        else:
            emit(ev="opened_despite_full_disk")
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    memory = AsyncMemory(config(path), embedder=DigestEmbedder(32))
    emit(ev="opened")
    writers = [Writer(memory, w, plan["seed"], plan["size"]) for w in range(plan["workers"])]
    for _ in range(plan["warmup"]):
        assert all(await asyncio.gather(*(w.step() for w in writers)))
    limit = store_files_size(path) + plan["margin"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    emit(ev="limited", limit=limit)
    failures = rounds = 0
    while failures < plan["failures"]:
        rounds += 1
        if rounds > 2000:
            emit(ev="never_failed")
            break
        results = await asyncio.gather(*(w.step() for w in writers))
        failures += results.count(False)
    if plan.get("hold"):
        emit(ev="holding")
        await asyncio.sleep(3600)
    if plan.get("recover"):
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        emit(ev="recovered")
        for _ in range(plan["after"]):
            await asyncio.gather(*(w.step() for w in writers))
    await report_state(memory)
    await memory.close()
    emit(ev="done")


async def readonly(plan: dict[str, Any]) -> None:
    try:
        memory = AsyncMemory(config(plan["path"]), embedder=DigestEmbedder(32))
    except Exception as err:  # noqa: BLE001
        emit(ev="fail", op="open", type=type(err).__name__, message=str(err))
        emit(ev="done")
        return
    emit(ev="opened")
    await report_state(memory)
    some = (await memory.get_all(user_id=USERS[0], limit=1))["results"]
    target = some[0]["id"] if some else "no-such-id"
    writes = {
        "add": lambda: memory.add("read-only add", user_id=USERS[0], infer=False),
        "add_many": lambda: memory.add([{"role": "user", "content": "ro one"},
                                        {"role": "user", "content": "ro two"}],
                                       user_id=USERS[1], infer=False),
        "update": lambda: memory.update(target, "read-only update"),
        "delete": lambda: memory.delete(target),
        "delete_all": lambda: memory.delete_all(user_id=USERS[2]),
        "reset": lambda: memory.reset(),
    }
    for name, make in writes.items():
        if await call(name, make) is not None:
            emit(ev="ack", op=name)
    await report_state(memory)
    await memory.close()
    emit(ev="done")


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    asyncio.run({"fsize": fsize, "readonly": readonly}[plan["mode"]](plan))
