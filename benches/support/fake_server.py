"""Runs the test suite's ``FakeOpenAI`` in a child process, for the stall benchmark.

In the benchmark's own process the fake server's handler threads (pure Python: hashing
1,536-d vectors, encoding JSON) would compete for the GIL with the event loop under test,
and the loop's lateness would measure the fake server. A child process keeps them apart,
as a real network server would be.

Parent side: :class:`ChildFakeOpenAI`. Child side: ``python -m support.fake_server DIMS
DELAY`` (cwd ``benches/``) prints the base URL, serves until its stdin closes, then prints
the request counts as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.measure import REPO_ROOT

__all__ = ["ChildFakeOpenAI"]


class ChildFakeOpenAI:
    """``tests/support/fake_openai.FakeOpenAI`` in a child process.

    Args:
        dims: vector width when a request names no ``dimensions``.
        embed_delay: seconds each embeddings request waits before answering (network time).
    """

    def __init__(self, dims: int, embed_delay: float) -> None:
        self.dims = dims
        self.embed_delay = embed_delay
        self.base_url = ""
        self.counts: dict[str, Any] = {}
        self._child: subprocess.Popen[str] | None = None

    def start(self) -> ChildFakeOpenAI:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "support.fake_server", str(self.dims), str(self.embed_delay)],
            cwd=Path(__file__).resolve().parents[1],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdout is not None
        self.base_url = self._child.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the fake OpenAI server did not start (said {self.base_url!r})")
        return self

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        out, _ = child.communicate(input="", timeout=30)  # closing stdin asks it to stop
        last = out.strip().splitlines()[-1:] if out else []
        self.counts = json.loads(last[0]) if last else {}

    @property
    def embedding_calls(self) -> int:
        """Embedding requests served (known after :meth:`stop`)."""
        return int(self.counts.get("embedding_calls", 0))

    def __enter__(self) -> ChildFakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


#: Pending-connection queue of the listening socket. socketserver's default of 5 makes a
#: burst of 64 simultaneous connects overflow it: the kernel drops SYNs (the client retries
#: after 1 s, 3 s, ...) or resets connections, and the benchmark would time the retries.
LISTEN_BACKLOG = 1024


def _serve(dims: int, delay: float) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from http.server import ThreadingHTTPServer

    from tests.support.fake_openai import FakeOpenAI

    ThreadingHTTPServer.request_queue_size = LISTEN_BACKLOG  # this child process only

    with FakeOpenAI(dims=dims, embed_delay=delay) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # returns at EOF: the parent is done
        print(json.dumps({"embedding_calls": server.embedding_calls}), flush=True)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), float(sys.argv[2]))
