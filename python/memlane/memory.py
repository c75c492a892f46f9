"""`AsyncMemory`: the one implementation of every memory operation.

Each method checks its arguments first (a bad call changes nothing), embeds what needs
embedding in one batched call, then makes one store call, which the store applies
atomically. Storage and search run in the Rust core off the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from memlane import inputs
from memlane.config import MemoryConfig
from memlane.errors import EmbeddingError, MemlaneError, ValidationError
from memlane.extraction.infer import Extractor
from memlane.providers.embedders.base import Embedder
from memlane.providers.factory import build_embedder, build_llm, open_store, open_store_async
from memlane.providers.llms.base import LLM
from memlane.providers.stores.base import AddOp, DeleteOp, DeleteScopeOp, ResetOp, Store, UpdateOp

__all__ = ["AsyncMemory"]


class AsyncMemory:
    """Long-term memory for an agent, with Mem0's ``AsyncMemory`` API.

    Args:
        config: a :class:`MemoryConfig`, Mem0's config dict, or None for defaults
            (embedded store at ``~/.memlane``).
        embedder: an object satisfying :class:`~memlane.providers.embedders.base.Embedder`
            to use instead of the configured one (the caller keeps ownership of it).
        llm: an object satisfying :class:`~memlane.providers.llms.base.LLM` to use
            instead of the configured one (the caller keeps ownership of it). The
            configured LLM is only built at the first ``add(infer=True)``.

    Raises:
        ValidationError: the config is invalid, or the store holds vectors of another size.
        StoreError: the store cannot be opened (e.g. another process holds it).

    Example:
        >>> async with AsyncMemory() as memory:
        ...     await memory.add("I'm travelling to SF", user_id="alice", infer=False)
        ...     hits = await memory.search("where am I going?", user_id="alice")
    """

    #: The open store; None once closed.
    _store: Store | None

    def __init__(
        self,
        config: MemoryConfig | dict[str, Any] | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self._prepare(config, embedder, llm)
        self._store = open_store(self.config.vector_store, self._embedder.dims)

    def _prepare(
        self, config: MemoryConfig | dict[str, Any] | None, embedder: Embedder | None, llm: LLM | None
    ) -> None:
        """Everything but opening the store."""
        self.config = MemoryConfig.coerce(config)
        self._owns_embedder = embedder is None
        self._embedder: Embedder = embedder or build_embedder(self.config.embedder)
        self._owns_llm = llm is None
        self._llm = llm
        self._extractor: Extractor | None = None

    @classmethod
    async def open(
        cls,
        config: MemoryConfig | dict[str, Any] | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> AsyncMemory:
        """``AsyncMemory(config)`` for code already inside the event loop: the embedded
        store is opened on a worker thread instead of in the constructor, so loading or
        building the graph of a large store (about 1 s, or 8 s without a saved graph, per
        100,000 memories) does not stall the loop's other tasks.

        Raises:
            The constructor's errors.

        Example:
            >>> async with await AsyncMemory.open(config) as memory:
            ...     await memory.search("tea", user_id="alice")
        """
        memory = cls.__new__(cls)
        memory._prepare(config, embedder, llm)
        try:
            memory._store = await open_store_async(memory.config.vector_store, memory._embedder.dims)
        except BaseException:
            if memory._owns_embedder:
                await memory._embedder.aclose()
            raise
        return memory

    @classmethod
    def from_config(cls, config_dict: dict[str, Any]) -> AsyncMemory:
        """Builds a memory from Mem0's config dict."""
        return cls(MemoryConfig.from_dict(config_dict))

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def store(self) -> Store:
        """The open store; MemlaneError after :meth:`close`."""
        if self._store is None:
            raise MemlaneError("this memory is closed; create a new one")
        return self._store

    async def close(self) -> None:
        """Releases the store (and the embedder and LLM memlane built). Idempotent."""
        store, self._store = self._store, None
        if store is not None:
            await store.close()
            if self._owns_embedder:
                await self._embedder.aclose()
            if self._owns_llm and self._llm is not None:
                await self._llm.aclose()

    def _extraction(self) -> Extractor:
        """The inferred-add machinery, built at first use (so infer=False needs no LLM)."""
        if self._extractor is None:
            if self._llm is None:
                self._llm = build_llm(self.config.llm)
            self._extractor = Extractor(
                self.store, self._embed, self._llm, self.config.custom_fact_extraction_prompt
            )
        return self._extractor

    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """One batched embedding call; rows in the order of ``texts``."""
        vectors = await self._embedder.embed(list(texts))
        try:
            # Values beyond float32 become inf here, which the store refuses with a clear
            # error; numpy's own overflow warning would only be noise on the user's stderr.
            with np.errstate(over="ignore"):
                vectors = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise EmbeddingError(f"the embedder returned no usable vectors: {err}") from err
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise EmbeddingError(
                f"the embedder returned shape {vectors.shape} for {len(texts)} texts"
            )
        return vectors

    async def add(
        self,
        messages: str | dict[str, Any] | list[dict[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        infer: bool = True,
        memory_type: str | None = None,
        prompt: str | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Stores what a conversation says.

        Args:
            messages: a str (one user message), a message dict, or a list of them.
            user_id, agent_id, run_id: the scope (at least one).
            metadata: JSON data stored with each new memory.
            infer: True asks the LLM for facts and ADD/UPDATE/DELETE decisions; False
                stores each non-system message verbatim.
            memory_type: ``"procedural_memory"`` (with agent_id) for an agent summary.
            prompt: replaces the fact-extraction instructions for this call.

        Returns:
            ``{"results": [{"id", "memory", "event"}, ...]}``.

        Raises:
            ValidationError: no scope, bad messages or metadata.
            LLMError / EmbeddingError / StoreError: nothing was stored.
        """
        ids = inputs.require_scope(inputs.scope(user_id, agent_id, run_id))
        parsed = inputs.messages(messages)
        metadata_json = inputs.metadata(metadata)
        if not isinstance(infer, bool):
            raise ValidationError(f"infer must be True or False, got {infer!r}")
        if memory_type is not None and memory_type != "procedural_memory":
            raise ValidationError(f"memory_type must be None or 'procedural_memory', got {memory_type!r}")
        if prompt is not None:
            inputs.text("prompt", prompt)
        if memory_type is not None and "agent_id" not in ids:
            raise ValidationError("memory_type='procedural_memory' needs agent_id")
        store = self.store
        kept = [m for m in parsed if m["role"] != "system" and m["content"].strip()]
        if not kept:
            return {"results": []}
        if memory_type is not None:
            return {"results": await self._extraction().add_procedural(kept, ids, metadata)}
        if infer:
            return {"results": await self._extraction().add(kept, ids, metadata_json, prompt)}
        vectors = await self._embed([m["content"] for m in kept])
        ops = [
            AddOp(
                text=m["content"],
                vector=vector,
                actor_id=m["name"],
                role=m["role"],
                metadata_json=metadata_json,
                **ids,
            )
            for m, vector in zip(kept, vectors)
        ]
        return {"results": await store.apply(ops)}

    async def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
        filters: dict[str, Any] | None = None,
        threshold: float | None = None,
        rerank: bool = False,
        top_k: int | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """The memories of a scope most relevant to ``query``, best first.

        Args:
            query: what to look for (non-empty).
            user_id, agent_id, run_id: the scope; may instead be given inside ``filters``.
            limit: at most this many results (default 100); ``top_k`` is an alias.
            filters: the filter language of spec/API.md, ANDed with the scope.
            threshold: drop results scoring below it (scores are in [0, 1]; in the
                default hybrid mode the score fuses vector and keyword relevance).
            rerank: accepted for Mem0 compatibility; memlane has no reranker, so it
                changes nothing.

        Returns:
            ``{"results": [memory item + "score", ...]}``.

        Raises:
            ValidationError: empty query, no scope, bad filter, limit or threshold.
        """
        inputs.text("query", query)
        ids = inputs.scope(user_id, agent_id, run_id)
        filters_json = inputs.filters(filters, ids, need_scope=True)
        count = inputs.limit(100 if limit is None and top_k is None else limit, top_k)
        minimum = inputs.threshold(threshold)
        if not isinstance(rerank, bool):
            raise ValidationError(f"rerank must be True or False, got {rerank!r}")
        store = self.store
        settings = self.config.search
        vector = None if settings.mode == "keyword" else (await self._embed([query]))[0]
        hits = await store.search(
            vector, query, filters_json, count, minimum, settings.mode, settings.semantic_weight
        )
        return {"results": hits}

    async def get(self, memory_id: str) -> dict[str, Any]:
        """One memory by id.

        Raises:
            MemoryNotFoundError: no memory has this id.
        """
        return await self.store.get(inputs.memory_id(memory_id))

    async def get_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filters: dict[str, Any] | None = None,
        limit: int | None = None,
        top_k: int | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """The memories of a scope, oldest first, at most ``limit`` (default 100).

        Raises:
            ValidationError: no scope, bad filter or limit.
        """
        ids = inputs.scope(user_id, agent_id, run_id)
        filters_json = inputs.filters(filters, ids, need_scope=True)
        count = inputs.limit(100 if limit is None and top_k is None else limit, top_k)
        return {"results": await self.store.list(filters_json, count)}

    async def update(
        self,
        memory_id: str,
        data: str | None = None,
        *,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, str]:
        """Replaces a memory's text (re-embedded) and/or its metadata; writes history.

        Args:
            memory_id: the memory.
            data: the new text (``text`` is an alias).
            metadata: replaces the metadata when given (``{}`` clears it).

        Raises:
            MemoryNotFoundError: no memory has this id.
            ValidationError: nothing to update, or bad text/metadata.
        """
        memory_id = inputs.memory_id(memory_id)
        if data is not None and text is not None and data != text:
            raise ValidationError("data and text disagree; pass the new text once")
        new_text = data if data is not None else text
        if new_text is not None:
            inputs.text("data", new_text)
        metadata_json = inputs.metadata(metadata)
        if new_text is None and metadata_json is None:
            raise ValidationError("nothing to update: pass the new text (data=...) or metadata")
        store = self.store
        await store.get(memory_id)  # fail before paying for an embedding
        vector = None if new_text is None else (await self._embed([new_text]))[0]
        await store.apply([UpdateOp(memory_id=memory_id, text=new_text, vector=vector,
                                    metadata_json=metadata_json)])
        return {"message": "Memory updated successfully!"}

    async def delete(self, memory_id: str) -> dict[str, str]:
        """Deletes one memory (its history stays).

        Raises:
            MemoryNotFoundError: no memory has this id.
        """
        await self.store.apply([DeleteOp(memory_id=inputs.memory_id(memory_id))])
        return {"message": "Memory deleted successfully!"}

    async def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, str]:
        """Deletes every memory of a scope, and nothing else.

        Raises:
            ValidationError: no scope given (this never means "everything": use reset).
        """
        ids = inputs.require_scope(inputs.scope(user_id, agent_id, run_id))
        await self.store.apply([DeleteScopeOp(**ids)])
        return {"message": "Memories deleted successfully!"}

    async def history(self, memory_id: str) -> list[dict[str, Any]]:
        """What happened to a memory, oldest first; ``[]`` for an id never seen."""
        return await self.store.history(inputs.memory_id(memory_id))

    async def reset(self) -> None:
        """Empties the whole store: every memory and all history."""
        await self.store.apply([ResetOp()])
