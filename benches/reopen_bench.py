"""Reopen benchmark: a large embedded store loads its saved HNSW graph instead of rebuilding it.

The requirement proven: "Opening a 100,000-memory embedded store must not rebuild the
HNSW graph when the graph snapshot is current."

One store is filled (100,000 memories over 1,000 users, 384-d precomputed vectors) and
closed, which saves the graph beside the database (``memlane.db.hnsw``). Then, per pass,
three opens, each in a fresh process (support/open_probe.py):

- **current snapshot**: must report ``index_origin == "loaded"``, else the benchmark
  fails (exit status 1): that is the requirement;
- **no snapshot** (moved aside first, put back after): must report ``"built"``, the
  rebuild baseline;
- **no graph** (``index_min_memories`` above the store's size): ``"none"``, the time to
  read SQLite alone, the floor under both.

Each open reports its wall time, the first search's time, RSS, and the top-10 of fixed
queries filtered to all users (semantic mode), whose recall against numpy brute force
must be about the same after a load as after a rebuild.

    python benches/reopen_bench.py            # 100,000 memories, 3 passes (a few minutes)
    python benches/reopen_bench.py --quick    # 40,000 memories: still past the graph threshold
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from memlane import AsyncMemory
from support.measure import machine_info, median_of, print_table, write_json
from support.precomputed import DEFAULT_SEED, Dataset, PrecomputedEmbedder, make_dataset


@dataclass(frozen=True)
class Scale:
    memories: int
    users: int


FULL = Scale(memories=100_000, users=1_000)
# The engine keeps a graph from 32,768 memories (index_min_memories' default): below it
# there would be nothing to load or rebuild.
QUICK = Scale(memories=40_000, users=1_000)

#: Messages per add(infer=False) call; each message becomes one memory of that user.
MESSAGES_PER_ADD = 10
#: add calls in flight during the fill; the writer group-commits them.
CONCURRENCY = 32
QUERIES = 50
#: The filter of the first search after open (see prepare()).
FIRST_FILTER = "ne_absent_user"
LIMIT = 10
DEFAULT_PASSES = 3
#: A loaded graph answering this much worse than a rebuilt one means a broken snapshot;
#: smaller gaps are the approximate index's noise between two graphs.
RECALL_TOLERANCE = 0.05
#: Generous: a 100,000-memory rebuild takes tens of seconds on two busy cores.
PROBE_TIMEOUT_S = 1_800

#: The three opens of a pass, in the order the table lists them.
OPENS = ("loaded", "built", "no_graph")
#: Memories written after the snapshot in the stale-snapshot open (a process killed before
#: its clean close): the open must bring the old graph up to date, not rebuild it.
STALE_WRITES = 1_000
STALE_SEED = 99

DB_FILE = "memlane.db"
SNAPSHOT_FILE = DB_FILE + ".hnsw"  # ann.rs snapshot_path(): the db path plus ".hnsw"


class Failed(Exception):
    """The requirement (or a check the benchmark relies on) does not hold."""


def store_config(folder: Path) -> dict[str, Any]:
    return {"vector_store": {"provider": "embedded", "config": {"path": str(folder)}}}


def add_calls(data: Dataset) -> list[tuple[str, list[dict[str, str]]]]:
    """(user, messages) per add call: MESSAGES_PER_ADD memories of one user each, users
    interleaved as in make_dataset (memory i belongs to user i % users)."""
    users = len(data.users)
    block = users * MESSAGES_PER_ADD
    calls = []
    for start in range(0, len(data.texts), block):
        for u, user in enumerate(data.users):
            rows = range(start + u, min(start + block, len(data.texts)), users)
            if rows:
                calls.append((user, [{"role": "user", "content": data.texts[i]} for i in rows]))
    return calls


async def fill(folder: Path, data: Dataset) -> dict[str, Any]:
    calls = add_calls(data)
    started = time.perf_counter()
    async with AsyncMemory(store_config(folder), embedder=data.embedder()) as memory:
        for start in range(0, len(calls), CONCURRENCY):
            await asyncio.gather(
                *(
                    memory.add(messages, user_id=user, infer=False)
                    for user, messages in calls[start : start + CONCURRENCY]
                )
            )
        stored = memory.store.count()
        added_s = time.perf_counter() - started
    closed_s = time.perf_counter() - started - added_s  # the close saves the snapshot
    if stored != len(data.texts):
        raise Failed(f"the fill stored {stored:,} memories, expected {len(data.texts):,}")
    return {"adds_per_s": stored / added_s, "fill_s": added_s, "close_s": closed_s}


def size_mb(path: Path) -> float:
    return path.stat().st_size / 1e6 if path.exists() else 0.0


def open_in_fresh_process(store: Path, work: Path, *extra: str) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "support.open_probe",
            str(store),
            str(work / "queries.npy"),
            str(work / "filters.json"),
            str(LIMIT),
            *extra,
        ],
        cwd=Path(__file__).parent,
        capture_output=True,
        check=False,  # a failure is reported below, with the child's stderr
        text=True,
        timeout=PROBE_TIMEOUT_S,
    )
    if completed.returncode != 0:
        raise Failed(
            f"opening the store in a fresh process failed (exit {completed.returncode}):\n"
            f"{completed.stderr.strip()}"
        )
    return json.loads(completed.stdout)


def open_with_current_snapshot(store: Path, work: Path) -> dict[str, Any]:
    snapshot = store / SNAPSHOT_FILE
    if not snapshot.exists():
        raise Failed(f"no snapshot to load: {snapshot} is missing after a clean close")
    found = open_in_fresh_process(store, work)
    if found["index_origin"] != "loaded":
        raise Failed(
            f"requirement not met: opening {found['memories']:,} memories with a current "
            f"snapshot ({size_mb(snapshot):.1f} MB, no write since the last clean close) "
            f"reported index_origin={found['index_origin']!r}, not 'loaded': the graph was "
            f"not loaded (open took {found['open_ms']:.0f} ms)"
        )
    return found


def open_without_snapshot(store: Path, work: Path) -> dict[str, Any]:
    """Opens with the snapshot moved aside (a rebuild), then puts it back."""
    snapshot = store / SNAPSHOT_FILE
    aside = work / (SNAPSHOT_FILE + ".aside")
    os.replace(snapshot, aside)
    if snapshot.exists():
        raise Failed(f"{snapshot} still exists after moving it aside")
    found = open_in_fresh_process(store, work)
    if found["index_origin"] != "built":
        raise Failed(
            f"opening without a snapshot reported index_origin={found['index_origin']!r}, "
            f"expected 'built' (the rebuild baseline)"
        )
    # That close saved a new, current snapshot: replace it with the one the fill saved,
    # so that every pass starts from the same files.
    found["resaved_snapshot_mb"] = size_mb(snapshot)
    os.replace(aside, snapshot)
    return found


def open_without_graph(store: Path, work: Path, memories: int) -> dict[str, Any]:
    """Opens with the graph threshold above the store's size: no graph is loaded or
    built, so the open time is reading SQLite alone, the floor under the other two. Such
    an open saves no snapshot and leaves the current one alone."""
    found = open_in_fresh_process(store, work, str(memories + 1))
    if found["index_origin"] != "none":
        raise Failed(f"opening without a graph reported index_origin={found['index_origin']!r}")
    return found


def extra_rows(data: Dataset, count: int) -> tuple[list[str], np.ndarray]:
    """``count`` new texts with seeded random unit vectors (not in the dataset)."""
    rng = np.random.default_rng(STALE_SEED)
    vectors = rng.standard_normal((count, data.vectors.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [f"written after the snapshot {i}" for i in range(count)], vectors


async def write_more(folder: Path, data: Dataset, texts: list[str], vectors: np.ndarray) -> None:
    """Adds the extra rows in one session, MESSAGES_PER_ADD per call, users in turn."""
    embedder = PrecomputedEmbedder(dict(zip(texts, vectors)), vectors.shape[1])
    async with AsyncMemory(store_config(folder), embedder=embedder) as memory:
        for start in range(0, len(texts), MESSAGES_PER_ADD):
            user = data.users[(start // MESSAGES_PER_ADD) % len(data.users)]
            chunk = texts[start : start + MESSAGES_PER_ADD]
            await memory.add([{"role": "user", "content": t} for t in chunk], user_id=user, infer=False)


def open_with_stale_snapshot(store: Path, work: Path, data: Dataset) -> dict[str, Any]:
    """Writes STALE_WRITES memories, then puts the snapshot from before them back (what a
    process killed before its clean close leaves) and opens: index_origin must be
    "replayed". Run once, after the passes: it adds rows to the store."""
    snapshot = store / SNAPSHOT_FILE
    old = work / (SNAPSHOT_FILE + ".before-writes")
    shutil.copy2(snapshot, old)
    texts, vectors = extra_rows(data, STALE_WRITES)
    asyncio.run(write_more(store, data, texts, vectors))
    os.replace(old, snapshot)
    found = open_in_fresh_process(store, work)
    if found["index_origin"] != "replayed":
        raise Failed(
            f"opening with a snapshot {STALE_WRITES:,} writes old reported "
            f"index_origin={found['index_origin']!r}, expected 'replayed'"
        )
    return found


def exact_top_k(texts: list[str], vectors: np.ndarray, queries: np.ndarray) -> list[set[str]]:
    """The true top-LIMIT texts of each query over every memory (cosine; the vectors are
    unit length)."""
    truth = []
    for query in queries:
        scores = vectors @ query
        best = np.argpartition(-scores, LIMIT - 1)[:LIMIT]
        truth.append({texts[i] for i in best})
    return truth


def recall(results: list[list[str]], truth: list[set[str]]) -> float:
    return float(np.mean([len(set(found) & best) / LIMIT for found, best in zip(results, truth)]))


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean share of top-LIMIT results two opens have in common."""
    return float(np.mean([len(set(x) & set(y)) / LIMIT for x, y in zip(a, b)]))


