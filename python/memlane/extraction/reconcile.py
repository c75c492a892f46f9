"""From the model's decisions to a consistent plan of store changes.

The model saw the related memories under small integer ids (their position in the list
it was shown), never UUIDs, so it cannot name a memory outside the scope. What it gets
wrong is absorbed here: an UPDATE of an id it invented is treated as new information
(ADD); a DELETE of an invented id is dropped; an id used twice counts once (first wins);
an ADD or UPDATE that repeats a stored text changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memlane.extraction.answer import Decision

__all__ = ["Plan", "plan_changes"]


@dataclass
class Plan:
    """What to apply: texts to add, (memory id, new text) to update, ids to delete."""

    adds: list[str] = field(default_factory=list)
    updates: list[tuple[str, str]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    @property
    def texts_to_embed(self) -> list[str]:
        """Every new text, adds first then updates (the order ops are built in)."""
        return self.adds + [text for _, text in self.updates]

    def __bool__(self) -> bool:
        return bool(self.adds or self.updates or self.deletes)


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def plan_changes(decisions: Sequence[Decision], related: Sequence[dict[str, Any]]) -> Plan:
    """Turns decisions about ``related`` (the memories shown, by index) into a plan."""
    plan = Plan()
    known_texts = {_key(m["memory"]) for m in related}
    planned_texts: set[str] = set()
    used_ids: set[int] = set()

    def add(text: str) -> None:
        key = _key(text)
        if key not in known_texts and key not in planned_texts:
            planned_texts.add(key)
            plan.adds.append(text)

    for decision in decisions:
        valid_id = decision.id is not None and 0 <= decision.id < len(related)
        if valid_id and decision.id in used_ids:
            continue  # one decision per memory: the first one stands
        if decision.event == "ADD":
            if decision.text:
                add(decision.text)
        elif decision.event == "UPDATE":
            if not decision.text:
                continue
            if not valid_id:
                add(decision.text)
                continue
            used_ids.add(decision.id)  # type: ignore[arg-type]
            target = related[decision.id]  # type: ignore[index]
            key = _key(decision.text)
            if key != _key(target["memory"]) and key not in planned_texts:
                planned_texts.add(key)
                plan.updates.append((target["id"], decision.text))
        elif decision.event == "DELETE":
            if valid_id:
                used_ids.add(decision.id)  # type: ignore[arg-type]
                plan.deletes.append(related[decision.id]["id"])  # type: ignore[index]
        elif valid_id:  # NONE
            used_ids.add(decision.id)  # type: ignore[arg-type]
    return plan
