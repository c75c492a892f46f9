"""Embeddings from the OpenAI API, or any server that speaks its ``/v1/embeddings``.

Two choices keep this fast. Vectors travel as base64 float32 and are decoded straight into
numpy from the raw HTTP body: letting the openai client parse them would build a Python
float object per component (1,536 per text) only to pack them back into an array.
And concurrent ``embed`` calls are merged by :class:`EmbedCoalescer` into one request.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from memlane.errors import EmbeddingError, ValidationError
from memlane.providers.embedders.base import check_texts, check_vectors, empty_vectors
from memlane.providers.embedders.coalescer import DEFAULT_MAX_BATCH, EmbedCoalescer
from memlane.providers.embedders.loop_local import LoopLocal

if TYPE_CHECKING:
    # Imported lazily at run time: the openai package takes a noticeable fraction of a
    # second to import, and `import memlane` should not pay that for a local setup.
    import openai

__all__ = ["KNOWN_DIMS", "OpenAIEmbedder"]

#: Output width of OpenAI's models when no ``dimensions`` is requested.
KNOWN_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}

# Sent when a base_url is configured but no key: local OpenAI-compatible servers (Ollama,
# vLLM, llama.cpp) ignore the key, but the openai client refuses to start without one.
_PLACEHOLDER_KEY = "memlane-no-api-key"


class _Embedding(msgspec.Struct):
    """One item of the response's ``data``. Unknown fields are ignored."""

    index: int
    # base64 as asked; some compatible servers ignore encoding_format and send floats.
    embedding: str | list[float]


class _EmbeddingList(msgspec.Struct):
    """The part of an embeddings response we use."""

    data: list[_Embedding]


_DECODER = msgspec.json.Decoder(_EmbeddingList)


async def _close_client(client: openai.AsyncOpenAI) -> None:
    await client.close()


def _decode_vectors(body: bytes, count: int) -> np.ndarray:
    """Decode a raw embeddings response body into a ``(count, width)`` float32 array.

    Raises:
        EmbeddingError: The body is not an embeddings response, has the wrong number of
            vectors, duplicate or out-of-range indices, or vectors of different lengths.
    """
    try:
        items = _DECODER.decode(body).data
    except msgspec.DecodeError as exc:
        raise EmbeddingError(f"malformed embeddings response: {exc}") from exc
    if len(items) != count:
        raise EmbeddingError(f"embeddings response has {len(items)} vectors for {count} texts")
    rows: list[np.ndarray | None] = [None] * count
    for item in items:
        if not 0 <= item.index < count or rows[item.index] is not None:
            raise EmbeddingError(f"embeddings response has a bad or repeated index {item.index}")
        if isinstance(item.embedding, str):
            try:
                raw = base64.b64decode(item.embedding, validate=True)
                row = np.frombuffer(raw, dtype="<f4")
            except (binascii.Error, ValueError) as exc:
                raise EmbeddingError(f"vector {item.index} is not base64 float32: {exc}") from exc
        else:
            row = np.asarray(item.embedding, dtype=np.float32)
        rows[item.index] = row
    filled = [row for row in rows if row is not None]
    assert len(filled) == count  # `count` distinct indices in range filled every row
    width = len(filled[0]) if count else 0
    out = np.empty((count, width), dtype=np.float32)
    for index, row in enumerate(filled):
        if len(row) != width:
            raise EmbeddingError(
                f"embeddings response has vectors of different lengths ({width} and {len(row)})"
            )
        out[index] = row
    return out


