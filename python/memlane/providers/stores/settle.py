"""Letting a store write finish even when its caller is cancelled."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")

__all__ = ["uncancellable"]


async def uncancellable(write: asyncio.Future[T]) -> T:
    """Awaits a write; if the caller is cancelled meanwhile, still waits for the write to
    end (applied whole or rolled back; it takes milliseconds) before re-raising, so that
    once a cancelled call returns, what is stored is final."""
    try:
        return await asyncio.shield(write)
    except asyncio.CancelledError:
        while not write.done():
            try:
                await asyncio.wait([write])
            except asyncio.CancelledError:
                continue
        if not write.cancelled():
            write.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise
