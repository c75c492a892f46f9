"""The REST server's errors: each memlane exception (and each request FastAPI cannot
decode) gets its status and the body ``{"error": "<ClassName>", "detail": "<message>"}``,
never a traceback; and a rejected request changes nothing that is stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from memlane import AsyncMemory, ValidationError
from memlane.server import create_app

from tests.support.det_embedder import DigestEmbedder
from tests.support.fake_openai import FakeOpenAI
from tests.support.served_app import ServedApp

SCOPES = [{"user_id": "alice"}, {"user_id": "bob"}, {"run_id": "r1"}]


def seed(api: httpx.Client) -> list[str]:
    """Two memories of alice (one in run r1) and one of bob; returns their ids."""
    ids = []
    for text, scope in (
        ("Likes tea", {"user_id": "alice"}),
        ("Runs on Sundays", {"user_id": "alice", "run_id": "r1"}),
        ("Likes jazz", {"user_id": "bob"}),
    ):
        response = api.post("/memories", json={"messages": text, "infer": False, **scope})
        assert response.status_code == 200, response.text
        ids.append(response.json()["results"][0]["id"])
    return ids


def stored(api: httpx.Client, ids: list[str]) -> dict[str, Any]:
    """Everything observable: each scope's memories and each seeded id's history."""
    state: dict[str, Any] = {}
    for scope in SCOPES:
        state[json.dumps(scope)] = api.get("/memories", params=scope).json()
    for memory_id in ids:
        state[memory_id] = api.get(f"/memories/{memory_id}/history").json()
    return state


def expect_error(response: httpx.Response, status: int, error: str, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert body["error"] == error, body
    assert fragment in body["detail"], body
    assert "Traceback" not in response.text


JSON = {"content-type": "application/json"}

# (method, path, request keyword arguments, fragment of the detail); all answer 422.
# "{id}" in a path is alice's first memory.
INVALID = {
    "body not JSON": (
        "POST",
        "/memories",
        {"content": b'{"messages": ', "headers": JSON},
        "not valid JSON",
    ),
    "body not sent as JSON": (
        "POST",
        "/memories",
        {
            "content": b'{"messages": "x", "user_id": "a"}',
            "headers": {"content-type": "text/plain"},
        },
        "must be a JSON object",
    ),
    "no body": ("POST", "/memories", {}, "must be a JSON object"),
    "body is a list": ("POST", "/memories", {"json": ["x"]}, "must be a JSON object"),
    "messages missing": (
        "POST",
        "/memories",
        {"json": {"user_id": "alice"}},
        "body.messages: Field required",
    ),
    "unknown field": (
        "POST",
        "/memories",
        {"json": {"messages": "x", "user_id": "alice", "runid": "r1"}},
        "body.runid: Extra inputs are not permitted",
    ),
    "unknown message field": (
        "POST",
        "/memories",
        {
            "json": {
                "messages": [{"role": "user", "content": "x", "when": "now"}],
                "user_id": "alice",
            }
        },
        "body.messages.list[0].when: Extra inputs are not permitted",
    ),
    "message without content": (
        "POST",
        "/memories",
        {"json": {"messages": [{"role": "user"}], "user_id": "alice"}},
        "list[0].content: Field required",
    ),
    "messages of a wrong type": (
        "POST",
        "/memories",
        {"json": {"messages": 5, "user_id": "alice"}},
        "must be a string, a message object or a list of message objects",
    ),
    "infer as a string": (
        "POST",
        "/memories",
        {"json": {"messages": "x", "user_id": "alice", "infer": "false"}},
        "body.infer: Input should be a valid boolean",
    ),
    "numeric user_id": (
        "POST",
        "/memories",
        {"json": {"messages": "x", "user_id": 7}},
        "body.user_id: Input should be a valid string",
    ),
    "add without scope": (
        "POST",
        "/memories",
        {"json": {"messages": "x", "infer": False}},
        "pass user_id, agent_id or run_id",
    ),
    "blank user_id": (
        "POST",
        "/memories",
        {"json": {"messages": "x", "user_id": "  ", "infer": False}},
        "user_id must not be empty",
    ),
    "scope in metadata": (
        "POST",
        "/memories",
        {
            "json": {
                "messages": "x",
                "user_id": "alice",
                "infer": False,
                "metadata": {"user_id": "bob"},
            }
        },
        "metadata must not set",
    ),
    "bad memory_type": (
        "POST",
        "/memories",
        {"json": {"messages": "x", "agent_id": "a1", "memory_type": "episodic"}},
        "memory_type must be",
    ),
    "empty query": (
        "POST",
        "/search",
        {"json": {"query": " ", "user_id": "alice"}},
        "query must not be empty",
    ),
    "search without scope": (
        "POST",
        "/search",
        {"json": {"query": "tea"}},
        "pass user_id, agent_id or run_id",
    ),
    "unknown filter operator": (
        "POST",
        "/search",
        {"json": {"query": "tea", "user_id": "alice", "filters": {"topic": {"regex": "t.*"}}}},
        "regex",
    ),
    "limit zero": (
        "POST",
        "/search",
        {"json": {"query": "tea", "user_id": "alice", "limit": 0}},
        "limit must be a positive integer",
    ),
    "limit past 64 bits": (
        "POST",
        "/search",
        {"json": {"query": "tea", "user_id": "alice", "limit": 2**64}},
        "body.limit",
    ),
    "limit and top_k disagree": (
        "POST",
        "/search",
        {"json": {"query": "tea", "user_id": "alice", "limit": 2, "top_k": 3}},
        "disagree",
    ),
    "threshold above one": (
        "POST",
        "/search",
        {"json": {"query": "tea", "user_id": "alice", "threshold": 2}},
        "threshold must be",
    ),
    "list without scope": ("GET", "/memories", {}, "pass user_id, agent_id or run_id"),
    "list limit not a number": (
        "GET",
        "/memories",
        {"params": {"user_id": "alice", "limit": "ten"}},
        "query.limit: Input should be a valid integer",
    ),
    "list with a misspelt parameter": (
        "GET",
        "/memories",
        {"params": {"user_id": "alice", "runid": "r1"}},
        "unknown query parameter(s) runid",
    ),
    "list with a repeated parameter": (
        "GET",
        "/memories",
        {"params": [("user_id", "alice"), ("user_id", "bob")]},
        "user_id given more than once",
    ),
    "delete_all without scope": ("DELETE", "/memories", {}, "pass user_id, agent_id or run_id"),
    "delete_all with a misspelt parameter": (
        "DELETE",
        "/memories",
        {"params": {"user_id": "alice", "runid": "r1"}},
        "unknown query parameter(s) runid",
    ),
    "delete one with a query parameter": (
        "DELETE",
        "/memories/{id}",
        {"params": {"force": "1"}},
        "unknown query parameter(s) force",
    ),
    "update with nothing": ("PUT", "/memories/{id}", {"json": {}}, "nothing to update"),
    "update text and data disagree": (
        "PUT",
        "/memories/{id}",
        {"json": {"text": "a", "data": "b"}},
        "disagree",
    ),
    "update unknown field": (
        "PUT",
        "/memories/{id}",
        {"json": {"memory": "x"}},
        "body.memory: Extra inputs are not permitted",
    ),
}

@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_request_is_422_and_changes_nothing(api, llm_server: FakeOpenAI, case: str):
    method, path, request, fragment = INVALID[case]
    ids = seed(api)
    before = stored(api, ids)
    calls_before = (llm_server.embedding_calls, llm_server.chat_calls)
    response = api.request(method, path.replace("{id}", ids[0]), **request)
    expect_error(response, 422, "ValidationError", fragment)
    assert stored(api, ids) == before
    # Every rejection, the filter language's included, happens before any paid call.
    assert (llm_server.embedding_calls, llm_server.chat_calls) == calls_before, (
        "a rejected request pays for no embedding and no LLM call"
    )


@pytest.mark.parametrize(
    "method, body", [("GET", None), ("PUT", {"text": "new"}), ("DELETE", None)]
)
def test_unknown_memory_id_is_404(api, method: str, body: Any):
    ids = seed(api)
    before = stored(api, ids)
    response = api.request(method, "/memories/no-such-id", json=body)
    expect_error(response, 404, "MemoryNotFoundError", "no-such-id")
    assert stored(api, ids) == before


@pytest.mark.parametrize(
    "answer, fragment",
    [
        ({"status": 500}, "the LLM call failed"),
        ("Sure! I would store that the user likes tea.", "no JSON object"),
        (json.dumps({"answer": 42}), "no 'memory' list"),
    ],
)
def test_llm_failure_is_502_and_stores_nothing(
    api, llm_server: FakeOpenAI, answer: Any, fragment: str
):
    ids = seed(api)
    before = stored(api, ids)
    llm_server.script_chat(answer)
    response = api.post("/memories", json={"messages": "I love green tea", "user_id": "alice"})
    expect_error(response, 502, "LLMError", fragment)
    assert llm_server.chat_calls == 1
    assert stored(api, ids) == before
    # The server is unharmed: the next inferred add works.
    llm_server.script_chat(json.dumps({"memory": [{"event": "ADD", "text": "Loves green tea"}]}))
    assert (
        api.post("/memories", json={"messages": "I love green tea", "user_id": "alice"}).status_code
        == 200
    )


def test_embedding_failure_is_502_and_stores_nothing(api, llm_server: FakeOpenAI):
    ids = seed(api)
    before = stored(api, ids)
    llm_server.fail_embeddings(1)
    response = api.post(
        "/memories", json={"messages": "Likes chess", "user_id": "alice", "infer": False}
    )
    expect_error(response, 502, "EmbeddingError", "")
    assert stored(api, ids) == before
    llm_server.fail_embeddings(1)
    response = api.post("/search", json={"query": "chess", "user_id": "alice"})
    expect_error(response, 502, "EmbeddingError", "")


def test_unknown_route_and_wrong_method_keep_the_error_shape(api):
    expect_error(api.get("/memory"), 404, "NotFound", "Not Found")
    response = api.patch("/search")
    expect_error(response, 405, "MethodNotAllowed", "Method Not Allowed")
    assert "POST" in response.headers["allow"]


def test_unexpected_exception_is_a_json_500_without_internals(api_config: dict[str, Any]):
    app = create_app(api_config)

    async def broken() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/broken", broken)
    with ServedApp(app) as served:
        response = httpx.get(served.url + "/broken", timeout=30)
        expect_error(response, 500, "InternalServerError", "the server log has the details")
        assert "secret internals" not in response.text
        # uvicorn closes a connection whose request raised; the server itself serves on.
        # A new connection made while that close is in flight was once reset under load
        # (seen in a full-suite run), so the check may take a second new connection.
        for attempt in range(2):
            try:
                health = httpx.get(served.url + "/health", timeout=30)
                break
            except httpx.TransportError:
                if attempt == 1:
                    raise
        assert health.status_code == 200


async def test_app_whose_lifespan_never_ran_answers_a_clear_500(api_config: dict[str, Any]):
    # httpx's ASGITransport does not run the lifespan, so the memory is never opened.
    transport = httpx.ASGITransport(app=create_app(api_config))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.get("/health")
    expect_error(response, 500, "MemlaneError", "the memory is not open")


def test_create_app_checks_its_arguments(api_config: dict[str, Any], tmp_path: Path):
    with pytest.raises(ValidationError, match="invalid config"):
        create_app({"vector_store": {"provider": "embedded", "config": {"paht": str(tmp_path)}}})
    memory = AsyncMemory(api_config, embedder=DigestEmbedder(32))
    try:
        with pytest.raises(ValidationError, match="not both"):
            create_app(api_config, memory=memory)
    finally:
        asyncio.run(memory.close())
    assert not (tmp_path / "paht").exists()


def test_app_serving_a_given_memory_leaves_it_open(tmp_path: Path):
    config = {"vector_store": {"provider": "embedded", "config": {"path": str(tmp_path / "given")}}}
    memory = AsyncMemory(config, embedder=DigestEmbedder(32))
    try:
        with ServedApp(create_app(memory=memory)) as served:
            response = httpx.post(
                served.url + "/memories",
                timeout=30,
                json={"messages": "x", "user_id": "u", "infer": False},
            )
            assert response.status_code == 200
        assert memory.store is not None, "the caller still owns the memory after the app stops"
        assert len(asyncio.run(memory.get_all(user_id="u"))["results"]) == 1
    finally:
        asyncio.run(memory.close())
