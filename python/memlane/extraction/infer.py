"""``add(infer=True)``: one LLM call that extracts facts and reconciles them with what is
stored, then one batched embedding call and one transaction.

Per add: embedding call 1 embeds the new messages (to find related memories), the store
finds the related memories of the same scope, the LLM call decides, embedding call 2
embeds every new or updated text, and the store applies all decisions atomically. A scope
that holds no memory yet has nothing to relate to, so its first add skips call 1.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import numpy as np

from memlane import inputs
from memlane.errors import LLMError
from memlane.extraction.answer import parse_decisions
from memlane.extraction.prompts import extraction_messages, procedural_messages
from memlane.extraction.reconcile import plan_changes
from memlane.extraction.scope_locks import ScopeLocks
from memlane.providers.llms.base import LLM
from memlane.providers.stores.base import AddOp, DeleteOp, Store, UpdateOp

__all__ = ["Extractor"]

# Related memories shown to the model: enough to catch contradictions, few enough to keep
# the prompt short. Each message contributes its nearest ones.
RELATED_PER_MESSAGE = 10
RELATED_MAX = 30

EmbedFn = Callable[[Sequence[str]], Awaitable[np.ndarray]]


def _today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


class Extractor:
    """Runs the inferred add for one memory object."""

    def __init__(self, store: Store, embed: EmbedFn, llm: LLM, default_prompt: str | None) -> None:
        self._store = store
        self._embed = embed
        self._llm = llm
        self._default_prompt = default_prompt
        self._locks = ScopeLocks()

    async def add(
        self,
        conversation: list[dict[str, Any]],
        ids: dict[str, str],
        metadata_json: str | None,
        prompt: str | None,
    ) -> list[dict[str, Any]]:
        """Extracts, decides and applies; returns the ADD/UPDATE/DELETE results."""
        async with self._locks.hold(ids):
            related = await self._related(conversation, ids)
            messages = extraction_messages(
                conversation,
                [m["memory"] for m in related],
                today=_today(),
                about_agent="agent_id" in ids and "user_id" not in ids,
                instructions=prompt or self._default_prompt,
            )
            plan = plan_changes(parse_decisions(await self._llm.complete(messages, json_mode=True)), related)
            if not plan:
                return []
            texts = plan.texts_to_embed
            new_vectors = await self._embed(texts) if texts else np.empty((0, 0), np.float32)
            ops: list[Any] = [
                AddOp(text=text, vector=new_vectors[i], metadata_json=metadata_json, **ids)
                for i, text in enumerate(plan.adds)
            ]
            offset = len(plan.adds)
            ops += [
                UpdateOp(memory_id=memory_id, text=text, vector=new_vectors[offset + i])
                for i, (memory_id, text) in enumerate(plan.updates)
            ]
            ops += [DeleteOp(memory_id=memory_id) for memory_id in plan.deletes]
            return await self._store.apply(ops)

    async def _related(self, conversation: list[dict[str, Any]], ids: dict[str, str]) -> list[dict[str, Any]]:
        """The scope's memories nearest to any of the messages, best first, deduplicated."""
        scope_filter = inputs.filters(None, ids, need_scope=True)
        if not await self._store.list(scope_filter, 1):
            return []  # a new scope: no embedding call needed to find nothing
        vectors = await self._embed([m["content"] for m in conversation])
        per_message = await asyncio.gather(
            *(
                self._store.search(vector, message["content"], scope_filter, RELATED_PER_MESSAGE, None, "hybrid")
                for message, vector in zip(conversation, vectors)
            )
        )
        best: dict[str, dict[str, Any]] = {}
        for hits in per_message:
            for hit in hits:
                if hit["id"] not in best or hit["score"] > best[hit["id"]]["score"]:
                    best[hit["id"]] = hit
        ranked = sorted(best.values(), key=lambda h: h["score"], reverse=True)
        return ranked[:RELATED_MAX]

    async def add_procedural(
        self, conversation: list[dict[str, Any]], ids: dict[str, str], metadata: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """One LLM call summarising the agent's steps, stored as one procedural memory."""
        summary = (await self._llm.complete(procedural_messages(conversation, today=_today()),
                                            json_mode=False)).strip()
        if not summary:
            raise LLMError("the LLM returned an empty procedural summary")
        vector = (await self._embed([summary]))[0]
        meta = {**(metadata or {}), "memory_type": "procedural_memory"}
        op = AddOp(text=summary, vector=vector, metadata_json=msgspec.json.encode(meta).decode(), **ids)
        return await self._store.apply([op])
