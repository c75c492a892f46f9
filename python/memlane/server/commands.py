"""The command line's memory commands: each one AsyncMemory call.

Each function takes the open memory and the parsed arguments and returns what the call
returns, which the command line prints as JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

from memlane.config import MemoryConfig
from memlane.memory import AsyncMemory

__all__ = ["COMMANDS", "Command", "run"]

Command = Callable[[AsyncMemory, argparse.Namespace], Awaitable[Any]]


class _Scope(TypedDict):
    user_id: str | None
    agent_id: str | None
    run_id: str | None


def _scope(args: argparse.Namespace) -> _Scope:
    return {"user_id": args.user_id, "agent_id": args.agent_id, "run_id": args.run_id}


async def add(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane add TEXT``: one user message, stored or inferred from."""
    return await memory.add(args.text, **_scope(args), metadata=args.metadata, infer=args.infer)


async def search(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane search QUERY``: the best matches of a scope."""
    return await memory.search(
        args.query, **_scope(args), limit=args.limit, filters=args.filters, threshold=args.threshold
    )


async def list_(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane list``: a scope's memories, oldest first."""
    return await memory.get_all(**_scope(args), limit=args.limit, filters=args.filters)


async def get(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane get ID``."""
    return await memory.get(args.memory_id)


async def update(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane update ID [TEXT] [--metadata JSON]``."""
    return await memory.update(args.memory_id, args.text, metadata=args.metadata)


async def delete(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane delete ID``."""
    return await memory.delete(args.memory_id)


async def history(memory: AsyncMemory, args: argparse.Namespace) -> Any:
    """``memlane history ID``."""
    return await memory.history(args.memory_id)


#: Command name -> implementation (``serve`` is not here: it runs a server, not a call).
COMMANDS: dict[str, Command] = {
    "add": add,
    "search": search,
    "list": list_,
    "get": get,
    "update": update,
    "delete": delete,
    "history": history,
}


async def run(command: Command, args: argparse.Namespace, config: MemoryConfig) -> Any:
    """Opens the memory, runs one command, and closes the memory (even on error)."""
    async with await AsyncMemory.open(config) as memory:
        return await command(memory, args)
