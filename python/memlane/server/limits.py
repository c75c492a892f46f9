"""Bounds the REST server and the command line check before calling AsyncMemory.

Plain Python, shared by both (the command line must not need pydantic).
"""

from __future__ import annotations

from memlane.inputs import MAX_LIMIT

__all__ = ["MAX_LIMIT"]
