"""The exception hierarchy of memlane.

Every error memlane raises derives from :class:`MemlaneError`. The ones caused by bad
arguments also derive from the builtins callers already catch (``ValueError``,
``KeyError``), so code written against Mem0's ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "EmbeddingError",
    "LLMError",
    "MemlaneError",
    "MemoryNotFoundError",
    "StoreError",
    "ValidationError",
]


class MemlaneError(Exception):
    """Root of every memlane error."""


class ValidationError(MemlaneError, ValueError):
    """Bad arguments or configuration: nothing was stored or changed."""


class MemoryNotFoundError(MemlaneError, ValueError, KeyError):
    """``get``/``update``/``delete`` named a memory id that does not exist."""

    # KeyError.__str__ would wrap the message in quotes; keep it readable.
    __str__ = Exception.__str__


class LLMError(MemlaneError):
    """The LLM call failed, or its answer could not be used."""


class EmbeddingError(MemlaneError):
    """The embedder failed or returned unusable vectors."""


class StoreError(MemlaneError):
    """The store failed: disk full, locked by another process, or corrupt beyond repair."""
