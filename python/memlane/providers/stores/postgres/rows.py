"""Values in and out of PostgreSQL: vectors, checks, and Mem0-shaped result dicts.

Vectors travel in pgvector's binary format (a 4-byte header then big-endian float32s):
one numpy byte-swap per vector, no per-float Python objects and no text formatting.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import AsyncConnection
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import set_json_loads

import msgspec

from memlane.errors import ValidationError

__all__ = [
    "HISTORY_COLUMNS",
    "MEMORY_COLUMNS",
    "PgVector",
    "check_text",
    "check_vector",
    "configure_connection",
    "history_event",
    "md5_hex",
    "memory_item",
]

#: Columns every memory read selects, in the order :func:`memory_item` expects.
MEMORY_COLUMNS = (
    "id, memory, hash, metadata, created_at, updated_at, user_id, agent_id, run_id, actor_id, role"
)
HISTORY_COLUMNS = (
    "id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role"
)
_OPTIONAL_KEYS = ("user_id", "agent_id", "run_id", "actor_id", "role")


class PgVector:
    """A checked float32 vector on its way to a ``vector`` parameter (``%s::vector``)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


class _PgVectorDumper(Dumper):
    """pgvector's binary input: int16 dims, int16 unused, then big-endian float32s.

    The oid stays 0 (unknown): the ``::vector`` cast in the query tells the server the type,
    so no per-connection type lookup is needed.
    """

    format = Format.BINARY

    def dump(self, obj: PgVector) -> bytes:
        array = obj.array
        return struct.pack(">HH", array.shape[0], 0) + array.astype(">f4", copy=False).tobytes()


async def configure_connection(conn: AsyncConnection[Any]) -> None:
    """Pool hook for each new connection: vector dumper, fast JSON decoding."""
    conn.adapters.register_dumper(PgVector, _PgVectorDumper)
    set_json_loads(msgspec.json.decode, conn)


def check_vector(vector: Any, dims: int | None) -> PgVector:
    """Checks a vector as the embedded store does; returns it ready to send.

    Raises:
        ValidationError: not 1-D numbers, empty, wrong length, non-finite, or all zeros
            (cosine similarity is undefined for it).
    """
    array = np.asarray(vector)
    if array.ndim != 1:
        raise ValidationError(f"a vector must be one-dimensional, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValidationError(f"a vector must hold numbers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.shape[0] == 0:
        raise ValidationError("the embedding vector is empty")
    if dims is not None and array.shape[0] != dims:
        raise ValidationError(
            f"the embedding has {array.shape[0]} dimensions but this store holds {dims}-dimensional vectors"
        )
    finite = np.isfinite(array)
    if not finite.all():
        pos = int(np.argmin(finite))
        raise ValidationError(f"the embedding holds a non-finite value ({array[pos]}) at position {pos}")
    norm = math.sqrt(float(np.dot(array.astype(np.float64), array.astype(np.float64))))
    if norm == 0.0 or not math.isfinite(norm):
        raise ValidationError("the embedding is all zeros (or its norm overflows): cosine similarity is undefined")
    return PgVector(array)


def check_text(name: str, value: str | None) -> None:
    """PostgreSQL text cannot hold NUL; say so rather than fail inside the driver."""
    if value is not None and "\x00" in value:
        raise ValidationError(f"{name} must not contain NUL (\\x00) characters: PostgreSQL text cannot hold them")


def check_metadata(metadata_json: str | None) -> str | None:
    """The metadata JSON to store (None for absent or empty).

    Raises:
        ValidationError: not a JSON object, or holding a NUL character.
    """
    if metadata_json is None:
        return None
    try:
        value = msgspec.json.decode(metadata_json)
    except msgspec.DecodeError as err:
        raise ValidationError(f"metadata is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ValidationError("metadata must be a dict")
    if "\\u0000" in metadata_json:
        raise ValidationError("metadata must not contain NUL (\\x00) characters: PostgreSQL text cannot hold them")
    return metadata_json if value else None


def md5_hex(text: str) -> str:
    """MD5 hex digest of a text, as Mem0 stores in ``hash``."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def memory_item(row: Sequence[Any], score: float | None = None) -> dict[str, Any]:
    """A memory as a dict: ids/actor/role only when set, ``metadata`` None when empty."""
    item: dict[str, Any] = {"id": row[0], "memory": row[1], "hash": row[2], "metadata": row[3] or None}
    if score is not None:
        item["score"] = score
    item["created_at"] = row[4]
    item["updated_at"] = row[5]
    for key, value in zip(_OPTIONAL_KEYS, row[6:11]):
        if value is not None:
            item[key] = value
    return item


def history_event(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row[0],
        "memory_id": row[1],
        "old_memory": row[2],
        "new_memory": row[3],
        "event": row[4],
        "created_at": row[5],
        "updated_at": row[6],
        "is_deleted": row[7],
        "actor_id": row[8],
        "role": row[9],
    }
