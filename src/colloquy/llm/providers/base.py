"""The one interface every provider implements: stream text deltas, then usage and a finish."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What a provider is asked for; `model` is the provider's own model name or path."""

    model: str
    messages: Sequence[ChatMessage]
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    stop: Sequence[str] = ()
    # Shown to the development model, which names the agent in its reply.
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    # True when the provider did not report usage and the numbers were counted locally.
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str


Chunk = TextDelta | Usage | Finish


class ProviderError(Exception):
    """Any failure of a provider, whatever its kind: one type for callers to handle."""

    def __init__(
        self,
        detail: str,
        *,
        provider: str,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.provider = provider
        self.status = status
        self.retryable = retryable


class Provider(Protocol):
    name: str
    kind: str

    def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Yield TextDelta chunks as they are produced, then Usage and Finish.

        Closing the iterator (aclose) must stop the upstream work at once: the HTTP request
        is closed, or local generation stops. Failures raise ProviderError.
        """
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What may be shown about a provider: never its secret."""

    name: str
    kind: str
    base_url: str | None = None
    models: Sequence[str] = field(default_factory=tuple)
