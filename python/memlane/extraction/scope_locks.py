"""Per-scope locks: concurrent ``add(infer=True)`` calls on overlapping scopes take turns.

The read-decide-apply step (fetch related memories, ask the LLM, apply its decisions)
must not interleave for one scope, or two calls could both ADD the same fact or both
UPDATE one memory from the same old text. A call locks each of its scope ids
(``("user_id", "alice")``, ``("run_id", "r1")``...) in sorted order, so calls whose scopes
share any id serialise (without deadlock), and unrelated scopes run in parallel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["ScopeLocks"]

_Key = tuple[str, str]


class ScopeLocks:
    """Locks keyed by scope id, created on demand and dropped when unused."""

    def __init__(self) -> None:
        self._locks: dict[_Key, asyncio.Lock] = {}
        self._waiters: dict[_Key, int] = {}

    def __len__(self) -> int:
        """Locks currently held or awaited (0 when idle: nothing leaks)."""
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, ids: dict[str, str]) -> AsyncIterator[None]:
        keys = sorted(ids.items())
        for key in keys:
            self._waiters[key] = self._waiters.get(key, 0) + 1
            self._locks.setdefault(key, asyncio.Lock())
        held: list[_Key] = []
        try:
            for key in keys:
                await self._locks[key].acquire()
                held.append(key)
            yield
        finally:
            for key in reversed(held):
                self._locks[key].release()
            for key in keys:
                self._waiters[key] -= 1
                if not self._waiters[key]:
                    del self._waiters[key]
                    del self._locks[key]
