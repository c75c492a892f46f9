"""Child process for tests/test_crash_kill9.py: writes to an embedded store until killed.

Run as ``python -m tests.support.crash_child PLAN.json``. The plan (JSON) gives:
``path`` (store folder), ``round``, ``seed``, ``workers``, ``dims`` and ``pool``: for each
worker index (as a string) the ``[id, text]`` pairs of memories that earlier rounds left
alive and that this worker may update or delete.

``workers`` tasks run concurrently on one AsyncMemory (deterministic in-process embedder,
semantic search). Each loops forever, one operation at a time: ``add`` (one message),
``add_many`` (2-3 messages in one call: one atomic job), ``update`` (new text of one of its
memories) or ``delete``. A worker only touches its own memories, so at most one operation
per memory is in flight. Before each call it prints a ``begin`` line and after the call
returns an ``ack`` line (JSON, one per line, flushed at once), so the parent knows exactly
which writes were acknowledged when it sends SIGKILL, and which single one per worker may
have been in flight.

Lines: ``{"ev": "opening"}`` before the store is opened, ``{"ev": "ready"}`` once it is,
then ``{"ev": "begin"|"ack", "w", "op", ...}``; an ``error`` line if a call fails (which
the parent treats as a test failure).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from typing import Any

from memlane import AsyncMemory

from tests.support.det_embedder import DigestEmbedder


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def scope_of(worker: int, round_no: int, k: int) -> dict[str, str]:
    scope = {"user_id": f"user{worker % 8}"}
    if worker % 2:
        scope["agent_id"] = f"agent{worker % 3}"
    if k % 4 == 0:
        scope["run_id"] = f"run{round_no}"
    return scope


async def worker(memory: AsyncMemory, w: int, plan: dict[str, Any]) -> None:
    round_no = plan["round"]
    rng = random.Random(plan["seed"] * 100_003 + round_no * 1_009 + w)
    pool: dict[str, str] = {mid: text for mid, text in plan["pool"].get(str(w), [])}
    k = 0
    while True:
        k += 1
        tag = f"r{round_no} w{w} n{k}"
        roll = rng.random()
        try:
            if pool and roll < 0.2:
                mid = rng.choice(sorted(pool))
                text = f"{tag} updated {rng.randrange(10**6)}"
                emit(ev="begin", w=w, op="update", id=mid, text=text)
                await memory.update(mid, text)
                emit(ev="ack", w=w, op="update", id=mid, text=text)
                pool[mid] = text
            elif pool and roll < 0.32:
                mid = rng.choice(sorted(pool))
                emit(ev="begin", w=w, op="delete", id=mid)
                await memory.delete(mid)
                emit(ev="ack", w=w, op="delete", id=mid)
                del pool[mid]
            elif roll < 0.42:
                texts = [f"{tag} part {j} of a batch" for j in range(rng.randint(2, 3))]
                scope = scope_of(w, round_no, k)
                meta = {"w": w, "k": k, "batch": True}
                emit(ev="begin", w=w, op="add_many", texts=texts, scope=scope, metadata=meta)
                result = await memory.add(
                    [{"role": "user", "content": t} for t in texts],
                    **scope, metadata=meta, infer=False,
                )
                ids = [r["id"] for r in result["results"]]
                emit(ev="ack", w=w, op="add_many", ids=ids, texts=texts, scope=scope, metadata=meta)
                pool.update(zip(ids, texts))
            else:
                text = f"{tag} note {rng.randrange(10**6)}"
                scope = scope_of(w, round_no, k)
                meta = {"w": w, "k": k}
                emit(ev="begin", w=w, op="add", texts=[text], scope=scope, metadata=meta)
                result = await memory.add(text, **scope, metadata=meta, infer=False)
                ids = [r["id"] for r in result["results"]]
                emit(ev="ack", w=w, op="add", ids=ids, texts=[text], scope=scope, metadata=meta)
                pool.update(zip(ids, [text]))
        except Exception as err:  # any failure is a test failure, reported to the parent
            emit(ev="error", w=w, error=f"{type(err).__name__}: {err}")
            raise


async def main(plan: dict[str, Any]) -> None:
    emit(ev="opening")
    config = {
        "vector_store": {"provider": "embedded", "config": {"path": plan["path"]}},
        "search": {"mode": "semantic"},
    }
    memory = AsyncMemory(config, embedder=DigestEmbedder(plan["dims"]))
    emit(ev="ready")
    await asyncio.gather(*(worker(memory, w, plan) for w in range(plan["workers"])))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        asyncio.run(main(json.load(f)))
