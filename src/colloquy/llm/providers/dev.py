"""The built-in development model: no AI, it restates the last user message word by word.

It lets a fresh install work end to end with nothing to download or configure, and it is
deterministic, so tests can assert on what it says.
"""

import re
from collections.abc import AsyncIterator, Sequence

import anyio

from colloquy.llm.providers.base import (
    ChatMessage,
    Chunk,
    Finish,
    GenerationRequest,
    ProviderInfo,
    TextDelta,
    Usage,
)

MODEL_NAME = "colloquy-dev"
_WORD = re.compile(r"\s*\S+\s*")


def count_words(text: str) -> int:
    """The development model's tokenizer: whitespace-separated words."""
    return len(text.split())


def compose_reply(messages: Sequence[ChatMessage], agent_name: str | None = None) -> str:
    """The whole reply the development model gives to this conversation."""
    speaker = f"{MODEL_NAME} (development model, not AI)"
    if agent_name:
        speaker = f"{speaker} as agent {agent_name}"
    last = next((m.content.strip() for m in reversed(messages) if m.role == "user"), "")
    if not last:
        return f"{speaker} heard no user message."
    return f"{speaker} heard: {last}"


def split_words(text: str) -> list[str]:
    """The reply's pieces, one word each with its spacing, joining back to `text` exactly."""
    pieces: list[str] = _WORD.findall(text)
    return pieces


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first of the stop sequences in it."""
    positions = [text.find(s) for s in stop if s and s in text]
    return text[: min(positions)] if positions else text


class DevProvider:
    """Streams `compose_reply` one word at a time, `delay_ms` apart."""

    kind = "dev"

    def __init__(self, name: str = "dev", *, delay_ms: int = 0) -> None:
        self.name = name
        self.delay_ms = delay_ms

    def info(self) -> ProviderInfo:
        return ProviderInfo(name=self.name, kind=self.kind, models=(MODEL_NAME,))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        reply = cut_at_stop(compose_reply(request.messages, request.agent_name), request.stop)
        limit = request.max_output_tokens
        emitted = 0
        finish = "stop"
        for index, piece in enumerate(split_words(reply)):
            if limit is not None and emitted >= limit:
                finish = "length"
                break
            # Even without a delay, each word gives other tasks their turn.
            await anyio.sleep(self.delay_ms / 1000 if index else 0)
            yield TextDelta(piece)
            emitted += count_words(piece)
        input_tokens = sum(count_words(message.content) for message in request.messages)
        yield Usage(input_tokens=input_tokens, output_tokens=emitted, estimated=False)
        yield Finish(finish)

    async def aclose(self) -> None:
        return None
