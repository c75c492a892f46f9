"""The REST routes: one per AsyncMemory method, with Mem0's server paths.

Each handler passes its inputs to AsyncMemory unchanged and answers with exactly the dict
AsyncMemory returns (spec/API.md's shapes); AsyncMemory does every check on values, and
its exceptions become HTTP errors in :mod:`memlane.server.http_errors`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from memlane.errors import MemlaneError, ValidationError
from memlane.memory import AsyncMemory
from memlane.server.schemas import AddRequest, Limit, Message, SearchRequest, UpdateRequest

__all__ = ["router"]

router = APIRouter()

_SCOPE = ("user_id", "agent_id", "run_id")


async def _current_memory(request: Request) -> AsyncMemory:
    memory = getattr(request.state, "memory", None)
    if not isinstance(memory, AsyncMemory):
        raise MemlaneError(
            "the memory is not open: the app's lifespan has not run (serve the app with an "
            "ASGI server such as uvicorn, or enter its lifespan in tests)"
        )
    return memory


OpenMemory = Annotated[AsyncMemory, Depends(_current_memory)]


def _query_parameters(*allowed: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing query parameters the route does not take, and repeats.

    FastAPI ignores unknown query parameters; here that would turn
    ``DELETE /memories?user_id=alice&runid=r1`` into "delete all of alice's memories".
    """
    names = frozenset(allowed)

    async def check(request: Request) -> None:
        given = request.query_params
        unknown = sorted(set(given.keys()) - names)
        if unknown:
            takes = ", ".join(sorted(names)) if names else "none"
            raise ValidationError(
                f"unknown query parameter(s) {', '.join(unknown)}; this route takes {takes}"
            )
        repeated = sorted(key for key in set(given.keys()) if len(given.getlist(key)) > 1)
        if repeated:
            raise ValidationError(f"query parameter(s) {', '.join(repeated)} given more than once")

    return check


_NO_QUERY = [Depends(_query_parameters())]


def _plain(messages: str | Message | list[Message]) -> str | dict[str, Any] | list[dict[str, Any]]:
    """The messages as AsyncMemory takes them (dicts, not models)."""
    if isinstance(messages, str):
        return messages
    if isinstance(messages, Message):
        return messages.model_dump(exclude_none=True)
    return [message.model_dump(exclude_none=True) for message in messages]


@router.post("/memories", dependencies=_NO_QUERY, tags=["memories"])
async def add_memory(body: AddRequest, memory: OpenMemory) -> dict[str, Any]:
    """Stores what a conversation says (``AsyncMemory.add``)."""
    return await memory.add(
        _plain(body.messages),
        user_id=body.user_id,
        agent_id=body.agent_id,
        run_id=body.run_id,
        metadata=body.metadata,
        infer=body.infer,
        memory_type=body.memory_type,
        prompt=body.prompt,
    )


@router.get(
    "/memories", dependencies=[Depends(_query_parameters(*_SCOPE, "limit"))], tags=["memories"]
)
async def list_memories(
    memory: OpenMemory,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    limit: Limit | None = None,
) -> dict[str, Any]:
    """The memories of a scope, oldest first (``AsyncMemory.get_all``)."""
    return await memory.get_all(user_id=user_id, agent_id=agent_id, run_id=run_id, limit=limit)


@router.get("/memories/{memory_id}", dependencies=_NO_QUERY, tags=["memories"])
async def get_memory(memory_id: str, memory: OpenMemory) -> dict[str, Any]:
    """One memory by id (``AsyncMemory.get``); 404 for an unknown id."""
    return await memory.get(memory_id)


@router.put("/memories/{memory_id}", dependencies=_NO_QUERY, tags=["memories"])
async def update_memory(memory_id: str, body: UpdateRequest, memory: OpenMemory) -> dict[str, Any]:
    """Replaces a memory's text and/or metadata (``AsyncMemory.update``)."""
    return await memory.update(memory_id, body.data, text=body.text, metadata=body.metadata)


@router.delete("/memories/{memory_id}", dependencies=_NO_QUERY, tags=["memories"])
async def delete_memory(memory_id: str, memory: OpenMemory) -> dict[str, Any]:
    """Deletes one memory (``AsyncMemory.delete``); its history stays."""
    return await memory.delete(memory_id)


@router.delete("/memories", dependencies=[Depends(_query_parameters(*_SCOPE))], tags=["memories"])
async def delete_memories(
    memory: OpenMemory,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Deletes every memory of a scope (``AsyncMemory.delete_all``); a scope is required."""
    return await memory.delete_all(user_id=user_id, agent_id=agent_id, run_id=run_id)


@router.get("/memories/{memory_id}/history", dependencies=_NO_QUERY, tags=["memories"])
async def memory_history(memory_id: str, memory: OpenMemory) -> list[dict[str, Any]]:
    """What happened to a memory, oldest first; ``[]`` for an id never seen."""
    return await memory.history(memory_id)


@router.post("/search", dependencies=_NO_QUERY, tags=["memories"])
async def search_memories(body: SearchRequest, memory: OpenMemory) -> dict[str, Any]:
    """The memories of a scope most relevant to a query, best first (``AsyncMemory.search``)."""
    return await memory.search(
        body.query,
        user_id=body.user_id,
        agent_id=body.agent_id,
        run_id=body.run_id,
        limit=body.limit,
        top_k=body.top_k,
        filters=body.filters,
        threshold=body.threshold,
        rerank=body.rerank,
    )


@router.post("/reset", dependencies=_NO_QUERY, tags=["admin"])
async def reset_memories(memory: OpenMemory) -> dict[str, str]:
    """Empties the whole store: every memory of every scope, and all history."""
    await memory.reset()
    return {"message": "All memories reset"}


@router.get("/health", dependencies=_NO_QUERY, tags=["admin"])
async def health(memory: OpenMemory) -> dict[str, str]:
    """200 ``{"status": "ok"}`` while the memory is open."""
    memory.store  # noqa: B018 - raises MemlaneError (500) once the memory is closed
    return {"status": "ok"}
