"""Reading the LLM's answer defensively.

Models wrap JSON in code fences, think aloud in ``<think>`` blocks, add a sentence before
or after, spell ids as strings, or use other key names. This module finds the JSON
object, decodes it into Structs, and keeps only decisions that make sense; what cannot be
read at all raises :class:`LLMError`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from memlane.errors import LLMError

__all__ = ["Decision", "parse_decisions"]

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_EVENTS = {"ADD", "UPDATE", "DELETE", "NONE"}


class Decision(msgspec.Struct, frozen=True):
    """One decision of the model. ``id`` indexes the existing memories shown to it."""

    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    text: str | None = None
    id: int | None = None


def _json_object(raw: str) -> Any:
    """The first JSON object in ``raw`` that decodes, ignoring text around it."""
    text = _THINK.sub("", raw)
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for pos in range(start, len(text)):
            char = text[pos]
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    try:
                        return msgspec.json.decode(text[start : pos + 1])
                    except msgspec.DecodeError:
                        break
        start = text.find("{", start + 1)
    raise LLMError(f"the LLM answer holds no JSON object: {raw[:200]!r}")


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _decision(item: Any) -> Decision | None:
    """One decision from a loosely shaped dict, or None when it is unusable."""
    if not isinstance(item, dict):
        return None
    event = str(item.get("event") or item.get("action") or "").strip().upper()
    if event not in _EVENTS:
        return None
    text = item.get("text", item.get("memory", item.get("fact")))
    text = text.strip() if isinstance(text, str) and text.strip() else None
    return Decision(event=event, text=text, id=_to_int(item.get("id")))  # type: ignore[arg-type]


def parse_decisions(raw: str) -> list[Decision]:
    """The decisions in an LLM answer.

    Raises:
        LLMError: no JSON object, or one without a list of decisions.
    """
    payload = _json_object(raw)
    if not isinstance(payload, dict):
        raise LLMError("the LLM answer is not a JSON object")
    items = payload.get("memory", payload.get("memories", payload.get("facts")))
    if not isinstance(items, list):
        raise LLMError(f"the LLM answer has no 'memory' list: {raw[:200]!r}")
    return [d for d in map(_decision, items) if d is not None]
