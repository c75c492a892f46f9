"""``memlane serve``: the REST server under uvicorn, on one event loop.

The memory is opened before the server listens, so a bad config or a store held by
another process is one line on stderr and an exit code, not an ASGI startup traceback,
and no client ever connects to a server that then fails to start.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from memlane.config import MemoryConfig
from memlane.memory import AsyncMemory
from memlane.server.error_codes import EXIT_OK, EXIT_SERVE_FAILED

__all__ = ["serve"]

# uvicorn's default: connections queue as they would under `uvicorn.run`.
_BACKLOG = 2048


def serve(config: MemoryConfig, *, host: str, port: int, log_level: str = "info") -> int:
    """Serves the REST API until SIGINT or SIGTERM, then shuts down gracefully.

    Args:
        config: the memory's configuration.
        host: address to listen on. ``127.0.0.1`` keeps the server private to this
            machine; the server has no authentication of its own.
        port: TCP port; 0 picks a free one. The URL is printed on stderr once listening.
        log_level: uvicorn's log level (``critical`` ... ``debug``).

    Returns:
        0 after a graceful shutdown; :data:`EXIT_SERVE_FAILED` when the address cannot be
        bound or FastAPI/uvicorn are not installed.

    Raises:
        MemlaneError: the memory cannot be opened (e.g. StoreError: the store is in use).
    """
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        _say(f"serve needs {' and '.join(missing)}: pip install 'memlane[server]'")
        return EXIT_SERVE_FAILED
    try:
        sock = _bind(host, port)
    except OSError as err:
        _say(f"cannot listen on {host}:{port}: {err.strerror or err}")
        return EXIT_SERVE_FAILED
    with sock:
        asyncio.run(_serve(config, sock, log_level))
    return EXIT_OK


def _say(message: str) -> None:
    print(f"memlane: {message}", file=sys.stderr, flush=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio disables Nagle's algorithm only on sockets
    # that say they are TCP, and uvicorn writes headers and body separately, so otherwise
    # each keep-alive response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # A restarted server can take the port while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def _serve(config: MemoryConfig, sock: socket.socket, log_level: str) -> None:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from memlane.server.app import create_app

    async with await AsyncMemory.open(config) as memory:
        # memlane's own warnings (e.g. "-> 502 LLMError: ...") in uvicorn's log format.
        log_config = copy.deepcopy(LOGGING_CONFIG)
        log_config["loggers"]["memlane"] = {
            "handlers": ["default"],
            "level": log_level.upper(),
            "propagate": False,
        }
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(memory=memory),
                log_level=log_level,
                log_config=log_config,
                lifespan="on",
                backlog=_BACKLOG,
            )
        )
        # Listening before uvicorn starts: connections made from now on wait in the
        # backlog until it accepts them, so the announced URL is usable at once.
        sock.listen(_BACKLOG)
        address, port = sock.getsockname()[:2]
        shown = f"[{address}]" if ":" in address else address
        _say(f"serving http://{shown}:{port} (Ctrl+C to stop)")
        with _absorb_replayed_signals():
            await server.serve(sockets=[sock])


def _ignore(signum: int, frame: FrameType | None) -> None:
    pass


@contextmanager
def _absorb_replayed_signals() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the same signal again
    once its own handlers are gone, so that the default action ends the process. Here
    the memory must still be closed after that (it saves the search index), so the
    replayed signal meets a handler that ignores it instead of the default action."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; uvicorn skips too
        return
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
