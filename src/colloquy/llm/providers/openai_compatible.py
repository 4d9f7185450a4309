"""Any server that speaks the OpenAI Chat Completions API, through the official SDK.

The SDK retries connection errors, timeouts, 429 and 5xx with backoff; all of those happen
before the first token. A connection lost mid-reply is not retried: the caller has already
shown part of the answer.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import anyio
from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    AsyncStream,
    OpenAIError,
    Timeout,
)
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk

from colloquy.core.settings import ConfigError
from colloquy.llm import tokens
from colloquy.llm.config import ProviderConfig
from colloquy.llm.providers.base import (
    Chunk,
    Finish,
    GenerationRequest,
    ProviderError,
    ProviderInfo,
    TextDelta,
    Usage,
)

# Servers that need no key (a local vLLM or Ollama) still get a syntactically valid one.
NO_API_KEY = "not-needed"
MAX_DETAIL = 300
RETRYABLE_STATUSES = frozenset({408, 409, 429})


class OpenAICompatibleProvider:
    """Streams chat completions from `config.base_url` with `stream_options.include_usage`."""

    kind = "openai"

    def __init__(self, config: ProviderConfig) -> None:
        api_key = config.api_key()
        if config.api_key_env and not api_key:
            raise ConfigError(
                f"provider {config.name!r}: the variable {config.api_key_env} is not set"
            )
        self.name = config.name
        self.base_url = config.base_url
        self._secret = api_key
        self._client = AsyncOpenAI(
            base_url=config.base_url,
            api_key=api_key or NO_API_KEY,
            timeout=Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.read_timeout,
                pool=config.connect_timeout,
            ),
            max_retries=config.max_retries,
            default_headers=config.headers or None,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider(name={self.name!r}, base_url={self.base_url!r})"

    def info(self) -> ProviderInfo:
        return ProviderInfo(name=self.name, kind=self.kind, base_url=self.base_url)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        try:
            response = await self._client.chat.completions.create(**_body(request))
        except OpenAIError as exc:
            raise self._error(exc) from exc
        stream = cast(AsyncStream[ChatCompletionChunk], response)
        text: list[str] = []
        usage: CompletionUsage | None = None
        finish: str | None = None
        try:
            async for chunk in stream:
                delta, reason, chunk_usage = _read_chunk(chunk)
                usage = chunk_usage or usage
                finish = reason or finish
                if delta:
                    text.append(delta)
                    yield TextDelta(delta)
        except OpenAIError as exc:
            raise self._error(exc, midway=True) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(
                "the model server sent a malformed stream chunk", provider=self.name
            ) from exc
        finally:
            # Closing the response tells the server to stop generating (and billing).
            with anyio.CancelScope(shield=True):
                await stream.close()
        if finish is None:
            raise ProviderError(
                "the model server ended the stream before the reply was finished",
                provider=self.name,
                retryable=True,
            )
        yield await _usage(request, "".join(text), usage)
        yield Finish(finish)

    async def aclose(self) -> None:
        await self._client.close()

    def _error(self, exc: OpenAIError, *, midway: bool = False) -> ProviderError:
        status: int | None = None
        retryable = True
        if isinstance(exc, APITimeoutError):
            detail = "timed out waiting for the model server"
        elif isinstance(exc, APIConnectionError):
            detail = (
                "lost the connection to the model server mid-reply"
                if midway
                else "could not connect to the model server"
            )
        elif isinstance(exc, APIStatusError):
            status = exc.status_code
            retryable = status in RETRYABLE_STATUSES or status >= 500
            detail = f"the model server answered HTTP {status}: {_message(exc)}"
        else:
            retryable = False
            detail = f"the model server failed: {_message(exc)}"
        return ProviderError(
            self._scrub(detail), provider=self.name, status=status, retryable=retryable
        )

    def _scrub(self, detail: str) -> str:
        if self._secret:
            detail = detail.replace(self._secret, "[redacted]")
        return detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "…"


def _body(request: GenerationRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    return body


def _read_chunk(chunk: ChatCompletionChunk) -> tuple[str, str | None, CompletionUsage | None]:
    """The text, finish reason and usage one chunk carries; only the first choice counts."""
    delta = ""
    reason: str | None = None
    for choice in chunk.choices:
        if choice.index != 0:
            continue
        if choice.delta is not None and choice.delta.content:
            delta += choice.delta.content
        reason = choice.finish_reason or reason
    return delta, reason, chunk.usage


def _message(exc: OpenAIError) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, str) and body:
        return body
    return getattr(exc, "message", None) or str(exc)


async def _usage(request: GenerationRequest, text: str, usage: CompletionUsage | None) -> Usage:
    if usage is None or not _counts(usage.prompt_tokens, usage.completion_tokens):
        return Usage(
            input_tokens=await tokens.count_message_tokens_async(request.messages),
            output_tokens=await tokens.count_tokens_async(text),
            estimated=True,
        )
    prompt_details = usage.prompt_tokens_details
    completion_details = usage.completion_tokens_details
    cached = prompt_details.cached_tokens if prompt_details else None
    reasoning = completion_details.reasoning_tokens if completion_details else None
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cached_tokens=cached if _counts(cached) else None,
        reasoning_tokens=reasoning if _counts(reasoning) else None,
    )


def _counts(*values: object) -> bool:
    """Whether a server's usage numbers are usable (some send nulls or partial objects)."""
    return all(isinstance(value, int) and value >= 0 for value in values)
