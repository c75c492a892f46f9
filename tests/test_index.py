"""memlane.index.HnswIndex: recall against brute force on clustered data, deletes and
re-inserts, filtered (scoped) search, snapshots, and argument validation.

Data is a seeded Gaussian mixture (clustered, like real embeddings: uniform random data
is far easier for a graph index and hides bugs); the oracle is numpy brute force.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memlane.errors import StoreError, ValidationError
from memlane.index import HnswIndex

N = 5_000
DIMS = 64
CENTRES = 50
NQ = 200
K = 10

F32 = npt.NDArray[np.float32]


def mixture(seed: int, n: int, dims: int = DIMS) -> F32:
    """`n` unit vectors around `CENTRES` Gaussian centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, dims)).astype(np.float32)
    x = centres[rng.integers(0, CENTRES, n)] + 0.35 * rng.standard_normal((n, dims)).astype(
        np.float32
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top_k(data: F32, ids: npt.NDArray[np.int64], queries: F32, k: int = K) -> np.ndarray:
    """Brute-force top-k ids by cosine (data and queries are unit vectors)."""
    scores = queries @ data.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order]


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(g.tolist()) & set(t.tolist())) for g, t in zip(got, truth))
    return hits / truth.size


@pytest.fixture(scope="module")
def built() -> tuple[HnswIndex, F32, F32]:
    all_ = mixture(42, N + NQ)
    data, queries = all_[:N], all_[N:]
    index = HnswIndex(DIMS, metric="cosine", m=16, ef_construction=200, seed=7)
    index.add(np.arange(N, dtype=np.uint32), data, num_threads=2)
    return index, data, queries


def test_recall_at_10_on_clustered_data(built: tuple[HnswIndex, F32, F32]) -> None:
    index, data, queries = built
    truth = exact_top_k(data, np.arange(N), queries)
    ids, scores = index.search(queries, k=K, ef=64, num_threads=2)
    assert ids.shape == (NQ, K) and ids.dtype == np.int64
    assert scores.shape == (NQ, K) and scores.dtype == np.float32
    assert recall(ids, truth) >= 0.95
    assert np.all(np.diff(scores, axis=1) <= 0), "best first"
    # Scores are exact cosine similarities of the returned ids.
    want = np.einsum("qd,qkd->qk", queries, data[ids])
    np.testing.assert_allclose(scores, want, atol=1e-5)


def test_single_query_and_batch_agree(built: tuple[HnswIndex, F32, F32]) -> None:
    index, _, queries = built
    ids, scores = index.search(queries[:20], k=K, ef=48)
    for i in range(20):
        one_ids, one_scores = index.search(queries[i], k=K, ef=48)
        assert one_ids.shape == (K,)
        np.testing.assert_array_equal(one_ids, ids[i])
        np.testing.assert_array_equal(one_scores, scores[i])


def test_len_contains_and_memory(built: tuple[HnswIndex, F32, F32]) -> None:
    index, _, _ = built
    assert len(index) == N
    assert 0 in index and N - 1 in index and N not in index and -1 not in index
    assert 300 < index.memory_per_vector < 3_000
    assert index.kernels in {"avx512f", "avx2+fma", "neon", "scalar"}
    assert "dims=64" in repr(index)


@pytest.mark.parametrize("share", [0.001, 0.01, 0.1])
def test_allowed_ids_return_the_exact_top_k(
    built: tuple[HnswIndex, F32, F32], share: float
) -> None:
    index, data, queries = built
    rng = np.random.default_rng(int(share * 1000))
    allowed = np.flatnonzero(rng.random(N) < share).astype(np.uint32)
    ids, _ = index.search(queries, k=K, allowed=allowed)
    truth = exact_top_k(data[allowed], allowed.astype(np.int64), queries, k=min(K, allowed.size))
    assert set(ids[ids >= 0].tolist()) <= set(allowed.tolist()), "never outside the filter"
    np.testing.assert_array_equal(ids[:, : truth.shape[1]], truth)
    if allowed.size < K:
        assert np.all(ids[:, allowed.size :] == -1)


def test_large_allowed_lists_filter_the_graph_search() -> None:
    n = 12_000  # more allowed ids than the planner scans: the filtered graph walk
    all_ = mixture(11, n + NQ)
    data, queries = all_[:n], all_[n:]
    index = HnswIndex(DIMS)
    index.add(np.arange(n), data, num_threads=2)
    allowed = np.arange(0, n, 4, dtype=np.uint32)[:3000].repeat(3) + np.tile([0, 1, 2], 3000)
    assert allowed.size == 9_000
    ids, _ = index.search(queries, k=K, ef=64, allowed=allowed)
    assert set(ids.ravel().tolist()) <= set(allowed.tolist())
    truth = exact_top_k(data[allowed], allowed.astype(np.int64), queries)
    assert recall(ids, truth) >= 0.95


