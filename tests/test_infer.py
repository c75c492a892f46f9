"""add(infer=True): one chat call that extracts facts and reconciles them with what is
stored, against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from memlane import AsyncMemory, LLMError, ValidationError
from tests.support.fake_openai import FakeOpenAI
from tests.support.memory_helpers import memory_config, snapshot


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """A server per test, so request counts belong to the test alone."""
    with FakeOpenAI(dims=32) as s:
        yield s


def infer_config(tmp_path: Path, server: FakeOpenAI, **llm: Any) -> dict[str, Any]:
    config = memory_config(tmp_path, server.base_url, dims=32)
    config["llm"] = {
        "provider": "openai",
        "config": {"base_url": server.base_url, "api_key": "test", "model": "fake", "max_retries": 2, **llm},
    }
    return config


@pytest.fixture
async def memory(tmp_path: Path, server: FakeOpenAI) -> AsyncIterator[AsyncMemory]:
    m = AsyncMemory(infer_config(tmp_path, server))
    yield m
    await m.close()


def answer(*decisions: dict[str, Any]) -> str:
    return json.dumps({"memory": list(decisions)})


def chat_requests(server: FakeOpenAI) -> list[dict[str, Any]]:
    return [body for path, body in server.requests if path.endswith("/chat/completions")]


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"])


async def texts(memory: AsyncMemory, **scope: str) -> list[str]:
    return [m["memory"] for m in (await memory.get_all(**scope))["results"]]


async def test_new_fact_is_added_with_one_chat_call_and_two_embedding_calls(memory, server):
    await memory.add("Likes jazz", user_id="alice", infer=False)
    embedded_before = server.embedding_calls
    server.script_chat(answer({"event": "ADD", "text": "Is vegetarian"}))
    result = await memory.add("I'm vegetarian, by the way.", user_id="alice")
    assert [(r["event"], r["memory"]) for r in result["results"]] == [("ADD", "Is vegetarian")]
    assert await texts(memory, user_id="alice") == ["Likes jazz", "Is vegetarian"]
    assert server.chat_calls == 1
    assert server.embedding_calls - embedded_before == 2, (
        "the messages (to find related memories), then the new fact"
    )
    body = chat_requests(server)[0]
    assert body["response_format"] == {"type": "json_object"}
    assert datetime.date.today().isoformat() in prompt_text(body), "today's date is in the prompt"
    assert "I'm vegetarian, by the way." in prompt_text(body)


async def test_first_add_of_a_scope_skips_the_related_lookup(memory, server):
    await memory.add("Likes jazz", user_id="bob", infer=False)  # another scope
    embedded_before = server.embedding_calls
    server.script_chat(answer({"event": "ADD", "text": "Is vegetarian"}))
    result = await memory.add("I'm vegetarian, by the way.", user_id="alice")
    assert [r["memory"] for r in result["results"]] == ["Is vegetarian"]
    assert server.chat_calls == 1
    assert server.embedding_calls - embedded_before == 1, (
        "nothing stored for alice: only the new fact is embedded"
    )
    assert "Likes jazz" not in prompt_text(chat_requests(server)[0]), "other scopes stay out"


async def test_contradiction_updates_the_memory_and_history_keeps_both(memory, server):
    first = await memory.add("Lives in Paris", user_id="alice", infer=False)
    memory_id = first["results"][0]["id"]
    server.script_chat(answer({"event": "UPDATE", "id": 0, "text": "Lives in Rome"}))
    result = await memory.add("I moved to Rome last month.", user_id="alice")
    assert result["results"] == [
        {"id": memory_id, "memory": "Lives in Rome", "event": "UPDATE", "previous_memory": "Lives in Paris"}
    ]
    sent = prompt_text(chat_requests(server)[0])
    assert '"id": 0' in sent and "Lives in Paris" in sent
    assert memory_id not in sent, "the model sees small integer ids, never UUIDs"
    history = await memory.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in history] == [
        ("ADD", None, "Lives in Paris"),
        ("UPDATE", "Lives in Paris", "Lives in Rome"),
    ]
    hits = await memory.search("Lives in Rome", user_id="alice", limit=1)
    assert hits["results"][0]["id"] == memory_id and hits["results"][0]["score"] > 0.99


async def test_forget_deletes(memory, server):
    kept = (await memory.add("Likes jazz", user_id="alice", infer=False))["results"][0]
    gone = (await memory.add("Plays golf", user_id="alice", infer=False))["results"][0]
    # Related memories are listed best first; find the index the model was shown.
    server.script_chat(answer({"event": "DELETE", "id": 0}))
    result = await memory.add("Forget that I play golf.", user_id="alice")
    assert len(result["results"]) == 1 and result["results"][0]["event"] == "DELETE"
    deleted_id = result["results"][0]["id"]
    assert deleted_id in {kept["id"], gone["id"]}
    shown = json.loads(prompt_text(chat_requests(server)[0]).split("Existing memories:\n")[1].split("\n")[0])
    assert shown[0]["text"] == result["results"][0]["memory"]
    assert len(await texts(memory, user_id="alice")) == 1
    assert (await memory.history(deleted_id))[-1]["event"] == "DELETE"


async def test_repeated_fact_changes_nothing(memory, server):
    await memory.add("Is vegetarian", user_id="alice", infer=False)
    server.script_chat(
        answer({"event": "NONE", "id": 0}),
        answer({"event": "ADD", "text": "is  Vegetarian"}),
        answer({"event": "UPDATE", "id": 0, "text": "Is vegetarian"}),
    )
    for _ in range(3):
        assert (await memory.add("I don't eat meat.", user_id="alice"))["results"] == []
    assert await texts(memory, user_id="alice") == ["Is vegetarian"]
    assert server.embedding_calls == 1 + 3, "nothing new to embed after the LLM said NONE"


async def test_invented_ids_are_survived(memory, server):
    await memory.add("Has a cat", user_id="alice", infer=False)
    server.script_chat(
        answer(
            {"event": "UPDATE", "id": 7, "text": "Has a dog named Rex"},
            {"event": "DELETE", "id": 99},
            {"event": "DELETE", "id": "zero"},
            {"event": "SHOUT", "text": "nonsense"},
            "not even a dict",
        )
    )
    result = await memory.add("We adopted a dog, Rex.", user_id="alice")
    assert [(r["event"], r["memory"]) for r in result["results"]] == [("ADD", "Has a dog named Rex")]
    assert sorted(await texts(memory, user_id="alice")) == ["Has a cat", "Has a dog named Rex"]


@pytest.mark.parametrize(
    "raw",
    [
        "```json\n" + answer({"event": "ADD", "text": "Likes tea"}) + "\n```",
        "<think>The user said {tea}. Hmm.</think>" + answer({"event": "ADD", "text": "Likes tea"}),
        "Sure! Here is the JSON you asked for:\n" + answer({"event": "ADD", "text": "Likes tea"}) + "\nHope it helps.",
        json.dumps({"memory": [{"event": "add", "memory": "Likes tea"}]}),
    ],
)
async def test_messy_but_usable_answers_are_parsed(memory, server, raw):
    server.script_chat(raw)
    result = await memory.add("I like tea.", user_id="alice")
    assert [(r["event"], r["memory"]) for r in result["results"]] == [("ADD", "Likes tea")]


@pytest.mark.parametrize(
    "raw",
    ["no json here at all", '{"memory": "not a list"}', '{"memory": [', "[1, 2, 3]", '{"other": []}'],
)
async def test_unusable_answers_raise_llm_error_and_store_nothing(memory, server, raw):
    added = await memory.add("Has a cat", user_id="alice", infer=False)
    ids = [added["results"][0]["id"]]
    before = await snapshot(memory, [{"user_id": "alice"}], ids)
    server.script_chat(raw)
    with pytest.raises(LLMError):
        await memory.add("I like tea.", user_id="alice")
    assert await snapshot(memory, [{"user_id": "alice"}], ids) == before


async def test_server_errors_are_retried_then_reported(memory, server):
    server.script_chat({"status": 500}, {"status": 429}, answer({"event": "ADD", "text": "Likes tea"}))
    result = await memory.add("I like tea.", user_id="alice")
    assert result["results"][0]["memory"] == "Likes tea"
    assert server.chat_calls == 3
    server.script_chat({"status": 500}, {"status": 500}, {"status": 500})
    with pytest.raises(LLMError, match="3 attempts"):
        await memory.add("I like coffee too.", user_id="alice")
    assert await texts(memory, user_id="alice") == ["Likes tea"]


async def test_json_mode_rejection_falls_back_to_plain_instructions(memory, server):
    server.script_chat(
        {"status": 400, "error": "response_format of type json_object is not supported by this model"},
        answer({"event": "ADD", "text": "Likes tea"}),
        answer({"event": "ADD", "text": "Likes coffee"}),
    )
    await memory.add("I like tea.", user_id="alice")
    await memory.add("I like coffee.", user_id="alice")
    bodies = chat_requests(server)
    assert "response_format" in bodies[0]
    assert "response_format" not in bodies[1] and "response_format" not in bodies[2], "remembered"
    assert "JSON" in prompt_text(bodies[1])


async def test_other_bad_requests_are_not_retried(memory, server):
    server.script_chat({"status": 400, "error": "model not found"})
    with pytest.raises(LLMError, match="refused"):
        await memory.add("I like tea.", user_id="alice")
    assert server.chat_calls == 1


async def test_concurrent_adds_in_one_scope_leave_no_duplicates(memory, server):
    server.script_chat(*[answer({"event": "ADD", "text": "Likes green tea"})] * 50)
    results = await asyncio.gather(*(memory.add("I like green tea.", user_id="alice") for _ in range(50)))
    assert sum(len(r["results"]) for r in results) == 1
    assert await texts(memory, user_id="alice") == ["Likes green tea"]
    assert server.chat_calls == 50


async def test_different_scopes_run_in_parallel_and_one_scope_takes_turns(tmp_path, server):
    server.chat_delay = 0.2  # long enough for concurrent calls to overlap at the server
    server.script_chat(*[answer({"event": "ADD", "text": "Likes tea"})] * 8)
    async with AsyncMemory(infer_config(tmp_path, server)) as memory:
        await asyncio.gather(*(memory.add("I like tea.", user_id=f"u{i}") for i in range(4)))
        assert server.max_concurrent_chats == 4, "different scopes ask the LLM at the same time"
        server.max_concurrent_chats = 0
        await asyncio.gather(*(memory.add("I like tea.", user_id="same") for _ in range(4)))
        assert server.max_concurrent_chats == 1, "one scope's read-decide-apply steps take turns"


async def test_agent_scope_extracts_facts_about_the_agent(memory, server):
    server.script_chat(answer({"event": "ADD", "text": "Is called Sage"}))
    await memory.add([{"role": "user", "content": "Your name is Sage."}], agent_id="helper")
    assert "about itself" in prompt_text(chat_requests(server)[0])
    server.script_chat(answer())
    await memory.add("I like tea.", user_id="alice", agent_id="helper")
    assert "about the person" in prompt_text(chat_requests(server)[1])


async def test_custom_prompts_replace_the_extraction_instructions(tmp_path, server):
    config = infer_config(tmp_path, server)
    config["custom_fact_extraction_prompt"] = "Only remember colours the user likes."
    server.script_chat(answer(), answer())
    async with AsyncMemory(config) as memory:
        await memory.add("I like blue.", user_id="alice")
        await memory.add("I like red.", user_id="alice", prompt="Only remember shades of red.")
    first, second = (prompt_text(b) for b in chat_requests(server))
    assert "Only remember colours" in first and "about the person" not in first
    assert "shades of red" in second and "Only remember colours" not in second
    assert '"memory"' in first and '"memory"' in second, "the output contract is always kept"


async def test_procedural_memory_is_one_summary(memory, server):
    server.script_chat("Task: book a flight. Step 1: searched flights SFO->JFK. Remaining: pay.")
    result = await memory.add(
        [{"role": "user", "content": "Book me a flight"}, {"role": "assistant", "content": "Searching SFO->JFK"}],
        agent_id="travel-bot",
        memory_type="procedural_memory",
        metadata={"task": "flight"},
    )
    assert server.chat_calls == 1 and server.embedding_calls == 1
    item = await memory.get(result["results"][0]["id"])
    assert item["memory"].startswith("Task: book a flight.")
    assert item["metadata"] == {"task": "flight", "memory_type": "procedural_memory"}
    assert "response_format" not in chat_requests(server)[0]
    with pytest.raises(ValidationError, match="agent_id"):
        await memory.add("x", user_id="alice", memory_type="procedural_memory")


async def test_no_llm_configured_raises_llm_error_with_the_fix(tmp_path, server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    async with AsyncMemory(memory_config(tmp_path, server.base_url, dims=32)) as memory:
        with pytest.raises(LLMError, match="OPENAI_API_KEY"):
            await memory.add("I like tea.", user_id="alice")
        # infer=False and search keep working without an LLM.
        await memory.add("I like tea.", user_id="alice", infer=False)
        assert (await memory.search("tea", user_id="alice"))["results"]
