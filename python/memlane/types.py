"""The shapes memlane returns, as msgspec Structs.

The API returns plain dicts (Mem0's contract); these Structs describe those dicts
exactly, so callers can validate or type them (``msgspec.convert(item, MemoryItem)``)
and the REST server can encode them.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct

__all__ = ["AddResultItem", "HistoryEvent", "MemoryItem", "Message"]


class MemoryItem(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One memory, as ``get``/``get_all``/``search`` return it (``score`` only on search)."""

    id: str
    memory: str
    hash: str
    metadata: dict[str, Any] | None
    created_at: str
    updated_at: str
    score: float | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None
    role: str | None = None


class AddResultItem(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One entry of ``add``'s ``results``; ``previous_memory`` only for UPDATE."""

    id: str
    memory: str
    event: Literal["ADD", "UPDATE", "DELETE"]
    previous_memory: str | None = None


class HistoryEvent(Struct, kw_only=True, forbid_unknown_fields=True):
    """One row of ``history``: what happened to a memory, oldest first."""

    id: str
    memory_id: str
    old_memory: str | None
    new_memory: str | None
    event: Literal["ADD", "UPDATE", "DELETE"]
    created_at: str | None
    updated_at: str | None
    is_deleted: bool
    actor_id: str | None
    role: str | None


class Message(Struct, kw_only=True, forbid_unknown_fields=False):
    """A chat message as ``add`` accepts it."""

    role: str
    content: str
    name: str | None = None
