"""Evidence retrieval on the LOCOMO dev split, through memlane's public AsyncMemory API.

Protocol (shared/data/locomo-dev/README.md): one memory per dialogue turn,
``add("<speaker>: <text>", user_id=<sample_id>, infer=False, metadata={dia_id,
session_date})`` (an image turn appends `` [shares <caption>]``); one
``search(question, user_id=<sample_id>, limit=20)`` per question of categories 1-4;
evidence recall@k (share of a question's evidence turns in the top k, averaged) for k =
1, 5, 10, 20, per category and overall, and MRR. Embeddings: the local all-MiniLM-L6-v2.

Every mode runs in this one process on the same store and the same vectors: hybrid (the
default), semantic only, keyword (BM25) only. The embedding of each question is computed
once, outside the timed search, so the latency columns are the store's share.

Usage: python benches/locomo_retrieval.py [--data PATH] [--limit-questions N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from memlane import AsyncMemory
from memlane.providers.embedders.local_embedder import LocalEmbedder

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "locomo-dev" / "locomo-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10, 20)
MODES = ("hybrid", "semantic", "keyword")


class CachedEmbedder:
    """Wraps the local embedder and remembers vectors, so each text is embedded once for
    all modes and the timed searches measure the store, not the model."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.cache: dict[str, np.ndarray] = {}

    @property
    def dims(self) -> int:
        return self.inner.dims

    async def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, vector in zip(missing, await self.inner.embed(missing)):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])

    async def aclose(self) -> None:
        await self.inner.aclose()


def turns(sample: dict[str, Any]):
    conversation = sample["conversation"]
    session = 1
    while f"session_{session}" in conversation:
        date = conversation[f"session_{session}_date_time"]
        for turn in conversation[f"session_{session}"]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares {turn['blip_caption']}]"
            yield text, {"dia_id": turn["dia_id"], "session_date": date}
        session += 1


async def evaluate(memory: AsyncMemory, questions: list[tuple[str, str, list[str], int]]) -> dict[str, Any]:
    recalls: dict[int, list[float]] = {k: [] for k in KS}
    by_category: dict[int, list[float]] = defaultdict(list)
    reciprocal_ranks: list[float] = []
    latencies: list[float] = []
    for sample_id, question, evidence, category in questions:
        started = time.perf_counter()
        hits = (await memory.search(question, user_id=sample_id, limit=20))["results"]
        latencies.append(time.perf_counter() - started)
        found = [hit["metadata"]["dia_id"] for hit in hits]
        wanted = set(evidence)
        for k in KS:
            recalls[k].append(len(wanted & set(found[:k])) / len(wanted))
        by_category[category].append(len(wanted & set(found[:10])) / len(wanted))
        reciprocal_ranks.append(next((1 / (r + 1) for r, d in enumerate(found) if d in wanted), 0.0))
    latencies.sort()
    return {
        "recall": {k: statistics.fmean(v) for k, v in recalls.items()},
        "recall10_by_category": {c: statistics.fmean(v) for c, v in sorted(by_category.items())},
        "mrr": statistics.fmean(reciprocal_ranks),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
    }


async def main(data_path: Path, limit_questions: int | None) -> None:
    samples = json.loads(data_path.read_text())
    questions = [
        (s["sample_id"], q["question"], q["evidence"], q["category"])
        for s in samples
        for q in s["qa"]
        if q["category"] in CATEGORIES and q.get("evidence")
    ][:limit_questions]
    embedder = CachedEmbedder(LocalEmbedder())
    with tempfile.TemporaryDirectory() as folder:
        store = {"provider": "embedded", "config": {"path": folder}}
        memories = {
            mode: AsyncMemory({"vector_store": store, "search": {"mode": mode}}, embedder=embedder)
            for mode in MODES
        }
        started = time.perf_counter()
        for sample in samples:
            texts, metas = zip(*turns(sample))
            await embedder.embed(list(texts))  # one batched embedding per conversation
            for text, meta in zip(texts, metas):
                await memories["hybrid"].add(text, user_id=sample["sample_id"], infer=False, metadata=meta)
        print(f"stored {sum(1 for s in samples for _ in turns(s))} turns in {time.perf_counter() - started:.1f} s")
        await embedder.embed([q[1] for q in questions])
        results = {mode: await evaluate(memory, questions) for mode, memory in memories.items()}
        for memory in memories.values():
            await memory.close()
    print(f"\nLOCOMO dev, categories 1-4, {len(questions)} questions, all-MiniLM-L6-v2 (int8 ONNX)\n")
    header = "| mode | " + " | ".join(f"R@{k}" for k in KS) + " | MRR | " + " | ".join(
        f"R@10 {name}" for name in CATEGORIES.values()) + " | search p50 ms | p95 ms |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for mode, r in results.items():
        cells = [f"{r['recall'][k]:.3f}" for k in KS] + [f"{r['mrr']:.3f}"]
        cells += [f"{r['recall10_by_category'].get(c, float('nan')):.3f}" for c in CATEGORIES]
        cells += [f"{r['p50_ms']:.3f}", f"{r['p95_ms']:.3f}"]
        print(f"| {mode} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    parser.add_argument("--limit-questions", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.data, args.limit_questions))
