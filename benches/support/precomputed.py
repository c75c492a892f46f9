"""A free embedder and seeded synthetic data, so benchmarks measure the store alone.

Real embedders cost milliseconds (a network round trip or a model run) and would drown the
store's microseconds. :class:`PrecomputedEmbedder` answers from a table filled in advance,
so the only work left per call is a dict lookup.

The data imitate what a memory store holds: many users, each with their own memories, and
vectors that cluster by topic (a Gaussian mixture) rather than uniform noise, so the top-k
of a query is a real ranking and not a near-tie among random directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_SEED",
    "Dataset",
    "PrecomputedEmbedder",
    "make_dataset",
    "make_vectors",
]

#: all-MiniLM-L6-v2's width, the common small embedding model.
DEFAULT_DIMS = 384
#: Fixed so that every run (and every machine) benchmarks the same data.
DEFAULT_SEED = 20240601
#: Number of topics in the mixture; more than users have, so users overlap in topics.
DEFAULT_CLUSTERS = 64
#: Spread of a point around its topic centre, relative to the centre's unit length.
#: 0.6 keeps clusters distinct while leaving real ordering inside a cluster.
CLUSTER_SPREAD = 0.6


class PrecomputedEmbedder:
    """An embedder that looks texts up in a table: the cost of embedding becomes ~nothing.

    Satisfies memlane's embedder protocol (``dims``, ``async embed``, ``async aclose``).
    ``embed`` never awaits anything, so it adds no event-loop hop either.

    Args:
        table: text -> float32 vector of length ``dims``.
        dims: the vector width.

    Raises:
        KeyError: from ``embed``, for a text missing from the table (a bug in the benchmark).
    """

    def __init__(self, table: dict[str, np.ndarray], dims: int) -> None:
        self._table = table
        self._dims = dims
        self.calls = 0

    @property
    def dims(self) -> int:
        return self._dims

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if len(texts) == 1:
            # A (1, dims) view of the stored row: no copy on the hot path of search.
            return self._table[texts[0]][np.newaxis, :]
        if not texts:
            return np.zeros((0, self._dims), dtype=np.float32)
        return np.stack([self._table[text] for text in texts])

    async def aclose(self) -> None:
        """Nothing to release."""


def make_vectors(
    count: int,
    dims: int = DEFAULT_DIMS,
    *,
    clusters: int = DEFAULT_CLUSTERS,
    rng: np.random.Generator,
) -> np.ndarray:
    """``count`` L2-normalised float32 vectors drawn from a Gaussian mixture.

    Each vector is a random topic centre (unit length) plus isotropic noise whose total
    length is about ``CLUSTER_SPREAD``, then normalised to unit length.
    """
    centres = rng.standard_normal((clusters, dims))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    topic = rng.integers(0, clusters, size=count)
    # Noise of per-component sigma spread/sqrt(d) has expected length ~= spread.
    noise = rng.standard_normal((count, dims)) * (CLUSTER_SPREAD / np.sqrt(dims))
    points = centres[topic] + noise
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return np.ascontiguousarray(points, dtype=np.float32)


@dataclass(frozen=True)
class Dataset:
    """Synthetic memories and queries with their vectors.

    Memory ``i`` belongs to ``user_ids[i]``; users are interleaved round-robin, so adding
    in order spreads every user's memories over the whole run (as real traffic would).
    """

    texts: list[str]
    user_ids: list[str]
    vectors: np.ndarray
    users: list[str]
    query_texts: list[str]
    query_vectors: np.ndarray

    def embedder(self) -> PrecomputedEmbedder:
        """An embedder that knows every memory and query text of this dataset."""
        table = dict(zip(self.texts, self.vectors))
        table.update(zip(self.query_texts, self.query_vectors))
        return PrecomputedEmbedder(table, self.vectors.shape[1])

    def user_matrix(self, user: str) -> np.ndarray:
        """That user's vectors as one contiguous (n, dims) array (the brute-force baseline)."""
        rows = [i for i, u in enumerate(self.user_ids) if u == user]
        return np.ascontiguousarray(self.vectors[rows])


def make_dataset(
    memories: int,
    users: int,
    *,
    queries: int = 1000,
    dims: int = DEFAULT_DIMS,
    seed: int = DEFAULT_SEED,
    tag: str = "",
) -> Dataset:
    """A seeded dataset: ``memories`` texts over ``users`` users, plus ``queries`` queries.

    Args:
        memories: number of memory texts.
        users: number of distinct users (``memories // users`` each, remainder spread).
        queries: number of query texts (for search).
        dims: vector width.
        seed: RNG seed; the same seed gives byte-identical data.
        tag: prefix that keeps texts of two datasets apart (a text is its own key).
    """
    rng = np.random.default_rng(seed)
    vectors = make_vectors(memories + queries, dims, rng=rng)
    user_names = [f"user-{u:04d}" for u in range(users)]
    user_ids = [user_names[i % users] for i in range(memories)]
    texts = [f"{tag}memory {i} of {user_ids[i]}" for i in range(memories)]
    query_texts = [f"{tag}query {q}" for q in range(queries)]
    return Dataset(
        texts=texts,
        user_ids=user_ids,
        vectors=vectors[:memories],
        users=user_names,
        query_texts=query_texts,
        query_vectors=vectors[memories:],
    )
