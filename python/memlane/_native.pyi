"""Type stubs of the Rust extension ``memlane._native`` (rust/py)."""

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

__version__: str

def canonical_filter(filters_json: str) -> str:
    """Checks a filter (JSON text) and returns its canonical JSON form.

    Raises:
        ValidationError: the filter is malformed (the message names the culprit).
    """

class Store:
    """An open embedded store; every operation returns an awaitable."""

    def __init__(
        self, path: str | Path, dims: int | None = None, index_min_memories: int = 32768
    ) -> None: ...
    @property
    def path(self) -> Path: ...
    @property
    def dims(self) -> int | None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def index_origin(self) -> str:
        """"none" (store too small for a graph), "loaded" (current snapshot) or "built"."""
    def count(self) -> int: ...
    def apply(self, ops: list[tuple[Any, ...]]) -> Awaitable[list[dict[str, Any] | None]]:
        """Op tuples (see rust/py/src/ops.rs), applied in one transaction."""
    def get(self, memory_id: str) -> Awaitable[dict[str, Any]]: ...
    def list(self, filters_json: str | None, limit: int) -> Awaitable[list[dict[str, Any]]]: ...
    def search(
        self,
        vector: bytes | None,
        text: str,
        filters_json: str | None,
        limit: int,
        threshold: float | None = None,
        mode: str = "hybrid",
        semantic_weight: float = 0.6,
    ) -> Awaitable[list[dict[str, Any]]]: ...
    def history(self, memory_id: str) -> Awaitable[list[dict[str, Any]]]: ...
    def close(self) -> Awaitable[None]: ...