class OpenAIEmbedder:
    """Embed texts with the OpenAI embeddings API or an OpenAI-compatible server.

    Args:
        model: The embedding model name.
        api_key: The API key; falls back to ``OPENAI_API_KEY``.
        base_url: The API root (e.g. ``http://localhost:11434/v1``); falls back to
            ``OPENAI_BASE_URL``, then OpenAI's own.
        dims: Ask the model for vectors of this length (``dimensions`` in the request;
            text-embedding-3 models only). ``None`` takes the model's native width.
        timeout: Seconds allowed for one HTTP request.
        max_retries: How often the openai client retries connection errors, 429 and 5xx.
        client: An ``openai.AsyncOpenAI`` to use instead of building one; then
            ``api_key``, ``base_url``, ``timeout`` and ``max_retries`` are not used, the
            caller keeps ownership (``aclose`` leaves it open), and it must only be used
            from one event loop, as httpx connections belong to the loop that opened them.
        max_batch: The most texts sent in one request.

    Raises:
        ValidationError: No API key anywhere and no ``base_url`` either, or an argument is
            out of range.

    Example:
        >>> embedder = OpenAIEmbedder("text-embedding-3-small", dims=512)
        >>> vectors = await embedder.embed(["likes tea"])     # shape (1, 512)
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        api_key: str | None = None,
        base_url: str | None = None,
        dims: int | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValidationError("embedder model must be a non-empty string")
        if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
            raise ValidationError(f"embedder dims must be a positive integer, got {dims!r}")
        if timeout <= 0:
            raise ValidationError(f"embedder timeout must be positive, got {timeout!r}")
        if max_retries < 0:
            raise ValidationError(f"embedder max_retries must be >= 0, got {max_retries!r}")
        if max_batch < 1:
            raise ValidationError(f"embedder max_batch must be >= 1, got {max_batch!r}")
        self._model = model
        self._dims = dims
        self._timeout = timeout
        self._max_retries = max_retries
        self._given_client = client
        self._base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if client is None and self._api_key is None:
            if self._base_url is None:
                raise ValidationError(
                    "the openai embedder needs an API key: set OPENAI_API_KEY (or pass "
                    "api_key / base_url), or configure the local embedder "
                    '(embedder={"provider": "local"}, pip install memlane[local])'
                )
            self._api_key = _PLACEHOLDER_KEY
        # Width seen in the first response, when neither configured nor known in advance.
        self._seen_dims: int | None = None
        # One client per event loop, closed when its loop shuts down: httpx connections
        # belong to the loop that opened them (see loop_local.py).
        self._clients: LoopLocal[openai.AsyncOpenAI] = LoopLocal(self._new_client, _close_client)
        self._coalescer = EmbedCoalescer(self._embed_batch, max_batch=max_batch)
        self._closed = False

    @property
    def model(self) -> str:
        """The embedding model name."""
        return self._model

    @property
    def dims(self) -> int | None:
        """Configured dims, else the width seen so far, else the model's known width."""
        if self._dims is not None:
            return self._dims
        if self._seen_dims is not None:
            return self._seen_dims
        return KNOWN_DIMS.get(self._model)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in one request shared with concurrent callers.

        Args:
            texts: The texts to embed; may be empty.

        Returns:
            A C-contiguous float32 array of shape ``(len(texts), dims)``, row i for
            ``texts[i]``.

        Raises:
            EmbeddingError: The request failed (HTTP error, timeout, connection refused)
                or the answer was unusable (wrong count, inconsistent or unexpected
                length, NaN or infinity, malformed body), or the embedder is closed.
            ValidationError: ``texts`` is not a sequence of strings.

        Example:
            >>> rows = await embedder.embed(["Alice likes tea", "Bob likes coffee"])
        """
        items = check_texts(texts)
        if self._closed:
            raise EmbeddingError("the openai embedder is closed")
        if not items:
            return empty_vectors(self.dims)
        return await self._coalescer.embed(items)

    async def aclose(self) -> None:
        """Close the HTTP client this embedder opened on the running loop.

        Clients opened on other loops are closed by those loops' shutdown
        (``asyncio.run`` does it). A ``client`` passed in stays open: the caller owns it.
        """
        self._closed = True
        await self._clients.aclose()

    def _new_client(self) -> openai.AsyncOpenAI:
        """A fresh client with this embedder's settings (for one event loop)."""
        import openai

        return openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self._base_url,
            timeout=self._timeout,
            max_retries=self._max_retries,
        )

    async def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """One HTTP request for at most ``max_batch`` texts (called by the coalescer)."""
        import openai

        client = self._given_client if self._given_client is not None else await self._clients.get()
        request: dict[str, Any] = {
            "model": self._model,
            # The API rejects an empty string outright; a lone space embeds the same
            # "nothing" without failing the whole batch.
            "input": [text if text else " " for text in texts],
            "encoding_format": "base64",
        }
        if self._dims is not None:
            request["dimensions"] = self._dims
        try:
            response = await client.embeddings.with_raw_response.create(**request)
            body = response.content
        except openai.APITimeoutError as exc:
            raise EmbeddingError(
                f"embeddings request to {client.base_url} timed out after {self._timeout}s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise EmbeddingError(
                f"could not connect to {client.base_url} for embeddings: {exc.__cause__ or exc}"
            ) from exc
        except openai.APIStatusError as exc:
            raise EmbeddingError(
                f"embeddings request for model {self._model!r} failed with HTTP "
                f"{exc.status_code}: {exc.message}"
            ) from exc
        except Exception as exc:
            raise EmbeddingError(
                f"embeddings request to {client.base_url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        vectors = _decode_vectors(body, len(texts))
        expected = self._dims if self._dims is not None else self._seen_dims
        vectors = check_vectors(vectors, len(texts), expected)
        if self._seen_dims is None:
            self._seen_dims = vectors.shape[1]
        return vectors
