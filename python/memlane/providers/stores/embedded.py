"""The embedded store: a SQLite file and an in-memory index, run by the Rust core."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from memlane import _native
from memlane.errors import ValidationError
from memlane.providers.stores.base import (
    AddOp,
    DeleteOp,
    DeleteScopeOp,
    Op,
    ResetOp,
    SearchMode,
    UpdateOp,
)
from memlane.providers.stores.settle import uncancellable

if TYPE_CHECKING:
    from memlane._native import _OpTuple  # a stub-only alias: the tuple forms of ops.rs


def _vector_bytes(vector: np.ndarray) -> bytes:
    """float32 little-endian bytes: the one copy the native side needs."""
    array = np.asarray(vector)
    if array.ndim != 1:
        raise ValidationError(f"a vector must be one-dimensional, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValidationError(f"a vector must hold numbers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def _native_op(op: Op) -> _OpTuple:
    if isinstance(op, AddOp):
        return (
            "add",
            op.text,
            _vector_bytes(op.vector),
            op.user_id,
            op.agent_id,
            op.run_id,
            op.actor_id,
            op.role,
            op.metadata_json,
        )
    if isinstance(op, UpdateOp):
        vector = None if op.vector is None else _vector_bytes(op.vector)
        return ("update", op.memory_id, op.text, vector, op.metadata_json)
    if isinstance(op, DeleteOp):
        return ("delete", op.memory_id)
    if isinstance(op, DeleteScopeOp):
        return ("delete_scope", op.user_id, op.agent_id, op.run_id)
    if isinstance(op, ResetOp):
        return ("reset",)
    raise TypeError(f"not a store op: {op!r}")


class EmbeddedStore:
    """A store in one SQLite file; see :class:`memlane.providers.stores.base.Store`.

    The constructor opens the file synchronously (releasing the GIL); :meth:`open` does
    the same off the event loop.
    """

    def __init__(self, path: Path, dims: int | None, index_min_memories: int = 32_768) -> None:
        self._native = _native.Store(str(path), dims, index_min_memories)

    @classmethod
    async def open(cls, path: Path, dims: int | None, index_min_memories: int = 32_768) -> EmbeddedStore:
        """Opens the file on a worker thread: loading or building the graph of a large
        store (about 1 s, or 8 s without a snapshot, per 100,000 memories) never holds up
        the event loop."""
        store = cls.__new__(cls)
        store._native = await _native.Store.open(str(path), dims, index_min_memories)
        return store

    @property
    def dims(self) -> int | None:
        return self._native.dims

    @property
    def path(self) -> Path:
        return Path(self._native.path)

    @property
    def index_origin(self) -> Literal["none", "loaded", "replayed", "built"]:
        """How the approximate index came to be at open: "none" (no graph: the store is
        small), "loaded" (the snapshot saved at the last clean close), "replayed" (an
        older snapshot, brought up to date with the stored rows) or "built"."""
        return self._native.index_origin

    async def apply(self, ops: Sequence[Op]) -> list[Any]:
        return await uncancellable(self._native.apply([_native_op(op) for op in ops]))

    async def get(self, memory_id: str) -> dict[str, Any]:
        return await self._native.get(memory_id)

    async def list(self, filters_json: str | None, limit: int) -> list[dict[str, Any]]:
        return await self._native.list(filters_json, limit)

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
        packed = None if vector is None else _vector_bytes(vector)
        return await self._native.search(
            packed, text, filters_json, limit, threshold, mode, semantic_weight
        )

    async def history(self, memory_id: str) -> builtins.list[dict[str, Any]]:
        return await self._native.history(memory_id)

    async def close(self) -> None:
        await self._native.close()

    def count(self) -> int:
        """Number of memories stored (in-memory, instant)."""
        return self._native.count()
