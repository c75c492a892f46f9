"""The code blocks of Mem0's AsyncMemory page (../shared/spec/seed/async-memory.md) run
against memlane with only the import changed.

Blocks are read from the page itself, so this tests the page's own code. The changes made
to it, all visible in this file:

* ``from mem0 import`` -> ``from memlane import``, and ``mem0.configs.base`` ->
  ``memlane.configs.base``.
* Fragments that use a placeholder id (``"memory-id-here"``) get an expression naming an
  id the fragment itself created.
* Where the page's ``add`` would need an LLM (the default ``infer=True`` extracts facts
  with one), a variant adds ``infer=False``; LLM extraction is a separate feature. The
  unmodified call is run too and must fail with ``LLMError`` (no LLM is reachable here).

The default ``AsyncMemory()`` finds its store through ``MEMLANE_DIR`` and its embedder
through ``OPENAI_API_KEY``/``OPENAI_BASE_URL``, pointed at the fake server on 127.0.0.1.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from memlane import AsyncMemory, LLMError, MemoryConfig

from tests.support.fake_openai import FakeOpenAI

# The page's `AsyncMemory()` is the default config: the embedded store.
pytestmark = pytest.mark.embedded_only("the page uses the default (embedded) store")

SEED = Path(__file__).resolve().parents[2] / "shared" / "spec" / "seed" / "async-memory.md"
NOT_NEEDING_INFER = "infer=False"  # the one change made where the page's add needs an LLM


def page_blocks() -> list[str]:
    """The page's fenced code blocks, imports switched to memlane."""
    text = SEED.read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    out = []
    for block in blocks:
        block = block.replace("from mem0 import", "from memlane import")
        block = block.replace("mem0.configs.base", "memlane.configs.base")
        assert "mem0" not in block.replace("Mem0", ""), block
        out.append(block)
    return out


MARKERS = {
    "init": "custom_config = MemoryConfig(",
    "lifecycle": "async def safe_memory_usage",
    "batch": "async def batch_operations",
    "retry": "async def with_timeout_and_retry",
    "core": "# Create memories",
    "scoped": "all_user_memories = await memory.get_all",
    "blend": "async def chat_with_memories",
    "errors": "async def handle_initialization_errors",
    "fastapi": "app = FastAPI()",
    "logging": "def log_async_operation",
}


def block(name: str) -> str:
    [found] = [b for b in page_blocks() if MARKERS[name] in b]
    return found


def with_infer_false(source: str, call: str) -> str:
    """``source`` with ``infer=False`` added to the one add call ending in ``call``."""
    assert source.count(call) >= 1, call
    return source.replace(call, call.replace("user_id", f"{NOT_NEEDING_INFER}, user_id", 1), 1)


