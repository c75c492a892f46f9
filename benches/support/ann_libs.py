"""One small adapter per ANN library for benches/ann_bench.py: the same five calls
(build, set_ef, query, batch, memory_bytes) over each library's own API, every one set
to HNSW with M=16, ef_construction=200 and inner product on unit vectors (= cosine).

A library that is not installed raises ImportError from its constructor and the
benchmark skips it (and says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np

M = 16
EF_CONSTRUCTION = 200


class Library:
    """The calls the benchmark makes; ``query`` returns a 1-D array of ``k`` ids."""

    name = "?"

    def __init__(self, dims: int) -> None:
        self.dims = dims

    def build(self, data: np.ndarray, ids: np.ndarray, threads: int) -> None:
        raise NotImplementedError

    def set_ef(self, ef: int) -> None:
        raise NotImplementedError

    def query(self, q: np.ndarray, k: int, **scope: Any) -> np.ndarray:
        raise NotImplementedError

    def batch(self, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
        raise NotImplementedError

    def memory_bytes(self) -> int | None:
        """The library's own figure for its memory, if it reports one."""
        return None


class Memlane(Library):
    name = "memlane"

    def __init__(self, dims: int) -> None:
        super().__init__(dims)
        from memlane.index import HnswIndex

        self.index = HnswIndex(dims, metric="cosine", m=M, ef_construction=EF_CONSTRUCTION)
        self.ef = 64

    def build(self, data: np.ndarray, ids: np.ndarray, threads: int) -> None:
        self.index.add(ids, data, num_threads=threads)

    def set_ef(self, ef: int) -> None:
        self.ef = ef

    def query(self, q: np.ndarray, k: int, **scope: Any) -> np.ndarray:
        return self.index.search(q, k, self.ef, allowed=scope.get("allowed"))[0]

    def batch(self, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
        return self.index.search(queries, k, self.ef, num_threads=threads)[0]

    def memory_bytes(self) -> int | None:
        return self.index.memory_bytes


class Hnswlib(Library):
    name = "hnswlib"

    def __init__(self, dims: int) -> None:
        super().__init__(dims)
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=dims)

    def build(self, data: np.ndarray, ids: np.ndarray, threads: int) -> None:
        self.index.init_index(max_elements=len(data), M=M, ef_construction=EF_CONSTRUCTION)
        self.index.add_items(data, ids, num_threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def query(self, q: np.ndarray, k: int, **scope: Any) -> np.ndarray:
        rng = scope.get("allowed_range")
        if rng is None:
            return self.index.knn_query(q, k, num_threads=1)[0][0]
        lo, hi = rng
        return self.index.knn_query(q, k, num_threads=1, filter=lambda i: lo <= i < hi)[0][0]

    def batch(self, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
        return self.index.knn_query(queries, k, num_threads=threads)[0]


class Faiss(Library):
    name = "faiss"

    def __init__(self, dims: int) -> None:
        super().__init__(dims)
        import faiss

        self.faiss = faiss
        self.index = faiss.IndexHNSWFlat(dims, M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION

    def build(self, data: np.ndarray, ids: np.ndarray, threads: int) -> None:
        self.faiss.omp_set_num_threads(threads)
        self.index.add(data)  # ids are 0..n-1 in insertion order

    def set_ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def query(self, q: np.ndarray, k: int, **scope: Any) -> np.ndarray:
        self.faiss.omp_set_num_threads(1)
        return self.index.search(q.reshape(1, -1), k)[1][0]

    def batch(self, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
        self.faiss.omp_set_num_threads(threads)
        return self.index.search(queries, k)[1]


class Usearch(Library):
    name = "usearch"

    def __init__(self, dims: int) -> None:
        super().__init__(dims)
        from usearch.index import Index

        self.index = Index(
            ndim=dims, metric="ip", dtype="f32", connectivity=M, expansion_add=EF_CONSTRUCTION
        )

    def build(self, data: np.ndarray, ids: np.ndarray, threads: int) -> None:
        self.index.add(ids.astype(np.uint64), data, threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def query(self, q: np.ndarray, k: int, **scope: Any) -> np.ndarray:
        return np.asarray(self.index.search(q, k, threads=1).keys)

    def batch(self, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
        return np.asarray(self.index.search(queries, k, threads=threads).keys)

    def memory_bytes(self) -> int | None:
        return int(self.index.memory_usage)


LIBRARIES: dict[str, type[Library]] = {
    "memlane": Memlane,
    "hnswlib": Hnswlib,
    "faiss": Faiss,
    "usearch": Usearch,
}
