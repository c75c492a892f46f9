"""Resolves the asyncio futures the native module returns (see rust/py/src/bridge.rs).

Runs on the event loop's thread, scheduled by ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
from typing import Any


def complete(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Sets the result (``ok``) or exception of ``future``, unless it is already done
    (cancelled by its awaiter)."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
