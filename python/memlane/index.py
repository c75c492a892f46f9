"""A standalone vector index: HNSW with an exact scan for small id lists.

``HnswIndex`` is the index memlane's embedded store searches with, exposed on its own
so it can be used (and benchmarked) like hnswlib: numpy in, numpy out, the GIL
released while it builds and searches. Ids are unsigned 32-bit integers chosen by the
caller. Scores are similarities, higher is better: cosine similarity for
``metric="cosine"``, the inner product for ``"dot"``, and minus the squared Euclidean
distance for ``"l2"``.

Example:
    >>> import numpy as np
    >>> from memlane.index import HnswIndex
    >>> index = HnswIndex(dims=3)
    >>> index.add(np.array([1, 2]), np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    >>> ids, scores = index.search(np.array([1, 0.1, 0], dtype=np.float32), k=1)
    >>> int(ids[0])
    1
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import numpy.typing as npt

from memlane import _native
from memlane.errors import ValidationError

__all__ = ["DEFAULT_SEED", "HnswIndex", "Metric"]

Metric = Literal["cosine", "dot", "l2"]
"""How vectors are compared (``"ip"`` and ``"euclidean"`` are accepted as aliases)."""

DEFAULT_SEED = 0x6D656D6C616E6533
"""Seed of the level generator when none is given: builds are reproducible."""

_MAX_ID = 2**32 - 1


def _ids(ids: npt.ArrayLike, what: str = "ids") -> npt.NDArray[np.uint32]:
    """Checks ids and returns them as a contiguous uint32 array."""
    arr = np.asarray(ids)
    if arr.dtype == np.uint32:
        return np.ascontiguousarray(arr.reshape(-1))
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(f"{what} must be integers, got dtype {arr.dtype}")
    arr = arr.reshape(-1)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > _MAX_ID):
        raise ValidationError(f"{what} must be in 0..{_MAX_ID}")
    return np.ascontiguousarray(arr, dtype=np.uint32)


def _matrix(vectors: npt.ArrayLike, dims: int, what: str) -> npt.NDArray[np.float32]:
    """Returns `vectors` as a C-contiguous float32 (n, dims) array."""
    arr = np.asarray(vectors)
    if arr.dtype != np.float32 or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dims:
        raise ValidationError(f"{what} must have shape (n, {dims}), got {np.shape(vectors)}")
    return arr


class HnswIndex:
    """An HNSW graph (Malkov & Yashunin) over uint32 ids, with exact search for short
    id lists.

    Args:
        dims: The vector length.
        metric: ``"cosine"`` (vectors are normalised on the way in), ``"dot"`` or
            ``"l2"``.
        m: Links per node (level 0 keeps ``2 * m``), hnswlib's ``M``.
        ef_construction: Candidates considered when linking a node.
        ef_search: Default candidates kept by a search (``ef`` overrides it).
        seed: Seed of the level generator.

    Raises:
        ValidationError: A parameter is out of range or the metric is unknown.

    Example:
        >>> index = HnswIndex(dims=384, metric="cosine", m=16, ef_construction=200)
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        dims: int,
        metric: Metric | str = "cosine",
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self._native = _native.HnswIndex(dims, metric, m, ef_construction, ef_search, seed)

    @classmethod
    def _wrap(cls, native: _native.HnswIndex) -> HnswIndex:
        obj = cls.__new__(cls)
        obj._native = native
        return obj

    def add(
        self,
        ids: npt.ArrayLike,
        vectors: npt.ArrayLike,
        *,
        num_threads: int = 0,
    ) -> None:
        """Inserts vectors, or replaces the vectors of ids already present.

        Args:
            ids: ``n`` ids (uint32, or any integer dtype within 0..2**32-1).
            vectors: An ``(n, dims)`` array (converted to float32).
            num_threads: Threads that link the new nodes; 0 uses every core.

        Raises:
            ValidationError: Wrong shapes, ids out of range, non-finite values, or an
                all-zero vector under cosine. Nothing is inserted then.

        Example:
            >>> index.add(np.arange(2), np.random.rand(2, index.dims))
        """
        ids_arr = _ids(ids)
        matrix = _matrix(vectors, self.dims, "vectors")
        if matrix.shape[0] != ids_arr.shape[0]:
            raise ValidationError(f"{ids_arr.shape[0]} ids but {matrix.shape[0]} vectors")
        self._native.add(ids_arr, matrix, num_threads)

    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        ef: int | None = None,
        *,
        allowed: npt.ArrayLike | None = None,
        num_threads: int = 0,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The ``k`` nearest ids of each query, best first.

        Args:
            queries: One query ``(dims,)`` or a batch ``(nq, dims)``.
            k: Results per query.
            ef: Candidates kept while searching the graph (recall/speed trade-off);
                ``None`` uses ``ef_search``. At least ``k`` is used.
            allowed: Only these ids may be returned. A short list (one user's
                memories) is searched exactly by a SIMD scan; a long one filters the
                graph search.
            num_threads: Threads for a batch; 0 uses every core.

        Returns:
            ``(ids, scores)``: int64 and float32 arrays of shape ``(k,)`` for one query
            or ``(nq, k)`` for a batch; scores are higher-is-better. Missing results
            (fewer than ``k`` eligible ids) are id -1 with score -inf.

        Raises:
            ValidationError: Wrong shape, non-finite values, or a zero query under
                cosine.

        Example:
            >>> ids, scores = index.search(query, k=5, allowed=np.array([3, 4, 9]))
        """
        if k < 0:
            raise ValidationError(f"k must be >= 0, got {k}")
        if isinstance(queries, np.ndarray) and (allowed is None or isinstance(allowed, np.ndarray)):
            try:
                # Fast path: float32 C-contiguous queries and uint32 ids go straight in
                # (the native side raises TypeError for any other dtype or layout).
                return self._native.search(queries, k, ef or 0, allowed, num_threads)
            except TypeError:
                pass
        single = np.ndim(queries) == 1
        matrix = _matrix(queries, self.dims, "queries")
        allowed_arr = None if allowed is None else _ids(allowed, "allowed")
        ids, scores = self._native.search(
            matrix[0] if single else matrix, k, ef or 0, allowed_arr, num_threads
        )
        return ids, scores

    def remove(self, ids: npt.ArrayLike) -> int:
        """Removes ids (absent ones are ignored); returns how many were present.

        Example:
            >>> index.remove([3, 4])
            2
        """
        return int(self._native.remove(_ids(ids)))

    def consolidate(self) -> None:
        """Repairs removed nodes out of the graph and frees their memory now (it also
        happens automatically once they make up a fifth of the graph)."""
        self._native.consolidate()

    def save(self, path: str | os.PathLike[str], tag: int = 0) -> None:
        """Writes a snapshot (graph and vectors, checksummed) to ``path``, atomically.

        Args:
            path: The file to write (a ``.tmp`` sibling is renamed over it).
            tag: A number stored with the snapshot, returned as ``tag`` on load.

        Raises:
            StoreError: The file cannot be written.
        """
        self._native.save(os.fspath(path), tag)

    @classmethod
    def load(cls, path: str | os.PathLike[str], dims: int | None = None) -> HnswIndex:
        """Reads a snapshot written by :meth:`save`.

        Args:
            path: The snapshot file.
            dims: If given, a snapshot of another dimension is an error.

        Returns:
            The index; its ``tag`` is the one saved.

        Raises:
            StoreError: The file is missing, corrupt, truncated, not a snapshot, or of
                the wrong dimension. Nothing is ever loaded from a bad file.

        Example:
            >>> index = HnswIndex.load("vectors.idx", dims=384)
        """
        return cls._wrap(_native.HnswIndex.load(os.fspath(path), dims))

    def __len__(self) -> int:
        return len(self._native)

    def __contains__(self, id_: object) -> bool:
        return isinstance(id_, (int, np.integer)) and int(id_) in self._native

    def __repr__(self) -> str:
        return (
            f"HnswIndex(dims={self.dims}, metric={self.metric!r}, m={self.m}, "
            f"ef_construction={self.ef_construction}, len={len(self)})"
        )

    @property
    def dims(self) -> int:
        """The vector length."""
        return int(self._native.dims)

    @property
    def metric(self) -> str:
        """``"cosine"``, ``"dot"`` or ``"l2"``."""
        return str(self._native.metric)

    @property
    def m(self) -> int:
        """Links per node on the upper levels."""
        return int(self._native.m)

    @property
    def ef_construction(self) -> int:
        """Candidates considered when linking a node."""
        return int(self._native.ef_construction)

    @property
    def ef_search(self) -> int:
        """Default candidates kept by a search."""
        return int(self._native.ef_search)

    @property
    def tag(self) -> int:
        """The tag of the snapshot this index was loaded from (0 if built)."""
        return int(self._native.tag)

    @property
    def tombstones(self) -> int:
        """Removed ids whose nodes still route searches until consolidation."""
        return int(self._native.tombstones)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the index (vectors, graph, id map)."""
        return int(self._native.memory_bytes)

    @property
    def memory_per_vector(self) -> float:
        """``memory_bytes`` divided by the number of live vectors."""
        n = len(self)
        return self.memory_bytes / n if n else 0.0

    @property
    def kernels(self) -> str:
        """The SIMD kernels chosen for this CPU (``"avx512f"``, ``"avx2+fma"``,
        ``"neon"`` or ``"scalar"``)."""
        return str(self._native.kernels)
