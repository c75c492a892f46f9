"""A small OpenAI-compatible HTTP server for tests (standard library only).

Tests talk to it through the real ``openai.AsyncOpenAI`` client, so the request bodies,
headers, retries and response parsing under test are the ones production uses. Vectors
are deterministic (:func:`fake_vector`), chat answers are scripted, and failures can be
switched on per request.

Example:
    >>> with FakeOpenAI(dims=64) as server:
    ...     embedder = OpenAIEmbedder(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAI", "fake_vector"]

# Word features dominate so that texts sharing words are close; the trigram features are
# a small nudge that makes "pizza" and "pizzas" close too.
_WORD_WEIGHT = 1.0
_TRIGRAM_WEIGHT = 0.25
_WORD_RE = re.compile(r"\w+")
# What an empty or all-punctuation text hashes as, so its vector is fixed and non-zero.
_EMPTY_FEATURE = "\x00empty"


def _add_feature(vector: list[float], feature: str, weight: float) -> None:
    """Feature hashing: the feature picks a bucket and a sign, stable across runs.

    blake2b rather than ``hash()`` because ``hash()`` of a str is salted per process.
    """
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    bucket = int.from_bytes(digest[:4], "little") % len(vector)
    sign = 1.0 if digest[4] & 1 else -1.0
    vector[bucket] += sign * weight


def fake_vector(text: str, dims: int) -> list[float]:
    """The deterministic unit vector the fake server returns for ``text``.

    Words (lower-cased, punctuation stripped) and their character trigrams are hashed into
    ``dims`` signed buckets, then the vector is L2-normalised. Identical texts get identical
    vectors; texts sharing words get a high cosine similarity.

    Args:
        text: The text to embed.
        dims: The vector length (at least 1).

    Returns:
        ``dims`` floats with unit L2 norm. Convert with ``np.asarray(v, dtype=np.float32)``
        to get exactly the rows an embedder decodes from the server.

    Raises:
        ValueError: ``dims`` is less than 1.
    """
    if dims < 1:
        raise ValueError(f"dims must be at least 1, got {dims}")
    vector = [0.0] * dims
    words = [word.replace("_", "") for word in _WORD_RE.findall(text.casefold())]
    words = [word for word in words if word]
    for word in words:
        _add_feature(vector, "w:" + word, _WORD_WEIGHT)
        padded = f" {word} "
        for i in range(len(padded) - 2):
            _add_feature(vector, "t:" + padded[i : i + 3], _TRIGRAM_WEIGHT)
    if not words:
        _add_feature(vector, _EMPTY_FEATURE, 1.0)
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        # Every feature cancelled out (possible with few buckets): fall back to the fixed
        # vector rather than divide by zero.
        vector = [0.0] * dims
        _add_feature(vector, _EMPTY_FEATURE, 1.0)
        norm = 1.0
    return [x / norm for x in vector]


def _error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope, which the openai client turns into ``APIStatusError``."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _invalid(message: str) -> dict[str, Any]:
    """The error body of a request the real API would reject as malformed (HTTP 400)."""
    return _error_body(message, "invalid_request_error")


def _rough_tokens(value: Any) -> int:
    """A crude token count for the ``usage`` block: words in every string inside."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_rough_tokens(item) for item in value)
    if isinstance(value, dict):
        return sum(_rough_tokens(item) for item in value.values())
    return 0


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 (ephemeral port), in a daemon thread.

    Endpoints: ``POST /v1/embeddings`` and ``POST /v1/chat/completions``. Every request is
    recorded in :attr:`requests` and counted, including failed ones and client retries.

    Args:
        dims: Vector length when the request does not ask for ``dimensions``.
        embed_delay: Seconds each embeddings request sleeps before answering.
        chat_delay: Seconds each chat request sleeps before answering.

    Example:
        >>> with FakeOpenAI(dims=8) as server:
        ...     server.script_chat('{"facts": []}', {"status": 500})
    """

    def __init__(self, dims: int = 64, embed_delay: float = 0.0, chat_delay: float = 0.0) -> None:
        self.dims = dims
        self.embed_delay = embed_delay
        self.chat_delay = chat_delay
        #: ``(path, parsed_json_body)`` for every request received, in arrival order.
        self.requests: list[tuple[str, Any]] = []
        self.embedding_calls = 0
        self.chat_calls = 0
        #: Most chat requests being answered at the same moment (proves parallelism).
        self.max_concurrent_chats = 0
        self._chats_in_flight = 0
        #: Exceptions raised while handling requests (e.g. the client hung up before the
        #: answer was written), kept here instead of printed to stderr.
        self.handler_errors: list[BaseException] = []
        #: Send embeddings' ``data`` items last-first; their ``index`` fields still say
        #: which input each belongs to (clients must order by ``index``, not position).
        self.reverse_embedding_order = False
        # Handler threads run concurrently; everything below is guarded by this lock.
        self._lock = threading.Lock()
        self._chat_script: deque[str | dict[str, Any]] = deque()
        self._embed_failures: deque[int] = deque()
        self._embed_corruptions: deque[str] = deque()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread.

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: The server is already running.
        """
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAI is already running")
        httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self), self.handler_errors)
        httpd.daemon_threads = True
        # Keep-alive connections park their handler threads in a read; do not wait for
        # them at stop().
        httpd.block_on_close = False
        self._httpd = httpd
        # A short poll interval keeps stop() (which waits for the next poll) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the value for an OpenAI client's ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -----------------------------------------------------------------------

    def script_chat(self, *answers: str | dict[str, Any]) -> None:
        """Queue chat answers, consumed one per chat request.

        Args:
            *answers: Each a str (the message content), ``{"content": str,
                "finish_reason": str}``, or an error ``{"status": 500}`` /
                ``{"status": 429}`` / ``{"status": 400, "error": "message"}``.
                When the queue is empty a chat request gets HTTP 500.
        """
        with self._lock:
            self._chat_script.extend(answers)

    def fail_embeddings(self, n: int = 1, status: int = 500) -> None:
        """Make the next ``n`` embeddings requests fail with HTTP ``status``."""
        with self._lock:
            self._embed_failures.extend([status] * n)

    def corrupt_embeddings(self, kind: str, n: int = 1) -> None:
        """Make the next ``n`` embeddings responses unusable (but HTTP 200).

        Args:
            kind: ``"nan"`` or ``"inf"`` (a value of the first vector), ``"short"`` (the
                last vector is one element short), ``"missing"`` (one vector fewer than
                inputs), ``"garbage"`` (a body that is not JSON).
            n: How many responses to corrupt.

        Raises:
            ValueError: Unknown ``kind``.
        """
        if kind not in {"nan", "inf", "short", "missing", "garbage"}:
            raise ValueError(f"unknown corruption {kind!r}")
        with self._lock:
            self._embed_corruptions.extend([kind] * n)

    # -- request handling (called from handler threads) ----------------------------------

    def _record(self, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append((path, body))
            if path.endswith("/embeddings"):
                self.embedding_calls += 1
            elif path.endswith("/chat/completions"):
                self.chat_calls += 1

    def _embeddings(self, body: Any) -> tuple[int, Any]:
        """Answer one embeddings request: ``(status, json body or raw bytes)``."""
        time.sleep(self.embed_delay)
        with self._lock:
            failure = self._embed_failures.popleft() if self._embed_failures else None
            corruption = None
            if failure is None and self._embed_corruptions:
                corruption = self._embed_corruptions.popleft()
        if failure is not None:
            return failure, _error_body(f"simulated failure {failure}", "server_error")
        if not isinstance(body, dict):
            return 400, _invalid("body must be a JSON object")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return 400, _invalid("'input' must be a string or a list of strings")
        dims = body.get("dimensions", self.dims)
        if not isinstance(dims, int) or dims < 1:
            return 400, _invalid("'dimensions' must be a positive integer")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            return 400, _invalid("'encoding_format' must be float or base64")
        if corruption == "garbage":
            return 200, b"this is not json"
        vectors = [fake_vector(text, dims) for text in inputs]
        if corruption in ("nan", "inf") and vectors:
            vectors[0][0] = math.nan if corruption == "nan" else math.inf
        elif corruption == "short" and vectors:
            vectors[-1] = vectors[-1][:-1]
        elif corruption == "missing" and vectors:
            vectors.pop()
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(vector, fmt)}
            for i, vector in enumerate(vectors)
        ]
        if self.reverse_embedding_order:
            data.reverse()
        tokens = _rough_tokens(inputs)
        return 200, {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _chat(self, body: Any) -> tuple[int, Any]:
        """Answer one chat request with the next scripted answer."""
        with self._lock:
            self._chats_in_flight += 1
            self.max_concurrent_chats = max(self.max_concurrent_chats, self._chats_in_flight)
        time.sleep(self.chat_delay)
        with self._lock:
            self._chats_in_flight -= 1
            answer = self._chat_script.popleft() if self._chat_script else None
        if answer is None:
            return 500, _error_body("FakeOpenAI: no scripted chat answer left", "server_error")
        finish_reason = "stop"
        if isinstance(answer, dict):
            if "status" in answer:
                status = int(answer["status"])
                kind = "invalid_request_error" if status < 500 else "server_error"
                return status, _error_body(answer.get("error", f"simulated error {status}"), kind)
            finish_reason = answer.get("finish_reason", "stop")
            answer = answer["content"]
        prompt_tokens = _rough_tokens(body.get("messages", []) if isinstance(body, dict) else [])
        completion_tokens = _rough_tokens(answer)
        with self._lock:
            number = self.chat_calls
        return 200, {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-chat") if isinstance(body, dict) else "fake-chat",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer, "refusal": None},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _QuietServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that records handler exceptions instead of printing them.

    A client cancelling a request mid-flight makes the handler's write fail; socketserver
    would print that traceback to stderr, which is noise in test output.
    """

    # socketserver's default backlog of 5 resets connections when dozens of concurrent
    # requests arrive at once, as the concurrency tests and benchmarks make them.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        errors: list[BaseException],
    ) -> None:
        super().__init__(address, handler)
        self._errors = errors

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self._errors.append(error)


def _encode(vector: list[float], fmt: str) -> str | list[float]:
    """An embedding in the requested wire format: JSON floats or base64 little-endian f32."""
    if fmt == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _make_handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    """A request-handler class bound to ``server`` (http.server instantiates it per request)."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 so the client can keep connections alive, as it does with the real API.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle's algorithm the second
        # waits for the client's delayed ACK (~40 ms) on every keep-alive response.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            # Tests read their own output; request logs on stderr would only be noise.
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                server._record(path, None)
                self._reply(400, _error_body("body is not JSON", "invalid_request_error"))
                return
            server._record(path, body)
            if path == "/v1/embeddings":
                status, payload = server._embeddings(body)
            elif path == "/v1/chat/completions":
                status, payload = server._chat(body)
            else:
                status, payload = 404, _error_body(f"no route {path}", "invalid_request_error")
            self._reply(status, payload)

        def do_GET(self) -> None:
            server._record(self.path, None)
            self._reply(404, _error_body(f"no route {self.path}", "invalid_request_error"))

        def _reply(self, status: int, payload: Any) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429 or status >= 500:
                # The openai client honours this, so tests exercising retries stay fast.
                self.send_header("retry-after-ms", "10")
            self.end_headers()
            self.wfile.write(data)

    return Handler
