"""The JSON bodies the REST server accepts, as pydantic models.

Why pydantic when memlane's own types are msgspec Structs: FastAPI decodes, validates and
documents (OpenAPI) request bodies only from pydantic models. A msgspec body would mean
reading raw bytes in every handler and losing the generated schema; the duplication
avoided would be a few field lists. These models stay thin on purpose: they check the
JSON types and reject unknown fields, and every rule about values (non-empty ids, a scope,
the filter language, limits) stays in AsyncMemory, so the server and the library can never
disagree.

``strict=True`` keeps JSON types honest: ``"infer": "false"`` or ``"limit": 2.5`` is an
error, not a guess. ``extra="forbid"`` turns a misspelt field into an error instead of a
silently ignored one: ``{"user_id": "alice", "runid": "r1"}`` must not quietly store the
memory outside run r1.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from memlane.inputs import MAX_LIMIT

__all__ = ["AddRequest", "Limit", "Message", "SearchRequest", "UpdateRequest"]


Limit = Annotated[int, Field(le=MAX_LIMIT)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Message(_Body):
    """One chat message."""

    role: str = Field(examples=["user"])
    content: str = Field(examples=["I'm travelling to SF next month"])
    name: str | None = Field(default=None, description="Who spoke; stored as actor_id.")


def _messages_kind(value: Any) -> str | None:
    # Dispatching on the JSON type gives one precise error ("messages.list[0].role:
    # Field required") instead of one failure per union member.
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, (dict, Message)):
        return "message"
    return None


Messages = Annotated[
    Annotated[str, Tag("text")]
    | Annotated[list[Message], Tag("list")]
    | Annotated[Message, Tag("message")],
    Discriminator(
        _messages_kind,
        custom_error_type="messages_type",
        custom_error_message="must be a string, a message object or a list of message objects",
    ),
]


class _Scope(_Body):
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


class AddRequest(_Scope):
    """``POST /memories``: the arguments of ``AsyncMemory.add``."""

    messages: Messages = Field(description="A string (one user message), a message, or a list.")
    metadata: dict[str, Any] | None = None
    infer: bool = Field(default=True, description="False stores each message verbatim (no LLM).")
    memory_type: str | None = Field(default=None, examples=["procedural_memory"])
    prompt: str | None = Field(default=None, description="Replaces the fact-extraction prompt.")


class SearchRequest(_Scope):
    """``POST /search``: the arguments of ``AsyncMemory.search``."""

    query: str
    filters: dict[str, Any] | None = None
    limit: Limit | None = Field(
        default=None, description="At most this many results (default 100)."
    )
    top_k: Limit | None = Field(default=None, description="Mem0 2.x spelling of limit.")
    threshold: float | None = Field(default=None, description="Minimum score, in [0, 1].")
    rerank: bool = Field(default=False, description="Accepted for Mem0 compatibility; no effect.")


class UpdateRequest(_Body):
    """``PUT /memories/{memory_id}``: the new text and/or metadata."""

    text: str | None = Field(default=None, description="The new text (re-embedded).")
    data: str | None = Field(default=None, description="Mem0's name for text.")
    metadata: dict[str, Any] | None = Field(
        default=None, description="Replaces the metadata; {} clears it."
    )