def one_pass(store: Path, work: Path, truth: list[set[str]]) -> dict[str, Any]:
    loaded = open_with_current_snapshot(store, work)
    built = open_without_snapshot(store, work)
    no_graph = open_without_graph(store, work, loaded["memories"])
    out: dict[str, Any] = {
        "overlap_loaded_vs_built": {
            name: overlap(loaded["results"][name], built["results"][name])
            for name in loaded["results"]
        }
    }
    for kind, found in zip(OPENS, (loaded, built, no_graph)):
        results = found.pop("results")
        found["recall_at_10"] = {name: recall(top, truth) for name, top in results.items()}
        out[kind] = found
    return out


def report(summary: dict[str, Any], passes: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    loaded, built, bare = (summary[kind] for kind in OPENS)

    def trio(pick: Any, unit: str, form: str = ",.0f") -> str:
        """One figure of the three opens, as "loaded / built / no graph"."""
        return " / ".join(format(pick(summary[kind]), form) for kind in OPENS) + unit

    origins = ", ".join("/".join(p[kind]["index_origin"] for kind in OPENS) for p in passes)
    rows = [
        (
            "open ms: current snapshot / none (rebuild) / no graph",
            trio(lambda o: o["open_ms"], " ms"),
            f"index_origin per pass: {origins}",
        ),
        (
            "rebuild / load",
            f"{built['open_ms'] / loaded['open_ms']:.1f}x",
            (
                "load minus the no-graph open (reading the snapshot): "
                f"{loaded['open_ms'] - bare['open_ms']:,.0f} ms"
            ),
        ),
        (
            "first search after open",
            trio(lambda o: o["first_search_ms"], " ms", ".2f"),
            f"filter {FIRST_FILTER}",
        ),
        ("close", trio(lambda o: o["close_ms"], " ms"), "saves the snapshot if a graph exists"),
    ]
    for name in loaded["recall_at_10"]:
        rows += [
            (
                f"recall@{LIMIT} vs numpy, {name}",
                trio(lambda o, n=name: o["recall_at_10"][n], "", ".3f"),
                (
                    f"{QUERIES} queries; loaded vs built top-{LIMIT} overlap "
                    f"{summary['overlap_loaded_vs_built'][name]:.3f}"
                ),
            ),
            (
                f"  search p50, {name}",
                trio(lambda o, n=name: o["search_ms_median"][n], " ms", ".2f"),
                "",
            ),
        ]
    rows += [
        (
            "RSS after open",
            trio(lambda o: o["rss_after_open_mb"], " MB"),
            (
                f"store share {trio(lambda o: o['store_rss_mb'], ' MB')}; "
                f"peak {trio(lambda o: o['peak_rss_mb'], ' MB')}"
            ),
        ),
        (
            "files: SQLite db / snapshot",
            f"{facts['db_mb']:.1f} / {facts['snapshot_mb']:.1f} MB",
            f"-wal after close {facts['wal_mb']:.1f} MB",
        ),
        (
            "fill (setup)",
            f"{facts['adds_per_s']:,.0f} memories/s",
            f"{facts['fill_s']:.0f} s, close {facts['close_s']:.1f} s",
        ),
    ]
    print_table(
        f"memlane reopen bench: {facts['memories']:,} memories, {facts['users']:,} users, "
        f"{facts['dims']}-d; opens with a current snapshot / none / no graph, each in a "
        f"fresh process (median of {len(passes)} passes)",
        rows,
    )


def prepare(work: Path, data: Dataset) -> list[set[str]]:
    """Writes the child's inputs (queries, the all-users filters); returns the truth."""
    np.save(work / "queries.npy", data.query_vectors)
    # Two spellings of "every user" (a search must name a scope): the first costs one
    # comparison per memory; the second is how a caller scoping to many users writes it,
    # and memlane tests membership by walking the list, for every memory.
    filters = {
        FIRST_FILTER: {"user_id": {"ne": "no-such-user"}},
        "in_all_users": {"user_id": {"in": data.users}},
    }
    (work / "filters.json").write_text(json.dumps(filters), encoding="utf-8")
    return exact_top_k(data.texts, data.vectors, data.query_vectors)


def run(args: argparse.Namespace, scale: Scale, passes: int, work: Path) -> dict[str, Any]:
    data = make_dataset(scale.memories, scale.users, queries=QUERIES, seed=args.seed)
    truth = prepare(work, data)
    store = work / "store"
    print(f"filling {scale.memories:,} memories ...", file=sys.stderr, flush=True)
    facts: dict[str, Any] = {
        "memories": scale.memories,
        "users": scale.users,
        "dims": data.vectors.shape[1],
        **asyncio.run(fill(store, data)),
        "db_mb": size_mb(store / DB_FILE),
        "wal_mb": size_mb(store / (DB_FILE + "-wal")),
        "snapshot_mb": size_mb(store / SNAPSHOT_FILE),
    }
    results = []
    for number in range(passes):
        print(f"pass {number + 1}/{passes} ...", file=sys.stderr, flush=True)
        results.append(one_pass(store, work, truth))
    summary = median_of(results)
    report(summary, results, facts)
    stale = open_with_stale_snapshot(store, work, data)
    texts, vectors = extra_rows(data, STALE_WRITES)
    stale_truth = exact_top_k(
        data.texts + texts, np.vstack([data.vectors, vectors]), data.query_vectors
    )
    stale["recall_at_10"] = {
        name: recall(top, stale_truth) for name, top in stale.pop("results").items()
    }
    print(
        f"stale snapshot ({STALE_WRITES:,} writes behind): index_origin "
        f"{stale['index_origin']}, open {stale['open_ms']:,.0f} ms (vs {summary['loaded']['open_ms']:,.0f}"
        f" loaded, {summary['built']['open_ms']:,.0f} rebuilt), recall@{LIMIT} "
        + ", ".join(f"{k} {v:.3f}" for k, v in stale["recall_at_10"].items())
    )
    for name, loaded in summary["loaded"]["recall_at_10"].items():
        built = summary["built"]["recall_at_10"][name]
        if loaded < built - RECALL_TOLERANCE:
            raise Failed(
                f"searches ({name}) after a load answer worse than after a rebuild: "
                f"recall@{LIMIT} {loaded:.3f} vs {built:.3f}"
            )
    print(f"\nrequirement holds: every current-snapshot open loaded the graph ({passes} passes)")
    return {"facts": facts, "passes": results, "median": summary, "stale": stale}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="40,000 memories")
    parser.add_argument("--passes", type=int, default=DEFAULT_PASSES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--dir", default=None, help="where the temporary store goes (default: system temp)"
    )
    parser.add_argument("--out", default=None, help="JSON file name inside bench-results/")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    machine = machine_info()  # before the run: the load average is the one it ran under
    work = Path(tempfile.mkdtemp(prefix="memlane-reopen-", dir=args.dir))
    keep = False
    try:
        outcome = run(args, scale, args.passes, work)
    except Failed as failure:
        keep = True  # the files are what reproduces the failure
        sys.exit(f"\nFAIL: {failure}\n(store kept for inspection in {work})")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    out = args.out or ("reopen_bench_quick.json" if args.quick else "reopen_bench.json")
    path = write_json(
        out,
        {
            "machine": machine,
            "load_average_1m_at_end": os.getloadavg()[0],
            "scale": asdict(scale),
            **outcome,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
