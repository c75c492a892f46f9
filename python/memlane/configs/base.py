"""``from memlane.configs.base import MemoryConfig``, as code ported from Mem0 writes it."""

from memlane.config import MemoryConfig

__all__ = ["MemoryConfig"]
