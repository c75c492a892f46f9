"""Turning a conversation into memory changes with one LLM call (DESIGN.md, decision 4)."""
