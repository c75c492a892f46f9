"""Type stubs of the Rust extension ``memlane._native`` (rust/py)."""

import asyncio
import builtins
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias, final

import numpy as np
import numpy.typing as npt

__all__ = ["HnswIndex", "Store", "__version__", "canonical_filter"]

__version__: str

# The op tuples `Store.apply` takes (rust/py/src/ops.rs); vectors are little-endian
# float32 bytes, metadata a JSON object as text.
_AddTuple: TypeAlias = tuple[
    Literal["add"],
    str,  # text
    bytes,  # vector
    str | None,  # user_id
    str | None,  # agent_id
    str | None,  # run_id
    str | None,  # actor_id
    str | None,  # role
    str | None,  # metadata_json
]
# ("update", id, text, vector, metadata_json): text and vector both or neither.
_UpdateTuple: TypeAlias = tuple[Literal["update"], str, str | None, bytes | None, str | None]
_DeleteTuple: TypeAlias = tuple[Literal["delete"], str]
# ("delete_scope", user_id, agent_id, run_id)
_DeleteScopeTuple: TypeAlias = tuple[Literal["delete_scope"], str | None, str | None, str | None]
_ResetTuple: TypeAlias = tuple[Literal["reset"]]
_OpTuple: TypeAlias = _AddTuple | _UpdateTuple | _DeleteTuple | _DeleteScopeTuple | _ResetTuple

def canonical_filter(filters_json: str) -> str:
    """Checks a filter (JSON text) and returns its canonical JSON form.

    Raises:
        ValidationError: the filter is malformed (the message names the culprit).
    """

@final
class Store:
    """An open embedded store; every operation returns an asyncio future of the running
    loop (rust/py/src/bridge.rs)."""

    # pyo3's #[new] is `__new__`: the classes have no `__init__` of their own.
    def __new__(
        cls,
        path: str | os.PathLike[str],
        dims: int | None = None,
        index_min_memories: int = ...,  # memlane_core::DEFAULT_INDEX_MIN_MEMORIES, 32,768
    ) -> Store: ...
    @staticmethod
    def open(
        path: str | os.PathLike[str],
        dims: int | None = None,
        index_min_memories: int = ...,  # memlane_core::DEFAULT_INDEX_MIN_MEMORIES, 32,768
    ) -> asyncio.Future[Store]:
        """``Store(...)`` as an awaitable: the open runs off the event loop."""
    @property
    def path(self) -> Path: ...
    @property
    def dims(self) -> int | None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def index_origin(self) -> Literal["none", "loaded", "replayed", "built"]:
        """"none" (store too small for a graph), "loaded" (current snapshot), "replayed"
        (an older snapshot brought up to date) or "built"."""
    def count(self) -> int: ...
    def apply(self, ops: Sequence[_OpTuple]) -> asyncio.Future[list[dict[str, Any] | None]]:
        """Op tuples (see rust/py/src/ops.rs), applied in one transaction."""
    def get(self, memory_id: str) -> asyncio.Future[dict[str, Any]]: ...
    # `builtins.list` from here on: inside this class, `list` names the method.
    def list(
        self, filters_json: str | None, limit: int
    ) -> asyncio.Future[builtins.list[dict[str, Any]]]: ...
    def search(
        self,
        vector: bytes | None,
        text: str,
        filters_json: str | None,
        limit: int,
        threshold: float | None = None,
        mode: Literal["semantic", "keyword", "hybrid"] = "hybrid",
        semantic_weight: float = 0.6,
    ) -> asyncio.Future[builtins.list[dict[str, Any]]]: ...
    def history(self, memory_id: str) -> asyncio.Future[builtins.list[dict[str, Any]]]: ...
    def close(self) -> asyncio.Future[None]: ...

@final
class HnswIndex:
    """The Rust HNSW index (rust/core/src/index); the typed wrapper is memlane.index.

    Arrays must be C-contiguous and of the exact dtype; anything else raises TypeError
    (or ValidationError for a non-contiguous ``ids``/``vectors``).
    """

    def __new__(
        cls,
        dims: int,
        metric: str = "cosine",
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        seed: int = ...,  # DEFAULT_SEED of rust/py/src/index.rs
    ) -> HnswIndex: ...
    def add(
        self,
        ids: npt.NDArray[np.uint32],
        vectors: npt.NDArray[np.float32],
        num_threads: int = 0,
    ) -> None: ...
    def search(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        ef: int = 0,
        allowed: npt.NDArray[np.uint32] | None = None,
        num_threads: int = 1,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def remove(self, ids: npt.NDArray[np.uint32]) -> int: ...
    def consolidate(self) -> None: ...
    def save(self, path: str | os.PathLike[str], tag: int = 0) -> None: ...
    @staticmethod
    def load(path: str | os.PathLike[str], dims: int | None = None) -> HnswIndex: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: int, /) -> bool: ...
    @property
    def dims(self) -> int: ...
    @property
    def metric(self) -> Literal["cosine", "dot", "l2"]: ...
    @property
    def m(self) -> int: ...
    @property
    def ef_construction(self) -> int: ...
    @property
    def ef_search(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def tag(self) -> int: ...
    @property
    def tombstones(self) -> int: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def kernels(self) -> str: ...
