"""The REST server's routes, happy paths: each answers exactly what AsyncMemory returns
(spec/API.md's shapes), over real HTTP to the app under uvicorn on 127.0.0.1, with a real
embedded store and the real openai client talking to the fake OpenAI server."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import check_add_results, check_history, check_item


def add(api: httpx.Client, messages: Any, **fields: Any) -> list[str]:
    """POSTs verbatim memories; asserts one ADD per non-system message; returns the ids."""
    response = api.post("/memories", json={"messages": messages, "infer": False, **fields})
    assert response.status_code == 200, response.text
    if isinstance(messages, str):
        texts = [messages]
    else:
        listed = messages if isinstance(messages, list) else [messages]
        texts = [m["content"] for m in listed if m["role"] != "system"]
    return check_add_results(response.json(), texts)


def listed(api: httpx.Client, **query: Any) -> list[dict[str, Any]]:
    response = api.get("/memories", params=query)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"results"}
    return response.json()["results"]


def test_health(api):
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"


def test_add_verbatim_then_list_returns_exact_items(api):
    ids = add(api, "I'm vegetarian", user_id="alice", agent_id="diet", metadata={"topic": "food"})
    items = listed(api, user_id="alice")
    assert [item["id"] for item in items] == ids
    check_item(items[0], scope={"user_id": "alice", "agent_id": "diet"})
    assert items[0]["memory"] == "I'm vegetarian"
    assert items[0]["metadata"] == {"topic": "food"}


def test_add_takes_a_string_a_message_or_a_list(api):
    add(api, "as a string", user_id="alice")
    add(api, {"role": "user", "content": "as one message"}, user_id="alice")
    add(
        api,
        [
            {"role": "system", "content": "system prompts are not memories"},
            {"role": "user", "content": "first of a list", "name": "ally"},
            {"role": "assistant", "content": "second of a list"},
        ],
        user_id="alice",
    )
    items = listed(api, user_id="alice")
    assert [(i["memory"], i.get("role"), i.get("actor_id")) for i in items] == [
        ("as a string", "user", None),
        ("as one message", "user", None),
        ("first of a list", "user", "ally"),
        ("second of a list", "assistant", None),
    ]
    check_item(items[2], scope={"user_id": "alice"}, actor_id="ally")


def test_add_with_inference_applies_the_llm_decisions(api, llm_server: FakeOpenAI):
    llm_server.script_chat(json.dumps({"memory": [{"event": "ADD", "text": "Is vegetarian"}]}))
    response = api.post("/memories", json={"messages": "I don't eat meat.", "user_id": "alice"})
    assert response.status_code == 200, response.text
    [item] = response.json()["results"]
    assert set(item) == {"id", "memory", "event"}
    assert (item["memory"], item["event"]) == ("Is vegetarian", "ADD")
    assert llm_server.chat_calls == 1
    assert [m["memory"] for m in listed(api, user_id="alice")] == ["Is vegetarian"]


def test_add_with_inference_updates_and_reports_the_previous_memory(api, llm_server):
    [memory_id] = add(api, "Lives in Paris", user_id="alice")
    llm_server.script_chat(
        json.dumps({"memory": [{"event": "UPDATE", "id": 0, "text": "Lives in Rome"}]})
    )
    response = api.post("/memories", json={"messages": "I moved to Rome.", "user_id": "alice"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "results": [
            {
                "id": memory_id,
                "memory": "Lives in Rome",
                "event": "UPDATE",
                "previous_memory": "Lives in Paris",
            }
        ]
    }


def test_get_one_memory(api):
    [memory_id] = add(api, "Plays the cello", run_id="r1")
    response = api.get(f"/memories/{memory_id}")
    assert response.status_code == 200
    check_item(response.json(), scope={"run_id": "r1"})
    assert response.json()["memory"] == "Plays the cello"


def test_list_is_scoped_subset_and_limited(api):
    add(api, "alice everywhere", user_id="alice")
    add(api, "alice in run one", user_id="alice", run_id="r1")
    add(api, "bob", user_id="bob")
    assert [m["memory"] for m in listed(api, user_id="alice")] == [
        "alice everywhere",
        "alice in run one",
    ]
    assert [m["memory"] for m in listed(api, user_id="alice", run_id="r1")] == ["alice in run one"]
    assert [m["memory"] for m in listed(api, user_id="alice", limit=1)] == ["alice everywhere"]
    assert [m["memory"] for m in listed(api, user_id="bob")] == ["bob"]
    assert listed(api, user_id="nobody") == []


def test_update_text_rewrites_the_memory_and_its_history(api):
    [memory_id] = add(api, "Likes tea", user_id="alice")
    response = api.put(f"/memories/{memory_id}", json={"text": "Likes coffee"})
    assert response.status_code == 200
    assert response.json() == {"message": "Memory updated successfully!"}
    item = api.get(f"/memories/{memory_id}").json()
    check_item(item, scope={"user_id": "alice"})
    assert item["memory"] == "Likes coffee"
    events = api.get(f"/memories/{memory_id}/history").json()
    assert check_history(events, memory_id) == ["ADD", "UPDATE"]
    assert (events[1]["old_memory"], events[1]["new_memory"]) == ("Likes tea", "Likes coffee")
    hits = api.post("/search", json={"query": "Likes coffee", "user_id": "alice"}).json()["results"]
    assert hits[0]["id"] == memory_id and hits[0]["score"] > 0.99, "the new text was re-embedded"


def test_update_accepts_mem0s_data_and_metadata_alone(api):
    [memory_id] = add(api, "Likes tea", user_id="alice", metadata={"v": 1})
    assert api.put(f"/memories/{memory_id}", json={"data": "Likes green tea"}).status_code == 200
    assert api.put(f"/memories/{memory_id}", json={"metadata": {"v": 2}}).status_code == 200
    item = api.get(f"/memories/{memory_id}").json()
    assert (item["memory"], item["metadata"]) == ("Likes green tea", {"v": 2})


def test_delete_one_memory_keeps_its_history(api):
    [gone, kept] = add(
        api,
        [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
        user_id="alice",
    )
    response = api.delete(f"/memories/{gone}")
    assert response.status_code == 200
    assert response.json() == {"message": "Memory deleted successfully!"}
    assert api.get(f"/memories/{gone}").status_code == 404
    assert [m["id"] for m in listed(api, user_id="alice")] == [kept]
    events = api.get(f"/memories/{gone}/history").json()
    assert check_history(events, gone) == ["ADD", "DELETE"]
    assert events[1]["is_deleted"] is True


def test_delete_all_touches_only_that_scope(api):
    add(api, "alice run one", user_id="alice", run_id="r1")
    add(api, "alice run two", user_id="alice", run_id="r2")
    add(api, "bob run one", user_id="bob", run_id="r1")
    response = api.delete("/memories", params={"user_id": "alice", "run_id": "r1"})
    assert response.status_code == 200
    assert response.json() == {"message": "Memories deleted successfully!"}
    assert [m["memory"] for m in listed(api, user_id="alice")] == ["alice run two"]
    assert [m["memory"] for m in listed(api, user_id="bob")] == ["bob run one"]


def test_search_ranks_best_first_with_filters_limit_and_threshold(api):
    add(api, "Allergic to peanuts", user_id="alice", metadata={"topic": "health"})
    add(api, "Peanuts are in satay sauce", user_id="alice", metadata={"topic": "food"})
    add(api, "Plays the cello", user_id="alice", metadata={"topic": "music"})
    add(api, "Allergic to peanuts", user_id="bob")

    response = api.post("/search", json={"query": "Allergic to peanuts", "user_id": "alice"})
    assert response.status_code == 200
    hits = response.json()["results"]
    assert set(response.json()) == {"results"}
    for hit in hits:
        check_item(hit, scope={"user_id": "alice"}, score=True)
    assert hits[0]["memory"] == "Allergic to peanuts"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert len(hits) == 3, "bob's memory stays out of alice's search"

    body = {"query": "peanuts", "user_id": "alice", "filters": {"topic": {"in": ["food", "music"]}}}
    filtered = api.post("/search", json=body).json()["results"]
    assert [h["memory"] for h in filtered][:1] == ["Peanuts are in satay sauce"]
    assert {h["metadata"]["topic"] for h in filtered} <= {"food", "music"}

    limited = api.post("/search", json={"query": "peanuts", "user_id": "alice", "limit": 1}).json()
    assert len(limited["results"]) == 1
    top_k = api.post("/search", json={"query": "peanuts", "user_id": "alice", "top_k": 2}).json()
    assert len(top_k["results"]) == 2
    threshold = hits[0]["score"] - 1e-6
    strict = api.post(
        "/search", json={"query": "Allergic to peanuts", "user_id": "alice", "threshold": threshold}
    ).json()["results"]
    assert [h["memory"] for h in strict] == ["Allergic to peanuts"]


def test_search_takes_the_scope_inside_filters(api):
    add(api, "Likes jazz", user_id="alice")
    body = {"query": "jazz", "filters": {"user_id": "alice"}}
    assert [h["memory"] for h in api.post("/search", json=body).json()["results"]] == ["Likes jazz"]


def test_history_of_an_unknown_id_is_empty(api):
    response = api.get("/memories/never-seen/history")
    assert response.status_code == 200
    assert response.json() == []


def test_reset_empties_every_scope(api):
    [memory_id] = add(api, "alice", user_id="alice")
    add(api, "bob", user_id="bob")
    response = api.post("/reset")
    assert response.status_code == 200
    assert response.json() == {"message": "All memories reset"}
    assert listed(api, user_id="alice") == [] and listed(api, user_id="bob") == []
    assert api.get(f"/memories/{memory_id}/history").json() == []


def test_openapi_documents_every_route_and_strict_bodies(api):
    schema = api.get("/openapi.json").json()
    assert {path: sorted(ops) for path, ops in schema["paths"].items()} == {
        "/memories": ["delete", "get", "post"],
        "/memories/{memory_id}": ["delete", "get", "put"],
        "/memories/{memory_id}/history": ["get"],
        "/search": ["post"],
        "/reset": ["post"],
        "/health": ["get"],
    }
    for body in ("AddRequest", "SearchRequest", "UpdateRequest", "Message"):
        assert schema["components"]["schemas"][body]["additionalProperties"] is False
