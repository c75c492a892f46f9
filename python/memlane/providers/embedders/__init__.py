"""Embedders: turn texts into float32 vectors (OpenAI-compatible API, or offline MiniLM).

Nothing is imported here on purpose: import the module you need
(``memlane.providers.embedders.openai_embedder`` or ``.local_embedder``), so that choosing
one embedder never loads the other's dependencies.
"""
