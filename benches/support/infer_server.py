"""An OpenAI-compatible server for ``infer_bench.py`` that answers chat calls by reading
the prompt, so memlane and Mem0 can share one server and run concurrently.

Scripted answers (``tests/support/fake_openai.py``) are consumed in arrival order, which
breaks as soon as two systems' prompts or concurrent calls interleave. This server looks
at each chat request instead:

* memlane (system prompt holds ``"memory": [``, user prompt starts ``Existing memories:``
  and has a ``Conversation:`` section): ``{"memory": [{"event": "ADD", "text": fact}, ...]}``
* Mem0 2.x additive extraction (one call per add; user prompt has ``## New Messages``):
  ``{"memory": [{"id": "0", "text": fact, "attributed_to": "user"}, ...]}``
* Mem0 1.x fact extraction (system prompt asks for ``"facts"``): ``{"facts": [...]}``
* Mem0 1.x update-memory call (``"event"`` and ``old_memory`` in the prompt):
  ``{"memory": [{"id": str(i), "text": fact, "event": "ADD"}, ...]}``

A fact is the content of each ``user:`` line of the new conversation. Embeddings are
``fake_vector`` from the test suite (deterministic, hash-based), as floats or base64.

Each chat call sleeps ``chat_delay`` and each embeddings call ``embed_delay`` before
answering: the network and model time of a hosted API, held fixed.

Runs in a child process (``python benches/support/infer_server.py DIMS EMBED CHAT``):
prints its base URL, then serves until stdin closes. ``GET /stats`` returns the counts
per kind; ``POST /reset`` zeroes them.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import struct
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[2]


def _load_fake_vector() -> Any:
    # Loaded by path: ``tests/support`` and ``benches/support`` are both named "support".
    spec = importlib.util.spec_from_file_location(
        "_memlane_fake_openai", _REPO / "tests" / "support" / "fake_openai.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fake_vector


fake_vector = _load_fake_vector()

_USER_LINE = re.compile(r"^user(?: \([^)]*\))?: (.+)$", re.MULTILINE)


def _user_facts(section: str) -> list[str]:
    return [m.group(1).strip() for m in _USER_LINE.finditer(section) if m.group(1).strip()]


def _section(text: str, start: str, end: str | None) -> str:
    begin = text.find(start)
    if begin == -1:
        return ""
    begin += len(start)
    if end is None:
        return text[begin:]
    stop = text.find(end, begin)
    return text[begin:] if stop == -1 else text[begin:stop]


def classify_and_answer(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """``(kind, answer content)`` for one chat request's messages."""
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    user = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") != "system")
    if "Existing memories:" in user and "Conversation:" in user and '"memory": [' in system:
        facts = _user_facts(_section(user, "Conversation:", None))
        return "memlane", json.dumps({"memory": [{"event": "ADD", "text": f} for f in facts]})
    if "## New Messages" in user:
        facts = _user_facts(_section(user, "## New Messages", "## Observation Date"))
        items = [{"id": str(i), "text": f, "attributed_to": "user"} for i, f in enumerate(facts)]
        return "mem0_additive", json.dumps({"memory": items})
    if '"facts"' in system and "old_memory" not in system + user:
        # Mem0 1.x: the conversation is in the user message as "Input:\nuser: ...".
        return "mem0_facts", json.dumps({"facts": _user_facts(user)})
    if "old_memory" in system + user or '"event"' in system + user:
        # Mem0 1.x update call: the new facts arrive as a JSON list after the marker.
        found = re.search(
            r"new retrieved facts[^\[]*(\[.*?\])", system + user, re.DOTALL | re.IGNORECASE
        )
        facts = json.loads(found.group(1)) if found else []
        items = [{"id": str(i), "text": f, "event": "ADD"} for i, f in enumerate(facts)]
        return "mem0_update", json.dumps({"memory": items})
    return "unknown", json.dumps({"memory": []})


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when dozens of requests arrive at once.
    request_queue_size = 1024
    daemon_threads = True
    block_on_close = False


class InferServer:
    """The server state: counters and delays; ``serve()`` blocks."""

    def __init__(self, dims: int, embed_delay: float, chat_delay: float) -> None:
        self.dims = dims
        self.embed_delay = embed_delay
        self.chat_delay = chat_delay
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.httpd = _Server(("127.0.0.1", 0), self._handler())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _count(self, *keys: str) -> None:
        with self.lock:
            self.counts.update(keys)

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(self.embed_delay)
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        dims = body.get("dimensions") or self.dims
        fmt = body.get("encoding_format", "float")
        self._count("embedding_calls")
        with self.lock:
            self.counts["embedded_texts"] += len(inputs)
        data = []
        for i, text in enumerate(inputs):
            vector = fake_vector(text, dims)
            if fmt == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode("ascii")
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embedding"),
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(self.chat_delay)
        kind, content = classify_and_answer(body.get("messages") or [])
        self._count("chat_calls", "chat:" + kind)
        return {
            "id": "chatcmpl-infer-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-chat"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes; Nagle would hold the second ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                if path == "/reset":
                    with server.lock:
                        server.counts.clear()
                    self._reply(200, {})
                    return
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    self._reply(400, {"error": {"message": "bad json", "type": "invalid"}})
                    return
                if path.endswith("/embeddings"):
                    self._reply(200, server.embeddings(body))
                elif path.endswith("/chat/completions"):
                    self._reply(200, server.chat(body))
                else:
                    self._reply(404, {"error": {"message": path, "type": "invalid"}})

            def do_GET(self) -> None:
                if self.path == "/stats":
                    with server.lock:
                        self._reply(200, dict(server.counts))
                else:
                    self._reply(404, {"error": {"message": self.path, "type": "invalid"}})

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main() -> None:
    dims, embed_delay, chat_delay = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    server = InferServer(dims, embed_delay, chat_delay)
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    print(server.base_url, flush=True)
    sys.stdin.read()  # the parent closes stdin to stop us
    server.httpd.shutdown()
    server.httpd.server_close()


if __name__ == "__main__":
    main()
