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

import msgspec
import numpy as np
from psycopg import AsyncConnection
from psycopg.adapt import Dumper
from psycopg.pq import Format

from memlane.errors import ValidationError

__all__ = [
    "HISTORY_COLUMNS",
    "MEMORY_COLUMNS",
    "PgVector",
    "check_metadata",
    "check_vector",
    "configure_connection",
    "escape",
    "escape_json",
    "escape_opt",
    "history_event",
    "md5_hex",
    "memory_item",
    "unescape",
]

#: Columns every memory read selects, in the order :func:`memory_item` expects.
MEMORY_COLUMNS = "id, memory, hash, metadata_text, created_at, updated_at, user_id, agent_id, run_id, actor_id, role"
HISTORY_COLUMNS = "id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role"
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
    """Pool hook for each new connection: the vector dumper."""
    conn.adapters.register_dumper(PgVector, _PgVectorDumper)


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
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused below
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
        value = (
            "NaN" if np.isnan(array[pos]) else ("inf" if array[pos] > 0 else "-inf")
        )  # as Rust prints them
        raise ValidationError(f"the embedding holds a non-finite value ({value}) at position {pos}")
    norm = math.sqrt(float(np.dot(array.astype(np.float64), array.astype(np.float64))))
    if norm == 0.0 or not math.isfinite(norm):
        raise ValidationError(
            "the embedding is all zeros (or its norm overflows): cosine similarity is undefined"
        )
    return PgVector(array)


# PostgreSQL text (and jsonb) cannot hold NUL, which the API accepts like any other code
# point. Stored text therefore escapes it: \x00 -> \x01\x01 and \x01 -> \x01\x02. The
# mapping is injective and keeps code-point order (so equality, ordering and prefixes
# behave as on the original text); only texts holding \x00 or \x01 are touched.
def escape(text: str) -> str:
    """Text as stored: NUL-free, same order. See the note above."""
    if "\x00" in text or "\x01" in text:
        return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")
    return text


def unescape(text: str) -> str:
    """Inverse of :func:`escape` (each \x01 starts a pair, so two passes are exact)."""
    if "\x01" in text:
        return text.replace("\x01\x01", "\x00").replace("\x01\x02", "\x01")
    return text


def escape_opt(text: str | None) -> str | None:
    return None if text is None else escape(text)


def unescape_opt(text: str | None) -> str | None:
    return None if text is None else unescape(text)


def escape_json(value: Any) -> Any:
    """A JSON value with every string (keys too) escaped, for the jsonb copy filters read."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, list):
        return [escape_json(v) for v in value]
    if isinstance(value, dict):
        return {escape(k): escape_json(v) for k, v in value.items()}
    return value


def check_metadata(metadata_json: str | None) -> tuple[str | None, str | None]:
    """The metadata to store: (jsonb text for filters, exact text for reads), both None
    when absent or empty.

    Raises:
        ValidationError: not a JSON object.
    """
    if metadata_json is None:
        return None, None
    try:
        value = msgspec.json.decode(metadata_json)
    except msgspec.DecodeError as err:
        raise ValidationError(f"metadata is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ValidationError("metadata must be a dict")
    if not value:
        return None, None
    searchable = metadata_json
    if "\\u000" in metadata_json:  # may hold \u0000 or \u0001: rewrite the jsonb copy
        searchable = msgspec.json.encode(escape_json(value)).decode()
    return searchable, metadata_json


def md5_hex(text: str) -> str:
    """MD5 hex digest of a text, as Mem0 stores in ``hash``."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def memory_item(row: Sequence[Any], score: float | None = None) -> dict[str, Any]:
    """A memory as a dict: ids/actor/role only when set, ``metadata`` None when empty."""
    metadata = msgspec.json.decode(row[3]) if row[3] else None
    item: dict[str, Any] = {
        "id": row[0],
        "memory": unescape(row[1]),
        "hash": row[2],
        "metadata": metadata or None,
    }
    if score is not None:
        item["score"] = score
    item["created_at"] = row[4]
    item["updated_at"] = row[5]
    for key, value in zip(_OPTIONAL_KEYS, row[6:11]):
        if value is not None:
            item[key] = unescape(value)
    return item


def history_event(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row[0],
        "memory_id": row[1],
        "old_memory": unescape_opt(row[2]),
        "new_memory": unescape_opt(row[3]),
        "event": row[4],
        "created_at": row[5],
        "updated_at": row[6],
        "is_deleted": row[7],
        "actor_id": unescape_opt(row[8]),
        "role": unescape_opt(row[9]),
    }
