"""`Memory`: the synchronous twin of :class:`AsyncMemory`.

It owns a private event loop running in a daemon thread and forwards every method onto
it, so there is exactly one implementation of each operation. It is safe to call from
any number of threads, and from code that itself runs inside an event loop.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, Callable, TypeVar

from memlane.config import MemoryConfig
from memlane.errors import MemlaneError
from memlane.memory import AsyncMemory
from memlane.providers.embedders.base import Embedder
from memlane.providers.llms.base import LLM

__all__ = ["Memory"]

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in its own daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="memlane-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coro.close()
            raise MemlaneError("a Memory method was called from inside its own event loop")
        if self.loop.is_closed():
            coro.close()
            raise MemlaneError("this memory is closed; create a new one")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


def _forward(name: str) -> Callable[..., Any]:
    """A sync method that runs ``AsyncMemory.<name>`` on the private loop."""
    async_method = getattr(AsyncMemory, name)

    @functools.wraps(async_method)
    def method(self: Memory, *args: Any, **kwargs: Any) -> Any:
        return self._runner.run(getattr(self._async, name)(*args, **kwargs))

    return method


class Memory:
    """Long-term memory with Mem0's synchronous ``Memory`` API.

    Takes the same arguments as :class:`AsyncMemory`; each method takes the same
    arguments and returns the same result as its async twin.

    Example:
        >>> with Memory() as memory:
        ...     memory.add("I'm travelling to SF", user_id="alice", infer=False)
    """

    def __init__(
        self,
        config: MemoryConfig | dict[str, Any] | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self._runner = _LoopThread()
        try:
            self._async = AsyncMemory(config, embedder=embedder, llm=llm)
        except BaseException:
            self._runner.stop()
            raise
        # Stop the loop thread when the object is collected without close().
        self._finalizer = weakref.finalize(self, self._runner.stop)

    @classmethod
    def from_config(cls, config_dict: dict[str, Any]) -> Memory:
        """Builds a memory from Mem0's config dict."""
        return cls(MemoryConfig.from_dict(config_dict))

    @property
    def config(self) -> MemoryConfig:
        return self._async.config

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Releases the store and stops the private loop. Idempotent."""
        if not self._runner.loop.is_closed():
            self._runner.run(self._async.close())
        self._finalizer()

    add = _forward("add")
    search = _forward("search")
    get = _forward("get")
    get_all = _forward("get_all")
    update = _forward("update")
    delete = _forward("delete")
    delete_all = _forward("delete_all")
    history = _forward("history")
    reset = _forward("reset")
