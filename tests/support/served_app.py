"""Serving an ASGI app with uvicorn on 127.0.0.1 (ephemeral port) in a background thread.

The app runs on its own event loop in its own thread, as under a real deployment: a
handler that blocked its loop would make the tests' HTTP calls time out instead of
silently running on the tests' loop. Startup is awaited on an event, not by polling, and
the socket is listening before uvicorn starts, so the URL is usable as soon as the
context is entered.

Example:
    >>> with ServedApp(create_app(config)) as served:
    ...     httpx.get(served.url + "/health")
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn

__all__ = ["ServedApp"]

#: Longest wait for the app's startup (its lifespan opens the store) and shutdown.
STARTUP_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 60.0


class _Server(uvicorn.Server):
    """uvicorn.Server that signals the end of its startup, success or failure."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.startup_done.set()


class ServedApp:
    """An ASGI app served over real TCP on 127.0.0.1 for the duration of a ``with``.

    Attributes:
        url: ``http://127.0.0.1:PORT``.
        errors: exceptions the server thread ended with (empty when all went well).
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self.url = ""
        self.errors: list[BaseException] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> ServedApp:
        # IPPROTO_TCP, not the default 0: asyncio disables Nagle's algorithm only on
        # sockets that say they are TCP, and uvicorn writes headers and body separately,
        # so otherwise each keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self._sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._app, lifespan="on", log_level="warning")
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._run, name="served-app", daemon=True)
        self._thread.start()
        if not self._server.startup_done.wait(STARTUP_TIMEOUT):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the app did not start within {STARTUP_TIMEOUT} s")
        if not self._server.started:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the app failed to start: {self.errors!r}")
        return self

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as err:  # noqa: BLE001 - reported through self.errors
            self.errors.append(err)

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError(f"the app did not stop within {SHUTDOWN_TIMEOUT} s")
        if self._sock is not None:
            self._sock.close()
