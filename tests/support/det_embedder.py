"""Deterministic in-process embedders for the robustness suites (no network, no model).

They satisfy memlane's ``Embedder`` protocol (``dims``, ``async embed``, ``async aclose``)
and are passed as ``AsyncMemory(config, embedder=obj)``.

- :class:`DigestEmbedder`: each text's vector is drawn from a generator seeded with the
  text's BLAKE2b digest. Identical texts get identical vectors, different texts get
  (almost surely) far-apart ones; cost is one hash pass over the text, so 10 MB texts are
  cheap. Searching a memory's exact text scores ~1.0 in semantic mode.
- :class:`WordEmbedder`: the fake OpenAI server's word-hashing vectors
  (:func:`tests.support.fake_openai.fake_vector`), for tests that want texts sharing
  words to be near each other.
- :class:`BadEmbedder`: returns a scripted malformed answer (NaN, inf, zeros, wrong
  length, wrong shape, wrong type...) for the next call, then behaves like
  :class:`DigestEmbedder`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from tests.support.fake_openai import fake_vector

__all__ = ["BadEmbedder", "DigestEmbedder", "WordEmbedder", "digest_vector"]


def digest_vector(text: str, dims: int) -> np.ndarray:
    """The float32 vector :class:`DigestEmbedder` gives ``text`` (not normalised)."""
    seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dims).astype(np.float32)


class DigestEmbedder:
    """Text digest → pseudo-random vector. Counts calls and texts."""

    def __init__(self, dims: int = 32) -> None:
        self._dims = dims
        self.calls = 0
        self.texts = 0
        self.closed = False

    @property
    def dims(self) -> int:
        return self._dims

    def vector(self, text: str) -> np.ndarray:
        return digest_vector(text, self._dims)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        if not texts:
            return np.zeros((0, self._dims), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts]).astype(np.float32)

    async def aclose(self) -> None:
        self.closed = True


class WordEmbedder(DigestEmbedder):
    """The fake server's word-hashing vectors, computed in process."""

    def vector(self, text: str) -> np.ndarray:
        return np.asarray(fake_vector(text, self._dims), dtype=np.float32)


class BadEmbedder(DigestEmbedder):
    """Answers the next ``embed`` call with a malformed result, once per :meth:`arm`.

    ``kind`` is one of :data:`KINDS`; after one bad answer it is disarmed.
    """

    KINDS: ClassVar[dict[str, Callable[[np.ndarray], Any] | None]] = {
        "nan": lambda v: _poke(v, np.nan),
        "inf": lambda v: _poke(v, np.inf),
        "-inf": lambda v: _poke(v, -np.inf),
        "zeros": lambda v: np.zeros_like(v),
        "tiny-denormal": lambda v: np.full_like(v, 1e-45),
        "too-long": lambda v: np.concatenate([v, v[:, :1]], axis=1),
        "too-short": lambda v: v[:, :-1].copy(),
        "empty-rows": lambda v: v[:, :0].copy(),
        "one-dimensional": lambda v: v[0].copy(),
        "three-dimensional": lambda v: v[:, None, :].copy(),
        "extra-row": lambda v: np.concatenate([v, v[:1]], axis=0),
        "missing-row": lambda v: v[:-1].copy(),
        "float64-huge": lambda v: np.full(v.shape, 1e300, dtype=np.float64),
        "strings": lambda v: v.astype(str),
        "objects": lambda v: np.array([[object()] * v.shape[1]] * v.shape[0], dtype=object),
        "python-list": lambda v: v.tolist(),
        "none": lambda v: None,
        "raises": None,  # special-cased: embed raises RuntimeError
    }

    def __init__(self, dims: int = 32) -> None:
        super().__init__(dims)
        self.armed: str | None = None

    def arm(self, kind: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(kind)
        self.armed = kind

    async def embed(self, texts: Sequence[str]) -> Any:
        good = await super().embed(texts)
        kind, self.armed = self.armed, None
        if kind is None:
            return good
        if kind == "raises":
            raise RuntimeError("the bad embedder failed on purpose")
        return self.KINDS[kind](good)


def _poke(v: np.ndarray, value: float) -> np.ndarray:
    out = v.copy()
    out[0, 0] = value
    return out
