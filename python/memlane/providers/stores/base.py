"""The store interface, shared by the embedded store and any other backend.

Nothing above this interface knows which database is underneath. A store applies a list
of ops atomically (all or none) and answers reads with Mem0-shaped dicts.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Literal, Protocol, Union

import numpy as np
from msgspec import Struct

__all__ = [
    "AddOp",
    "DeleteOp",
    "DeleteScopeOp",
    "Op",
    "ResetOp",
    "SearchMode",
    "Store",
    "UpdateOp",
]

#: How ``Store.search`` scores memories (see its docstring).
SearchMode = Literal["semantic", "keyword", "hybrid"]


class AddOp(Struct, frozen=True, kw_only=True):
    """Insert a memory. ``metadata_json`` is a JSON object as text, or None."""

    text: str
    vector: np.ndarray
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None
    role: str | None = None
    metadata_json: str | None = None


class UpdateOp(Struct, frozen=True, kw_only=True):
    """Change a memory's text (with its new vector) and/or metadata.

    ``text`` and ``vector`` come together or not at all; ``metadata_json=None`` keeps the
    metadata and ``"{}"`` clears it.
    """

    memory_id: str
    text: str | None = None
    vector: np.ndarray | None = None
    metadata_json: str | None = None


class DeleteOp(Struct, frozen=True, kw_only=True):
    memory_id: str


class DeleteScopeOp(Struct, frozen=True, kw_only=True):
    """Delete every memory whose scope includes all the ids given."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


class ResetOp(Struct, frozen=True):
    """Empty the store: memories and history."""


Op = Union[AddOp, UpdateOp, DeleteOp, DeleteScopeOp, ResetOp]


class Store(Protocol):
    """What :class:`memlane.AsyncMemory` needs from a store. Every method is async."""

    @property
    def dims(self) -> int | None:
        """Vector length, once known."""

    async def apply(self, ops: Sequence[Op]) -> list[Any]:
        """Applies ``ops`` in one transaction; one result per op.

        ADD/UPDATE/DELETE give ``{"id", "memory", "event"}`` (+ ``previous_memory``);
        a scope delete gives ``{"event": "DELETE", "deleted": [ids]}``; reset gives None.
        Raises ValidationError / MemoryNotFoundError / StoreError; on error nothing changed.
        """

    async def get(self, memory_id: str) -> dict[str, Any]:
        """One memory; MemoryNotFoundError when absent."""

    async def list(self, filters_json: str | None, limit: int) -> list[dict[str, Any]]:
        """Memories matching the filter, oldest first."""

    # `builtins.list` from here on: inside the class, `list` names the method above.
    async def search(
        self,
        vector: np.ndarray | None,
        text: str,
        filters_json: str | None,
        limit: int,
        threshold: float | None,
        mode: SearchMode = "semantic",
        semantic_weight: float = 0.6,
    ) -> builtins.list[dict[str, Any]]:
        """Memories matching the filter, best first, each with ``score`` in [0, 1].

        ``mode``: ``"semantic"`` (cosine similarity of ``vector``, clamped to [0, 1]),
        ``"keyword"`` (BM25 over the filtered memories divided by the query's best BM25;
        memories sharing no term are left out; ``vector`` may be None) or ``"hybrid"``
        (``semantic_weight * semantic + (1 - semantic_weight) * keyword``).
        """

    async def history(self, memory_id: str) -> builtins.list[dict[str, Any]]:
        """A memory's history, oldest first; ``[]`` for an unknown id."""

    async def close(self) -> None:
        """Releases the store. Idempotent."""