async def run(source: str, ns: dict[str, Any]) -> dict[str, Any]:
    """Runs a block (top-level ``await`` allowed, as in the page's fragments) in ``ns``."""
    # dont_inherit: the page's code must not pick up this module's __future__ imports.
    code = compile(
        source, "<seed block>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    result = eval(code, ns)
    if asyncio.iscoroutine(result):
        await result
    return ns


@pytest.fixture(scope="module")
def seed_server() -> Iterator[FakeOpenAI]:
    # text-embedding-3-small, the default model, is 1536 wide.
    with FakeOpenAI(dims=1536) as server:
        yield server


@pytest.fixture
async def ns(tmp_path: Path, seed_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A namespace as the page's first block leaves it (``asyncio`` and ``AsyncMemory``
    imported), with the default store under tmp_path; memories left in it are closed
    afterwards."""
    monkeypatch.setenv("MEMLANE_DIR", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", seed_server.base_url)
    namespace: dict[str, Any] = {
        "__name__": "seed_page",
        "asyncio": asyncio,
        "AsyncMemory": AsyncMemory,
    }
    yield namespace
    for value in namespace.values():
        if isinstance(value, AsyncMemory):
            await value.close()
    # The page never closes the memories it makes inside functions; let them (and their
    # HTTP clients) go while this test's loop still runs.
    namespace.clear()
    gc.collect()
    await asyncio.sleep(0.01)


@pytest.fixture
async def store(ns: dict[str, Any]) -> Any:
    """A second handle on the same default store, to set up and inspect data."""
    async with AsyncMemory() as memory:
        yield memory


def test_page_has_the_expected_blocks() -> None:
    blocks = page_blocks()
    assert len(blocks) == len(MARKERS)
    for name, marker in MARKERS.items():
        assert sum(marker in b for b in blocks) == 1, name


async def test_initialize(ns: dict[str, Any], tmp_path: Path) -> None:
    await run(block("init"), ns)
    assert isinstance(ns["custom_config"], MemoryConfig)
    memory = ns["memory"]
    assert isinstance(memory, AsyncMemory)
    result = await memory.add("hello", user_id="alice", infer=False)
    assert result["results"][0]["memory"] == "hello"
    assert (tmp_path / "memlane.db").is_file()


async def test_lifecycle(ns: dict[str, Any], store: AsyncMemory) -> None:
    await store.add("test query", user_id="alice", infer=False)
    await store.add("something else", user_id="bob", infer=False)
    await run(block("lifecycle"), ns)
    result = await ns["safe_memory_usage"]()
    assert [h["memory"] for h in result["results"]] == ["test query"]


class RecordingAsyncio:
    """``asyncio`` for the batch block, keeping what ``gather`` returned."""

    def __init__(self) -> None:
        self.gathered: list[Any] = []

    async def gather(self, *aws: Any, **kwargs: Any) -> list[Any]:
        self.gathered = await asyncio.gather(*aws, **kwargs)
        return self.gathered


async def test_batch_operations_need_an_llm_by_default(
    ns: dict[str, Any], store: AsyncMemory, capsys: pytest.CaptureFixture[str]
) -> None:
    ns["asyncio"] = recorder = RecordingAsyncio()
    await run(block("batch"), ns)
    await ns["batch_operations"]()
    assert len(recorder.gathered) == 5
    assert all(isinstance(r, LLMError) for r in recorder.gathered)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"Task {i} failed" for i in range(5)]
    for i in range(5):
        assert await store.get_all(user_id=f"user_{i}") == {"results": []}


async def test_batch_operations_with_infer_false(
    ns: dict[str, Any], store: AsyncMemory, capsys: pytest.CaptureFixture[str]
) -> None:
    await run(with_infer_false(block("batch"), 'user_id=f"user_{i}"'), ns)
    await ns["batch_operations"]()
    assert capsys.readouterr().out.splitlines() == [
        f"Task {i} completed successfully" for i in range(5)
    ]
    for i in range(5):
        items = (await store.get_all(user_id=f"user_{i}"))["results"]
        assert [item["memory"] for item in items] == [f"Message {i}"]


async def test_retries(
    ns: dict[str, Any], store: AsyncMemory, capsys: pytest.CaptureFixture[str]
) -> None:
    await store.add("test query", user_id="alice", infer=False)
    await run(block("retry"), ns)
    result = await ns["robust_memory_search"]()
    assert [h["memory"] for h in result["results"]] == ["test query"]
    assert capsys.readouterr().out == ""


async def test_core_operations(ns: dict[str, Any], store: AsyncMemory) -> None:
    source = with_infer_false(block("core"), 'user_id="alice"\n)')
    source = source.replace('"memory-id-here"', 'result["results"][0]["id"]')
    ns["memory"] = AsyncMemory()
    with pytest.raises(LLMError):  # the page's own add, unmodified
        await run(block("core"), dict(ns))
    await run(source, ns)
    added = ns["result"]["results"]
    assert [(r["memory"], r["event"]) for r in added] == [
        ("I'm travelling to SF", "ADD"),
        ("That's great to hear!", "ADD"),
    ]
    assert ns["results"]["results"][0]["memory"] == "I'm travelling to SF"
    assert [m["memory"] for m in ns["all_memories"]["results"]] == [
        "I'm travelling to SF",
        "That's great to hear!",
    ]
    assert ns["specific_memory"]["id"] == added[0]["id"]
    assert ns["updated_memory"] == {"message": "Memory updated successfully!"}
    assert await store.get_all(user_id="alice") == {"results": []}
    events = await store.history(added[0]["id"])
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in events] == [
        ("ADD", None, "I'm travelling to SF"),
        ("UPDATE", "I'm travelling to SF", "I'm travelling to Seattle"),
        ("DELETE", "I'm travelling to Seattle", None),
    ]
    assert [e["event"] for e in await store.history(added[1]["id"])] == ["ADD", "DELETE"]


async def test_scoped_organization(ns: dict[str, Any]) -> None:
    source = with_infer_false(block("scoped"), 'user_id="alice",')
    source = source.replace('"memory-id-here"', 'specific_memories["results"][0]["id"]')
    ns["memory"] = AsyncMemory()
    await ns["memory"].add(
        "I like pasta",
        user_id="alice",
        agent_id="diet-assistant",
        run_id="consultation-000",
        infer=False,
    )
    await run(source, ns)

    def texts(name: str) -> list[str]:
        return [m["memory"] for m in ns[name]["results"]]

    assert texts("all_user_memories") == ["I like pasta", "I prefer vegetarian food"]
    assert texts("agent_memories") == ["I like pasta", "I prefer vegetarian food"]
    assert texts("session_memories") == ["I prefer vegetarian food"]
    assert texts("specific_memories") == ["I prefer vegetarian food"]
    item = ns["specific_memories"]["results"][0]
    assert (item["user_id"], item["agent_id"], item["run_id"]) == (
        "alice",
        "diet-assistant",
        "consultation-001",
    )
    assert [e["event"] for e in ns["history"]] == ["ADD"]


async def test_blend_with_openai(
    ns: dict[str, Any], store: AsyncMemory, seed_server: FakeOpenAI
) -> None:
    await store.add("I'm travelling to SF", user_id="alice", infer=False)
    await run(block("blend"), ns)
    seed_server.script_chat("You are going to SF.")
    with pytest.raises(LLMError):  # the page's final add needs an LLM for infer=True
        await ns["chat_with_memories"]("Where am I travelling?", user_id="alice")
    system_prompt = next(
        body["messages"][0]["content"]
        for path, body in reversed(seed_server.requests)
        if path.endswith("/chat/completions")
        and body["messages"][-1]["content"] == "Where am I travelling?"
    )
    assert "- I'm travelling to SF" in system_prompt
    assert [m["memory"] for m in (await store.get_all(user_id="alice"))["results"]] == [
        "I'm travelling to SF"
    ]

    await run(with_infer_false(block("blend"), "user_id=user_id)"), ns)
    seed_server.script_chat("You are going to SF.")
    answer = await ns["chat_with_memories"]("Where am I travelling?", user_id="alice")
    assert answer == "You are going to SF."
    items = (await store.get_all(user_id="alice"))["results"]
    assert [(m["memory"], m["role"]) for m in items] == [
        ("I'm travelling to SF", "user"),
        ("Where am I travelling?", "user"),
        ("You are going to SF.", "assistant"),
    ]


async def test_error_handling(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    await run(block("errors"), ns)
    await ns["handle_initialization_errors"]()
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("Configuration error: ") and "chroma" in line
    await ns["handle_memory_operation_errors"]()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["Invalid memory ID", "Invalid search query"]
    assert "non-existent-id" in lines[0]


async def test_fastapi(ns: dict[str, Any], store: AsyncMemory) -> None:
    await store.add("I like tea", user_id="alice", infer=False)
    await store.add("I like coffee", user_id="alice", infer=False)
    await run(block("fastapi"), ns)
    transport = httpx.ASGITransport(app=ns["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            "/memories/search", params={"query": "I like tea", "user_id": "alice", "limit": 1}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "success"
        assert [h["memory"] for h in body["data"]["results"]] == ["I like tea"]
        # FastAPI reads a bare `messages: list` parameter as form fields / file uploads, so
        # this endpoint, as written, hands add() a list of strings: memlane's error is the 500.
        response = await client.post(
            "/memories/", params={"user_id": "alice"}, data={"messages": ["I like biscuits"]}
        )
        assert response.status_code == 500
        assert "messages[0]" in response.json()["detail"]
    await ns["memory"].close()


async def test_fastapi_with_json_messages(ns: dict[str, Any], store: AsyncMemory) -> None:
    # The page's endpoint with `messages: list[dict]`, so that FastAPI takes the JSON body
    # the page means to send.
    source = block("fastapi").replace("messages: list,", "messages: list[dict],")
    messages = [{"role": "user", "content": "I like biscuits"}]
    await run(source, ns)
    with pytest.raises(LLMError) as direct:
        await ns["memory"].add(messages=messages, user_id="alice")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ns["app"]), base_url="http://testserver"
    ) as client:
        response = await client.post("/memories/", params={"user_id": "alice"}, json=messages)
        assert response.status_code == 500
        assert response.json() == {"detail": str(direct.value)}
    await ns["memory"].close()
    assert await store.get_all(user_id="alice") == {"results": []}

    await run(with_infer_false(source, "user_id=user_id)"), ns)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ns["app"]), base_url="http://testserver"
    ) as client:
        response = await client.post("/memories/", params={"user_id": "alice"}, json=messages)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "success"
        [added] = body["data"]["results"]
        assert (added["memory"], added["event"]) == ("I like biscuits", "ADD")
    assert [m["memory"] for m in (await store.get_all(user_id="alice"))["results"]] == [
        "I like biscuits"
    ]


async def test_logging(
    ns: dict[str, Any], store: AsyncMemory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="seed_page")
    messages = [{"role": "user", "content": "I like tea"}]
    await run(block("logging"), ns)
    with pytest.raises(LLMError):
        await ns["logged_memory_add"](store, messages, "alice")
    logged = [r.getMessage() for r in caplog.records if r.name == "seed_page"]
    assert logged[0] == "Starting Memory Add" and logged[1].startswith("Memory Add failed after ")
    caplog.clear()
    await run(with_infer_false(block("logging"), "user_id=user_id)"), ns)
    result = await ns["logged_memory_add"](store, messages, "alice")
    assert result["results"][0]["memory"] == "I like tea"
    logged = [r.getMessage() for r in caplog.records if r.name == "seed_page"]
    assert logged[0] == "Starting Memory Add" and logged[1].startswith("Memory Add completed in ")
