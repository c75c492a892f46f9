"""Child process for the multi-process tests: opens an embedded store and obeys stdin.

``python -m tests.support.store_holder PATH [DIMS]``

Prints one JSON line per event, flushed at once:

- ``{"ev": "open_failed", "type", "message", "elapsed"}`` and exits 3, when the store
  cannot be opened;
- ``{"ev": "ready", "elapsed", "count"}`` once it is open (``count`` = memories of
  ``user_id="holder"``);

then reads commands, one per line:

- ``add TEXT``: adds TEXT for ``user_id="holder"``, prints ``{"ev": "ack", "id", "text"}``
  (or ``{"ev": "error", "type", "message"}``);
- ``list``: prints ``{"ev": "list", "items": [[id, text], ...]}`` (user ``holder``);
- ``close``: closes the memory, prints ``{"ev": "closed"}`` and exits 0.

EOF on stdin exits without closing (like a crash that still lets the OS clean up).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from memlane import AsyncMemory

from tests.support.det_embedder import DigestEmbedder


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def main(path: str, dims: int) -> int:
    config = {"vector_store": {"provider": "embedded", "config": {"path": path}}}
    started = time.monotonic()
    try:
        memory = AsyncMemory(config, embedder=DigestEmbedder(dims))
    except Exception as err:  # noqa: BLE001 - reported to the parent
        emit(ev="open_failed", type=type(err).__name__, message=str(err),
             elapsed=time.monotonic() - started)
        return 3
    count = len((await memory.get_all(user_id="holder", limit=1_000_000))["results"])
    emit(ev="ready", elapsed=time.monotonic() - started, count=count)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return 0
        command, _, arg = line.rstrip("\n").partition(" ")
        try:
            if command == "add":
                result = await memory.add(arg, user_id="holder", infer=False)
                emit(ev="ack", id=result["results"][0]["id"], text=arg)
            elif command == "list":
                items = (await memory.get_all(user_id="holder", limit=1_000_000))["results"]
                emit(ev="list", items=[[i["id"], i["memory"]] for i in items])
            elif command == "close":
                await memory.close()
                emit(ev="closed")
                return 0
            else:
                emit(ev="error", type="UnknownCommand", message=command)
        except Exception as err:  # noqa: BLE001 - reported to the parent
            emit(ev="error", type=type(err).__name__, message=str(err))


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 32)))
