"""memlane: long-term memory for AI agents, inside the agent's own Python process.

``AsyncMemory`` and ``Memory`` implement Mem0's open-source API on a Rust core (SQLite
storage, exact and approximate vector search). Importing this package does no I/O.
"""

from memlane.config import MemoryConfig
from memlane.errors import (
    EmbeddingError,
    LLMError,
    MemlaneError,
    MemoryNotFoundError,
    StoreError,
    ValidationError,
)
from memlane.memory import AsyncMemory
from memlane.sync import Memory

__all__ = [
    "AsyncMemory",
    "EmbeddingError",
    "LLMError",
    "MemlaneError",
    "Memory",
    "MemoryConfig",
    "MemoryNotFoundError",
    "StoreError",
    "ValidationError",
]

try:
    from memlane._native import __version__
except ImportError:  # pragma: no cover - only when the extension is not built
    __version__ = "0.0.0"
