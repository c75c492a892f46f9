"""Mem0-compatible import paths (``memlane.configs.base.MemoryConfig``)."""
