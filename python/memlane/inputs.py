"""Checking and normalising what callers pass in, before anything is embedded or stored.

Every check raises :class:`~memlane.errors.ValidationError` with a message that names
the argument; nothing here touches the store.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from memlane import _native
from memlane.errors import ValidationError

SCOPE_KEYS = ("user_id", "agent_id", "run_id")
# Keys filters resolve to built-in fields: in metadata they could never be filtered on,
# and scope ids there could be mistaken for the real scope.
RESERVED_METADATA_KEYS = frozenset({*SCOPE_KEYS, "actor_id", "role", "created_at", "updated_at"})
_MAX_DEPTH = 32
# JSON integers the store keeps exactly (64-bit); larger ones would come back as floats.
_INT_RANGE = range(-(2**63), 2**64)
_NEED_SCOPE = "pass user_id, agent_id or run_id"


def text(name: str, value: Any, *, allow_empty: bool = False) -> str:
    """A string that can be stored as UTF-8."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValidationError(f"{name} is not valid Unicode text ({err.reason} at {err.start})") from None
    return value


def scope_id(name: str, value: Any) -> str | None:
    """A scope id: a non-blank string; ints are converted with ``str()``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name} must not be empty or whitespace")
    return text(name, value)


def scope(user_id: Any, agent_id: Any, run_id: Any) -> dict[str, str]:
    """The given scope ids, checked, as a dict without the unset ones."""
    ids = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    return {k: v for k, v in ((k, scope_id(k, v)) for k, v in ids.items()) if v is not None}


def memory_id(value: Any) -> str:
    """A memory id as ``get``/``update``/``delete``/``history`` take it."""
    return text("memory_id", value)


#: Largest ``limit``/``top_k``: the store takes it as a 64-bit integer (a larger one would
#: surface as an OverflowError from the native call instead of a clear error).
MAX_LIMIT = 2**63 - 1


def limit(value: Any, top_k: Any = None) -> int:
    """``limit`` (or its alias ``top_k``): a positive int up to :data:`MAX_LIMIT`."""
    if top_k is not None:
        if value is not None and value != top_k:
            raise ValidationError(f"limit={value!r} and top_k={top_k!r} disagree; pass one of them")
        value = top_k
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"limit must be a positive integer, got {value!r}")
    if value > MAX_LIMIT:
        raise ValidationError(f"limit must be at most 2**63 - 1, got {value}")
    return value


def threshold(value: Any) -> float | None:
    """A score threshold in [0, 1], or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValidationError(f"threshold must be a number between 0 and 1, got {value!r}")
    return float(value)


def _check_json(value: Any, where: str, depth: int = 0, *, stored: bool = True) -> None:
    """Checks ``value`` is JSON data. ``stored`` values must also survive a round trip:
    integers beyond 64 bits would come back as floats, so they are refused."""
    if depth > _MAX_DEPTH:
        raise ValidationError(f"{where} nests deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str):
            text(where, value, allow_empty=True)
        elif stored and isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
            raise ValidationError(f"{where} holds an integer outside the 64-bit range ({value})")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} holds a non-finite number ({value})")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1, stored=stored)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has a non-string key {key!r}")
            text(f"{where} key", key, allow_empty=True)
            _check_json(item, f"{where}[{key!r}]", depth + 1, stored=stored)
        return
    raise ValidationError(f"{where} holds a {type(value).__name__}, which is not JSON data")


def metadata(value: Any) -> str | None:
    """Metadata as JSON text, or None when absent.

    Raises:
        ValidationError: not a dict, not JSON data, or a reserved key (a scope id,
            ``actor_id``, ``role``, timestamps) that belongs in its own argument.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(f"metadata must be a dict, got {type(value).__name__}")
    _check_json(value, "metadata")
    reserved = RESERVED_METADATA_KEYS & value.keys()
    if reserved:
        raise ValidationError(
            f"metadata must not set {sorted(reserved)}: scope ids, actor_id, role and timestamps "
            "are set by their own arguments, never through metadata"
        )
    return msgspec.json.encode(value).decode()


def filters(value: Any, ids: dict[str, str], *, need_scope: bool) -> str | None:
    """Combines scope ids and a filters dict into one filter, as JSON text.

    The filter language itself is checked here, by the parser both stores use, so that a
    bad filter fails before anything is embedded: ValidationError naming an unknown
    operator or a malformed part.
    """
    if value is not None and not isinstance(value, dict):
        raise ValidationError(f"filters must be a dict, got {type(value).__name__}")
    value = value or {}
    if value:
        _check_json(value, "filters", stored=False)
    if need_scope and not ids and not any(k in value for k in SCOPE_KEYS):
        raise ValidationError(f"a scope is required: {_NEED_SCOPE} (as arguments or in filters)")
    # {"eq": v}, not a bare value: a bare "*" would mean "the key exists", and
    # user_id="*" must match the user called "*", not every user.
    parts: list[dict[str, Any]] = [{k: {"eq": v}} for k, v in ids.items()]
    if value:
        parts.append(value)
    if not parts:
        return None
    combined = parts[0] if len(parts) == 1 else {"AND": parts}
    text = msgspec.json.encode(combined).decode()
    if value:
        _native.canonical_filter(text)  # raises ValidationError; scope ids alone are valid
    return text


def require_scope(ids: dict[str, str]) -> dict[str, str]:
    if not ids:
        raise ValidationError(f"a scope is required: {_NEED_SCOPE}")
    return ids


def messages(value: Any) -> list[dict[str, Any]]:
    """``messages`` as a list of ``{"role", "content", "name"?}`` dicts.

    Accepts a str (one user message), a dict (one message) or a list of dicts.
    """
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    elif isinstance(value, dict):
        value = [value]
    elif not isinstance(value, list):
        raise ValidationError(
            f"messages must be a str, a dict or a list of dicts, got {type(value).__name__}"
        )
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise ValidationError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        content = message.get("content")
        if not isinstance(role, str) or not role:
            raise ValidationError(f"messages[{i}] needs a string 'role'")
        text(f"messages[{i}]['role']", role)
        if not isinstance(content, str):
            raise ValidationError(
                f"messages[{i}]['content'] must be a string, got {type(content).__name__}"
            )
        text(f"messages[{i}]['content']", content, allow_empty=True)
        name = message.get("name")
        if name is not None:
            text(f"messages[{i}]['name']", name)
        out.append({"role": role, "content": content, "name": name})
    return out