def test_recall_holds_after_30_percent_deletes_and_reinserts() -> None:
    n = 3_000
    all_ = mixture(5, n + NQ)
    data, queries = all_[:n].copy(), all_[n:]
    index = HnswIndex(DIMS)
    index.add(np.arange(n), data)
    rng = np.random.default_rng(1)
    victims = np.flatnonzero(rng.random(n) < 0.3)
    assert index.remove(victims) == victims.size
    assert index.remove(victims[:5]) == 0
    live = np.setdiff1d(np.arange(n), victims)
    ids, _ = index.search(queries, k=K)
    assert not set(ids.ravel().tolist()) & set(victims.tolist()), "a removed id came back"
    assert recall(ids, exact_top_k(data[live], live, queries)) >= 0.95
    # Re-insert the removed ids with new vectors.
    data[victims] = mixture(6, victims.size)
    index.add(victims, data[victims])
    index.consolidate()
    assert len(index) == n and index.tombstones == 0
    ids, _ = index.search(queries, k=K)
    assert recall(ids, exact_top_k(data, np.arange(n), queries)) >= 0.95


def test_snapshot_round_trip(built: tuple[HnswIndex, F32, F32], tmp_path: Path) -> None:
    index, _, queries = built
    path = tmp_path / "vectors.idx"
    index.save(path, tag=123)
    loaded = HnswIndex.load(path, dims=DIMS)
    assert loaded.tag == 123 and len(loaded) == len(index)
    assert (loaded.m, loaded.ef_construction, loaded.metric) == (16, 200, "cosine")
    for a, b in zip(index.search(queries, k=K, ef=32), loaded.search(queries, k=K, ef=32)):
        np.testing.assert_array_equal(a, b)


def test_bad_snapshots_raise_store_error(built: tuple[HnswIndex, F32, F32], tmp_path: Path) -> None:
    index, _, _ = built
    path = tmp_path / "vectors.idx"
    index.save(path)
    raw = path.read_bytes()
    with pytest.raises(StoreError, match="64-dimensional"):
        HnswIndex.load(path, dims=32)
    for name, blob in {
        "truncated": raw[: len(raw) // 2],
        "corrupt": raw[:1000] + bytes([raw[1000] ^ 0x40]) + raw[1001:],
        "foreign": b"SQLite format 3\x00" + raw[16:],
        "empty": b"",
    }.items():
        bad = tmp_path / f"{name}.idx"
        bad.write_bytes(blob)
        with pytest.raises(StoreError):
            HnswIndex.load(bad)
    with pytest.raises(StoreError):
        HnswIndex.load(tmp_path / "missing.idx")


def test_invalid_arguments_raise_validation_error() -> None:
    index = HnswIndex(4)
    with pytest.raises(ValidationError):
        index.add([1, 2], np.ones((3, 4)))
    with pytest.raises(ValidationError):
        index.add([1], np.ones((1, 5)))
    with pytest.raises(ValueError):
        index.add([-1], np.ones((1, 4)))
    with pytest.raises(ValidationError):
        index.add([2**32], np.ones((1, 4)))
    with pytest.raises(ValidationError):
        index.add([1], np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValidationError):
        index.add([1], np.zeros((1, 4)))  # cosine of a zero vector
    with pytest.raises(ValidationError):
        index.search(np.ones(3))
    with pytest.raises(ValidationError):
        HnswIndex(4, metric="manhattan")
    with pytest.raises(ValidationError):
        HnswIndex(0)
    assert len(index) == 0, "nothing was inserted by a failed add"


def test_other_metrics_and_padding() -> None:
    index = HnswIndex(2, metric="l2")
    index.add(np.array([10, 20], dtype=np.int64), np.array([[0.0, 0.0], [3.0, 4.0]]))
    ids, scores = index.search(np.array([0.0, 0.0]), k=3)
    assert ids.tolist() == [10, 20, -1]
    assert scores[:2].tolist() == [0.0, -25.0] and scores[2] == -np.inf
    dot = HnswIndex(2, metric="dot")
    dot.add([1, 2], np.array([[1.0, 0.0], [5.0, 0.0]]))
    assert dot.search(np.array([1.0, 0.0]), k=1)[0].tolist() == [2]


def test_searches_run_concurrently_with_adds() -> None:
    data = mixture(9, 2_000)
    index = HnswIndex(DIMS)
    index.add(np.arange(500), data[:500])
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for i in range(200):
                ids, _ = index.search(data[i], k=5, ef=32)
                assert ids[0] >= 0
        except Exception as e:  # noqa: BLE001 - any failure is reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for start in range(500, 2_000, 250):
        index.add(np.arange(start, start + 250), data[start : start + 250])
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 2_000


@settings(max_examples=30, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.booleans(), st.integers(min_value=0, max_value=40)),
        min_size=1,
        max_size=60,
    )
)
def test_a_removed_id_is_never_returned(ops: list[tuple[bool, int]]) -> None:
    index = HnswIndex(8, m=4, ef_construction=16)
    vectors = mixture(3, 41, dims=8)
    present: set[int] = set()
    for add, id_ in ops:
        if add:
            index.add([id_], vectors[id_ : id_ + 1])
            present.add(id_)
        else:
            index.remove([id_])
            present.discard(id_)
    assert len(index) == len(present)
    ids, _ = index.search(vectors[:5], k=50, ef=64)
    got = set(ids[ids >= 0].tolist())
    assert got <= present
    assert got == present, "with ef >= n every live id is found"
