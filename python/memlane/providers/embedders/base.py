"""The contract every embedder satisfies, and the checks that enforce it.

The store trusts the arrays it is handed: it copies them into SQLite and the index without
looking at them again. So the embedders check their output here, once, at the boundary —
a NaN that slipped into the index would poison every distance computed against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from memlane.errors import EmbeddingError, ValidationError

__all__ = ["Embedder", "check_texts", "check_vectors", "empty_vectors"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32 vectors.

    Implementations: :class:`~memlane.providers.embedders.openai_embedder.OpenAIEmbedder`
    and :class:`~memlane.providers.embedders.local_embedder.LocalEmbedder`.
    """

    @property
    def dims(self) -> int | None:
        """The vector dimension, or ``None`` until the first response reveals it."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``, one row per text, in order.

        Args:
            texts: The texts to embed. An empty sequence is allowed.

        Returns:
            A C-contiguous float32 array of shape ``(len(texts), dims)``; ``(0, dims or 0)``
            for an empty sequence.

        Raises:
            EmbeddingError: The model or server failed, or returned unusable vectors (wrong
                count, inconsistent length, NaN or infinity).
            ValidationError: ``texts`` is not a sequence of strings.

        Example:
            >>> vectors = await embedder.embed(["I like tea", "I like coffee"])
        """
        ...

    async def aclose(self) -> None:
        """Release the embedder's resources (HTTP connections, worker threads)."""
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate an ``embed`` argument and return it as a list.

    Args:
        texts: What the caller passed to ``embed``.

    Returns:
        The texts as a new list (so later mutation by the caller cannot change a batch
        that is already queued).

    Raises:
        ValidationError: ``texts`` is a bare string (which would otherwise be embedded one
            character at a time) or holds something other than strings.
    """
    if isinstance(texts, (str, bytes)):
        raise ValidationError("embed() takes a sequence of strings, not a single string")
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise ValidationError(
                f"embed() takes strings; item {position} is {type(text).__name__}"
            )
    return items


def empty_vectors(dims: int | None) -> np.ndarray:
    """The result of embedding nothing: shape ``(0, dims or 0)``.

    Args:
        dims: The embedder's dimension, if known.

    Returns:
        An empty C-contiguous float32 array.
    """
    return np.zeros((0, dims or 0), dtype=np.float32)


def check_vectors(vectors: np.ndarray, count: int, dims: int | None = None) -> np.ndarray:
    """Check an embedder's output against the contract.

    Args:
        vectors: The array the model or server produced.
        count: How many texts were sent; there must be exactly one row for each.
        dims: The dimension the rows must have, when it is known in advance.

    Returns:
        ``vectors`` as a C-contiguous float32 array (a no-op when it already is one).

    Raises:
        EmbeddingError: Wrong number of rows, wrong width, zero width, or a NaN or
            infinite value.
    """
    if vectors.ndim != 2:
        raise EmbeddingError(f"embedder returned an array of {vectors.ndim} dimensions, expected 2")
    rows, width = vectors.shape
    if rows != count:
        raise EmbeddingError(f"embedder returned {rows} vectors for {count} texts")
    if count and width == 0:
        raise EmbeddingError("embedder returned empty vectors")
    if dims is not None and width != dims:
        raise EmbeddingError(f"embedder returned vectors of length {width}, expected {dims}")
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if not np.isfinite(out).all():
        bad_row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        raise EmbeddingError(f"embedder returned a NaN or infinite value (vector {bad_row})")
    return out
