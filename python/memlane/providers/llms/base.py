"""The LLM interface memlane's extraction step needs."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["LLM"]


@runtime_checkable
class LLM(Protocol):
    """A chat model. Implementations raise :class:`~memlane.errors.LLMError` on failure."""

    async def complete(self, messages: list[dict[str, str]], *, json_mode: bool) -> str:
        """The assistant's answer to ``messages``; ``json_mode`` asks for one JSON object."""

    async def aclose(self) -> None:
        """Releases connections."""
