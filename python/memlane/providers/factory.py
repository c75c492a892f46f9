"""Config → provider objects. One `match` per section on the config's type: a typo in a
provider name fails when the config is read, never here."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from memlane.config import (
    EmbeddedStoreConfig,
    EmbedderConfig,
    LLMConfig,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    OpenAILLMConfig,
    PostgresStoreConfig,
    VectorStoreConfig,
)
from memlane.errors import ValidationError

if TYPE_CHECKING:
    from memlane.providers.embedders.base import Embedder
    from memlane.providers.llms.base import LLM
    from memlane.providers.stores.base import Store


def default_embedder_config() -> EmbedderConfig:
    """``openai`` when an API key is configured, else the local model when installed."""
    from memlane.providers.embedders.local_embedder import LocalEmbedder

    if not os.environ.get("OPENAI_API_KEY") and LocalEmbedder.is_available():
        return LocalEmbedderConfig()
    return OpenAIEmbedderConfig()


def build_embedder(config: EmbedderConfig | None) -> Embedder:
    """The embedder a config describes (``None``: see :func:`default_embedder_config`)."""
    config = config or default_embedder_config()
    match config:
        case OpenAIEmbedderConfig(config=s):
            from memlane.providers.embedders.openai_embedder import OpenAIEmbedder

            return OpenAIEmbedder(
                model=s.model,
                api_key=s.api_key,
                base_url=s.base_url,
                dims=s.embedding_dims,
                timeout=s.timeout,
                max_retries=s.max_retries,
            )
        case LocalEmbedderConfig(config=s):
            from memlane.providers.embedders.local_embedder import LocalEmbedder

            return LocalEmbedder(threads=s.threads, max_length=s.max_length)
    raise ValidationError(f"unsupported embedder config {config!r}")


def open_store(config: VectorStoreConfig, dims: int | None) -> Store:
    """Opens the store a config describes, for vectors of ``dims`` (None: learn it)."""
    match config:
        case EmbeddedStoreConfig(config=s):
            from memlane.providers.stores.embedded import EmbeddedStore

            return EmbeddedStore(s.database_file(), dims, s.index_min_memories)
        case PostgresStoreConfig(config=s):
            from memlane.providers.stores.postgres import PostgresStore

            return PostgresStore(s, dims)
    raise ValidationError(f"unsupported vector_store config {config!r}")


async def open_store_async(config: VectorStoreConfig, dims: int | None) -> Store:
    """:func:`open_store` without blocking the event loop (the embedded store opens on a
    worker thread; the PostgreSQL store connects lazily, at its first call, anyway)."""
    match config:
        case EmbeddedStoreConfig(config=s):
            from memlane.providers.stores.embedded import EmbeddedStore

            return await EmbeddedStore.open(s.database_file(), dims, s.index_min_memories)
    return open_store(config, dims)


def build_llm(config: LLMConfig) -> LLM:
    """The LLM a config describes.

    Raises:
        LLMError: no API key and no base_url (nothing to talk to), saying how to set one.
    """
    match config:
        case OpenAILLMConfig(config=s):
            from memlane.providers.llms.openai_llm import OpenAILLM

            return OpenAILLM(
                model=s.model,
                api_key=s.api_key,
                base_url=s.base_url,
                temperature=s.temperature,
                max_tokens=s.max_tokens,
                top_p=s.top_p,
                timeout=s.timeout,
                max_retries=s.max_retries,
            )
    raise ValidationError(f"unsupported llm config {config!r}")
