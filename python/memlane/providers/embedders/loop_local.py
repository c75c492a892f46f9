"""One async resource per event loop, closed while that loop is shutting down.

An ``openai.AsyncOpenAI`` (through httpx) keeps pooled sockets that belong to the loop
that opened them. A second ``asyncio.run`` cannot reuse them ("Event loop is closed"),
and once their loop is closed they cannot be closed either: they leak, warn as unclosed
transports, and the client's ``__del__`` later schedules a failing ``aclose`` on whatever
loop is running then.

So each loop gets its own resource, and each resource is tied to an async generator
started on its loop. ``asyncio.run`` (and ``asyncio.Runner``, which pytest-asyncio uses)
calls ``loop.shutdown_asyncgens()`` before closing the loop, which finalises the generator
and runs its ``finally`` — closing the resource while its loop can still do so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["LoopLocal"]

T = TypeVar("T")


class LoopLocal(Generic[T]):
    """A lazily created resource per running event loop.

    Args:
        create: Builds a new resource (synchronously, no I/O expected).
        close: Closes one resource; awaited on the resource's own loop.

    Example:
        >>> clients = LoopLocal(lambda: openai.AsyncOpenAI(), lambda c: c.close())
        >>> client = await clients.get()
    """

    def __init__(self, create: Callable[[], T], close: Callable[[T], Awaitable[None]]) -> None:
        self._create = create
        self._close = close
        # loop -> (resource, the generator that closes it at loop shutdown). The loop
        # only keeps a weak reference to the generator; this dict keeps it alive.
        self._items: dict[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = {}

    async def get(self) -> T:
        """The running loop's resource, created (and tied to the loop) on first use.

        Returns:
            The resource for the running loop.
        """
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is not None:
            return item[0]
        # Loops closed without shutdown_asyncgens() left their entries behind.
        for stale in [old for old in self._items if old.is_closed()]:
            del self._items[stale]
        resource = self._create()
        guard = self._guard(loop, resource)
        # The first step registers the generator with this loop (its firstiter hook) and
        # runs up to the `yield`; nothing in it suspends.
        await guard.__anext__()
        self._items[loop] = (resource, guard)
        return resource

    async def aclose(self) -> None:
        """Close the running loop's resource now; forget those of other loops.

        Another loop's resource can only be closed by that loop, which its shutdown does.
        """
        loop = asyncio.get_running_loop()
        items, self._items = self._items, {}
        item = items.get(loop)
        if item is not None:
            await item[1].aclose()

    async def _guard(
        self, loop: asyncio.AbstractEventLoop, resource: T
    ) -> AsyncGenerator[None, None]:
        """Suspends until its loop shuts down (or ``aclose``), then closes ``resource``."""
        try:
            yield
        finally:
            current = self._items.get(loop)
            if current is not None and current[0] is resource:
                del self._items[loop]
            await self._close(resource)
