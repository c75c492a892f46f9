"""The instructions memlane gives the LLM. Written for memlane; the output contract
(JSON with small integer ids) is what :mod:`memlane.extraction.answer` parses."""

from __future__ import annotations

import json
from collections.abc import Sequence

# What to pull out of a conversation when memories belong to a user.
USER_FACTS = """\
You maintain the long-term memory of an assistant about the person it talks with.
From the conversation, take every durable piece of information about that person worth
remembering in a later conversation: who they are, people and pets in their life, where
they live and travel, work and studies, plans and dates, likes and dislikes, diet,
health, habits, possessions, opinions and decisions. Use only what the person (the user
messages) says about themselves or their life; the assistant's messages are context only.
Skip greetings, small talk, questions without an answer and anything only hypothetical."""

# The same when the scope is an agent alone: remember what defines the agent.
AGENT_FACTS = """\
You maintain the long-term memory of an AI agent about itself.
From the conversation, take every durable piece of information about the agent worth
remembering later: its name, role, personality, abilities, rules it was given, its
preferences and what it has committed to. Use what the agent (the assistant messages)
says or is told about itself; information about the user is out of scope here."""

OUTPUT_CONTRACT = """\
Write each piece of information as a short standalone fact in the third person without
a subject where possible (e.g. "Is vegetarian", "Daughter Emma starts school in
September 2026"), in the language of the conversation. Turn relative dates into absolute
ones using today's date: {today}.

Then compare every fact with the existing memories listed below (each has an integer id)
and decide:
- ADD: the fact is new. Give "text".
- UPDATE: the fact changes, corrects or enriches an existing memory. Give that memory's
  "id" and the full new "text" (merge what is still true).
- DELETE: the conversation says an existing memory is no longer true or asks to forget
  it, and nothing replaces it. Give its "id".
- NONE: the fact is already stored as is. Give the "id".
Use only ids from the list; never invent one. Each id appears at most once.

Answer with one JSON object and nothing else, in this shape:
{{"memory": [{{"event": "ADD", "text": "..."}}, {{"event": "UPDATE", "id": 0, "text": "..."}},
{{"event": "DELETE", "id": 1}}, {{"event": "NONE", "id": 2}}]}}
If there is nothing to remember, answer {{"memory": []}}."""

PROCEDURAL_SUMMARY = """\
You keep the working record of an AI agent. Summarise the conversation below as the
agent's procedure so far: the task, every step it took in order with the key inputs and
outputs of each (exact values, names, URLs, errors), what succeeded or failed, and what
remains to do. Be complete and precise; write plain text, no preamble. Today is {today}."""


def extraction_messages(
    conversation: Sequence[dict[str, str | None]],
    existing: Sequence[str],
    *,
    today: str,
    about_agent: bool,
    instructions: str | None,
) -> list[dict[str, str]]:
    """The chat messages for the one extract-and-reconcile call.

    Args:
        conversation: the normalised messages being added.
        existing: texts of related memories; their list index is the id the model sees.
        today: ISO date, for turning relative dates into absolute ones.
        about_agent: extract facts about the agent rather than the user.
        instructions: replaces the what-to-extract part (custom prompt); the output
            contract is always kept, so the answer stays parseable.
    """
    what = instructions or (AGENT_FACTS if about_agent else USER_FACTS)
    system = f"{what}\n\n{OUTPUT_CONTRACT.format(today=today)}"
    listed = [{"id": i, "text": text} for i, text in enumerate(existing)]
    lines = [f"{m['role']}{_name(m)}: {m['content']}" for m in conversation]
    user = (
        "Existing memories:\n"
        + json.dumps(listed, ensure_ascii=False)
        + "\n\nConversation:\n"
        + "\n".join(lines)
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def procedural_messages(conversation: Sequence[dict[str, str | None]], *, today: str) -> list[dict[str, str]]:
    """The chat messages for summarising an agent's steps (procedural memory)."""
    lines = [f"{m['role']}{_name(m)}: {m['content']}" for m in conversation]
    return [
        {"role": "system", "content": PROCEDURAL_SUMMARY.format(today=today)},
        {"role": "user", "content": "\n".join(lines)},
    ]


def _name(message: dict[str, str | None]) -> str:
    return f" ({message['name']})" if message.get("name") else ""
