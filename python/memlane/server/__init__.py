"""memlane over HTTP and on the command line.

- :func:`create_app` (``memlane.server.app``): the REST server, a FastAPI app
  (``pip install memlane[server]``).
- ``memlane.server.cli``: the ``memlane`` command (``memlane serve``, ``memlane add``, ...).

Importing this package imports neither FastAPI nor uvicorn: the command line's memory
commands work without the server extra, and ``create_app`` is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from memlane.server.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from memlane.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
