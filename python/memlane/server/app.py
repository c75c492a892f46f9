"""The REST server's application: ``create_app`` builds a FastAPI app around one
AsyncMemory.

Every handler is ``async def`` and awaits AsyncMemory directly: storage and search run in
Rust off the event loop and the LLM/embedding calls are async HTTP, so no request ever
blocks another and nothing needs a thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from memlane._native import __version__
from memlane.config import MemoryConfig
from memlane.errors import ValidationError
from memlane.memory import AsyncMemory
from memlane.server.http_errors import install_error_handlers
from memlane.server.routes import router

__all__ = ["create_app"]


def create_app(
    config: MemoryConfig | dict[str, Any] | None = None, *, memory: AsyncMemory | None = None
) -> FastAPI:
    """The memlane REST server as an ASGI app (serve it with uvicorn or any ASGI server).

    The app opens one :class:`~memlane.AsyncMemory` when it starts (the ASGI lifespan)
    and closes it when it shuts down; all requests share it.

    Args:
        config: the memory's configuration (a :class:`MemoryConfig` or Mem0's dict);
            None for AsyncMemory's defaults. Checked here, so a bad config fails before
            the server starts.
        memory: an already open memory to serve instead; the caller keeps ownership
            (the app never closes it). Not together with ``config``.

    Returns:
        The FastAPI app. Routes: ``POST /memories``, ``GET /memories``,
        ``GET|PUT|DELETE /memories/{id}``, ``DELETE /memories``,
        ``GET /memories/{id}/history``, ``POST /search``, ``POST /reset``, ``GET /health``.

    Raises:
        ValidationError: the config is invalid, or both ``config`` and ``memory`` given.

    Example:
        >>> app = create_app({"vector_store": {"provider": "embedded",
        ...                                    "config": {"path": "/var/lib/memlane"}}})
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    if memory is not None and config is not None:
        raise ValidationError("pass config or memory to create_app, not both")
    checked = None if memory is not None else MemoryConfig.coerce(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AsyncMemory]]:
        if memory is not None:
            yield {"memory": memory}
            return
        # Opened here rather than in create_app: the store is created and locked by the
        # process that serves, not by whoever builds the app object.
        async with await AsyncMemory.open(checked) as owned:
            yield {"memory": owned}

    app = FastAPI(
        title="memlane",
        version=__version__,
        summary="Long-term memory for AI agents: Mem0's memory API over HTTP.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(router)
    return app
