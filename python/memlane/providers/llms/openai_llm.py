"""Chat completions through ``openai.AsyncOpenAI``: OpenAI or any compatible server.

Retries are ours, not the client's, so that the backoff and the set of retried answers
(connection errors, timeouts, 429, 5xx) are explicit. Servers that reject
``response_format`` (several local ones do) get the same request without it once, and
this object remembers that for its later calls; the prompt itself asks for JSON anyway.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import TYPE_CHECKING, Any, TypedDict, cast

from memlane.errors import LLMError

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam
    from openai.types.shared_params import ResponseFormatJSONObject

__all__ = ["OpenAILLM"]

_NO_LLM = (
    "add(infer=True) needs an LLM: set OPENAI_API_KEY, or configure "
    "llm={'provider': 'openai', 'config': {'base_url': 'http://host:port/v1', 'model': ...}} "
    "for any OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp); "
    "or pass infer=False to store messages verbatim"
)
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 8.0
_PLACEHOLDER_KEY = "memlane-no-api-key"


class _Options(TypedDict, total=False):
    """The optional fields of a chat request that this class sends (absent: not sent)."""

    temperature: float
    max_tokens: int
    top_p: float
    response_format: ResponseFormatJSONObject


class OpenAILLM:
    """Chat completions from the OpenAI API or an OpenAI-compatible server.

    Args:
        model: chat model name.
        api_key: falls back to ``OPENAI_API_KEY``.
        base_url: falls back to ``OPENAI_BASE_URL``.
        temperature, max_tokens, top_p: sampling settings sent with each call.
        timeout: seconds per HTTP request.
        max_retries: extra attempts after a retryable failure.

    Raises:
        LLMError: no API key and no base_url: there is no LLM to talk to.
    """

    def __init__(
        self,
        model: str = "gpt-4.1-nano-2025-04-14",
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        temperature: float = 0.1,
        max_tokens: int = 2000,
        top_p: float | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not api_key and not base_url:
            raise LLMError(_NO_LLM)
        import openai

        # Local servers ignore the key, but the client refuses to start without one.
        self._client = openai.AsyncOpenAI(
            api_key=api_key or _PLACEHOLDER_KEY, base_url=base_url, timeout=timeout, max_retries=0
        )
        self._model = model
        self._sampling: _Options = {"temperature": temperature, "max_tokens": max_tokens}
        if top_p is not None:
            self._sampling["top_p"] = top_p
        self._max_retries = max_retries
        self._json_mode_supported = True

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(self, messages: list[dict[str, str]], *, json_mode: bool) -> str:
        """One chat call (with retries); returns the answer's text.

        Raises:
            LLMError: the server kept failing, refused the request, or answered nothing.
        """
        import openai

        attempt = 0
        while True:
            use_json_mode = json_mode and self._json_mode_supported
            options = self._sampling.copy()
            if use_json_mode:
                options["response_format"] = {"type": "json_object"}
            try:
                response = await self._client.chat.completions.create(
                    model=self._model,
                    # The LLM protocol's role/content dicts are what openai's message
                    # TypedDicts describe; a dict[str, str] cannot say which keys it has.
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    **options,
                )
            except openai.BadRequestError as err:
                if use_json_mode and _rejects_json_mode(err):
                    self._json_mode_supported = False
                    continue
                raise LLMError(f"the LLM server refused the request: {err}") from err
            except (openai.RateLimitError, openai.InternalServerError,
                    openai.APIConnectionError) as err:  # APITimeoutError is a connection error
                if attempt >= self._max_retries:
                    raise LLMError(f"the LLM call failed after {attempt + 1} attempts: {err}") from err
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                continue
            except openai.APIError as err:
                raise LLMError(f"the LLM call failed: {err}") from err
            return _answer_text(response)


def _rejects_json_mode(err: openai.BadRequestError) -> bool:
    text = str(err).lower()
    return "response_format" in text or "json_object" in text or "json mode" in text


def _backoff(attempt: int) -> float:
    # Full jitter keeps many clients that failed together from retrying together.
    return random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt))


def _answer_text(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        content = None
    if not isinstance(content, str) or not content.strip():
        raise LLMError("the LLM answered with no text")
    return content
