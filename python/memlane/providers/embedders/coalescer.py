"""Merge concurrent embedding requests into shared batches.

An agent server handling many requests at once calls ``embed([query])`` from many tasks in
the same instant. Sent one by one, each costs a full HTTP round trip (or a model run);
batched, they cost one. The coalescer queues the texts of every ``embed`` call made during
one event-loop iteration and, on the next iteration, sends them as one batch — so a lone
caller waits for nothing but a single ``call_soon`` hop.

Nothing here caches an event loop: the queue is kept per running loop, so one embedder can
serve a sync facade's private loop, then ``asyncio.run`` after ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from memlane.errors import EmbeddingError

__all__ = ["BatchEmbedFn", "EmbedCoalescer"]

#: Embeds one batch: takes the texts, returns one float32 row per text, in order.
BatchEmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]

#: Default bound on the texts of one merged call. OpenAI accepts up to 2,048 inputs and
#: 300,000 tokens per request; 256 texts stays well inside both and keeps a local model's
#: padded batch from growing huge.
DEFAULT_MAX_BATCH = 256


#: Callers woken per event-loop iteration when a merged batch returns.
_WAKE_SLICE = 8


@dataclass(slots=True)
class _Request:
    """One ``embed`` call waiting for its rows."""

    texts: list[str]
    future: asyncio.Future[np.ndarray]


@dataclass(slots=True)
class _Group:
    """Requests answered by the same underlying call(s)."""

    requests: list[_Request] = field(default_factory=list)
    size: int = 0


class EmbedCoalescer:
    """Share one underlying embedding call among concurrent callers.

    Args:
        embed_batch: The function that embeds one batch (at most ``max_batch`` texts).
            It must return exactly one row per text, in order, or raise.
        max_batch: The most texts handed to ``embed_batch`` at once. Merged requests
            beyond it go out as further calls, concurrently; a single request larger
            than it is split.

    Raises:
        ValueError: ``max_batch`` is not positive.

    Example:
        >>> coalescer = EmbedCoalescer(call_the_api, max_batch=256)
        >>> rows = await coalescer.embed(["hello"])   # merged with concurrent callers
    """

    def __init__(self, embed_batch: BatchEmbedFn, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._embed_batch = embed_batch
        self._max_batch = max_batch
        # Requests queued this iteration, per loop. Keyed by loop (not cached once) so
        # the coalescer survives its loop and works on whichever loop calls it next.
        self._pending: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
        # The loop holds only weak references to tasks; keep ours alive until done.
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def max_batch(self) -> int:
        """The most texts one underlying call receives."""
        return self._max_batch

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as part of whatever batch is forming in this loop iteration.

        Args:
            texts: At least one text.

        Returns:
            This caller's rows only: shape ``(len(texts), dims)``, in order.

        Raises:
            ValueError: ``texts`` is empty (the embedder answers that itself; there is
                nothing to batch).
            EmbeddingError: ``embed_batch`` returned the wrong number of rows, or chunks of
                different widths.
            Exception: Whatever ``embed_batch`` raised for the batch these texts were in;
                every caller of that batch receives it.
        """
        if not texts:
            raise ValueError("EmbedCoalescer.embed needs at least one text")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        queue = self._pending.get(loop)
        if queue is None:
            self._forget_closed_loops()
            queue = self._pending[loop] = []
            # The flush runs on the next iteration, after every task that is ready now
            # has had the chance to queue its texts too.
            loop.call_soon(self._flush, loop)
        queue.append(_Request(list(texts), future))
        return await future

    def _forget_closed_loops(self) -> None:
        """Drop queues of loops that closed before their flush could run."""
        for loop in [loop for loop in self._pending if loop.is_closed()]:
            self._pending.pop(loop, None)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send what this loop queued, as few groups of at most ``max_batch`` texts."""
        requests = self._pending.pop(loop, [])
        for group in self._group(requests):
            task = loop.create_task(self._run(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _group(self, requests: list[_Request]) -> list[_Group]:
        """Pack whole requests into groups of at most ``max_batch`` texts.

        A request is never spread over two groups (its rows come from one place); one
        larger than ``max_batch`` gets a group of its own and is split inside ``_run``.
        """
        groups: list[_Group] = []
        current = _Group()
        for request in requests:
            # A caller cancelled before the flush needs no embedding.
            if request.future.done():
                continue
            if current.requests and current.size + len(request.texts) > self._max_batch:
                groups.append(current)
                current = _Group()
            current.requests.append(request)
            current.size += len(request.texts)
        if current.requests:
            groups.append(current)
        return groups

    async def _run(self, group: _Group) -> None:
        """Embed one group and hand each request its own rows."""
        texts = [text for request in group.requests for text in request.texts]
        try:
            vectors = await self._embed_all(texts)
        except asyncio.CancelledError:
            # The loop is shutting down (asyncio.run cancels leftover tasks): the
            # callers are being cancelled too, so cancel rather than fail them.
            for request in group.requests:
                request.future.cancel()
            raise
        except Exception as exc:
            for request in group.requests:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        start = 0
        for number, request in enumerate(group.requests, 1):
            stop = start + len(request.texts)
            if not request.future.done():
                # A view, not a copy: slicing whole rows of a C-contiguous array stays
                # C-contiguous, and the requests' rows do not overlap.
                request.future.set_result(vectors[start:stop])
            start = stop
            if number % _WAKE_SLICE == 0:
                # Waking every caller at once would run all their continuations in one
                # loop iteration, back to back, and delay every timer behind them; a
                # few at a time lets the loop serve other work in between.
                await asyncio.sleep(0)

    async def _embed_all(self, texts: list[str]) -> np.ndarray:
        """Call ``embed_batch``, splitting ``texts`` into chunks of ``max_batch``."""
        step = self._max_batch
        starts = range(0, len(texts), step)
        if len(texts) <= step:
            chunks = [await self._embed_batch(texts)]
        else:
            calls = (self._embed_batch(texts[i : i + step]) for i in starts)
            chunks = list(await asyncio.gather(*calls))
        widths = set()
        for chunk, start in zip(chunks, starts, strict=True):
            size = min(step, len(texts) - start)
            # Slicing rows back to callers is only correct if every chunk is whole.
            if chunk.ndim != 2 or chunk.shape[0] != size:
                raise EmbeddingError(f"embedder returned shape {chunk.shape} for {size} texts")
            widths.add(chunk.shape[1])
        if len(widths) > 1:
            raise EmbeddingError(f"embedder returned vectors of different lengths {sorted(widths)}")
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=0)
