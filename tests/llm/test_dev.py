"""The development model: deterministic, word by word, honest word counts."""

import itertools
import math
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any, cast

import anyio
import pytest

from colloquy.llm.providers import collect
from colloquy.llm.providers.base import (
    ChatMessage,
    Chunk,
    Finish,
    GenerationRequest,
    TextDelta,
    Usage,
)
from colloquy.llm.providers.dev import MODEL_NAME, DevProvider, compose_reply, split_words

CONVERSATION = [
    ChatMessage("system", "You write short slogans."),
    ChatMessage("user", "Name a colour."),
    ChatMessage("assistant", "Blue."),
    ChatMessage("user", "Now a  slogan\nfor a bakery, please."),
]


BASE = GenerationRequest(model=MODEL_NAME, messages=CONVERSATION)


def request(**overrides: Any) -> GenerationRequest:
    return replace(BASE, **overrides)


async def chunks_of(provider: DevProvider, req: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(req)]


def texts(chunks: list[Chunk]) -> list[str]:
    return [chunk.text for chunk in chunks if isinstance(chunk, TextDelta)]


async def test_restates_the_last_user_message_and_says_it_is_not_ai() -> None:
    chunks = await chunks_of(DevProvider(), request())

    reply = "".join(texts(chunks))
    assert reply == compose_reply(CONVERSATION)
    assert reply.startswith(f"{MODEL_NAME} (development model, not AI) heard: ")
    assert reply.endswith("Now a  slogan\nfor a bakery, please.")
    assert chunks[-1] == Finish("stop")


async def test_is_deterministic() -> None:
    provider = DevProvider()

    assert await chunks_of(provider, request()) == await chunks_of(provider, request())


async def test_streams_one_word_per_delta_keeping_the_spacing() -> None:
    chunks = await chunks_of(DevProvider(), request())

    pieces = texts(chunks)
    assert len(pieces) == len(compose_reply(CONVERSATION).split())
    assert all(len(piece.split()) == 1 for piece in pieces)
    assert "slogan\n" in pieces
    assert isinstance(chunks[-2], Usage)


async def test_names_the_agent() -> None:
    chunks = await chunks_of(DevProvider(), request(agent_name="Copywriter"))

    assert "".join(texts(chunks)).startswith(
        f"{MODEL_NAME} (development model, not AI) as agent Copywriter heard: "
    )


async def test_reply_grows_with_the_input() -> None:
    short = await collect(DevProvider(), request(messages=[ChatMessage("user", "hi")]))
    long = await collect(DevProvider(), request(messages=[ChatMessage("user", "hi " * 50)]))

    assert long.usage.output_tokens == short.usage.output_tokens + 49


async def test_without_a_user_message_says_so() -> None:
    reply = await collect(DevProvider(), request(messages=[ChatMessage("system", "Be brief.")]))

    assert reply.text == f"{MODEL_NAME} (development model, not AI) heard no user message."


async def test_counts_words_as_tokens() -> None:
    completion = await collect(DevProvider(), request())

    words_in = sum(len(message.content.split()) for message in CONVERSATION)
    assert completion.usage == Usage(
        input_tokens=words_in, output_tokens=len(completion.text.split()), estimated=False
    )


@pytest.mark.parametrize("limit", [0, 1, 5])
async def test_stops_at_max_output_tokens(limit: int) -> None:
    chunks = await chunks_of(DevProvider(), request(max_output_tokens=limit))

    pieces = texts(chunks)
    assert len(pieces) == limit
    assert "".join(pieces) == "".join(split_words(compose_reply(CONVERSATION))[:limit])
    usage = chunks[-2]
    assert isinstance(usage, Usage)
    assert usage.output_tokens == limit
    assert chunks[-1] == Finish("length")


async def test_a_limit_the_reply_fits_in_is_a_normal_stop() -> None:
    words = len(compose_reply(CONVERSATION).split())

    completion = await collect(DevProvider(), request(max_output_tokens=words))

    assert completion.finish_reason == "stop"
    assert completion.usage.output_tokens == words


async def test_cuts_the_reply_at_a_stop_sequence() -> None:
    completion = await collect(DevProvider(), request(stop=["bakery"]))

    assert completion.text.endswith("for a ")
    assert completion.finish_reason == "stop"


async def test_without_delay_other_tasks_run_between_words() -> None:
    provider = DevProvider(delay_ms=0)
    ticks: list[int] = []
    seen: list[int] = []

    async def ticker() -> None:
        while True:
            ticks.append(1)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ticker)
        async for chunk in provider.stream(request()):
            if isinstance(chunk, TextDelta):
                seen.append(len(ticks))
        tasks.cancel_scope.cancel()

    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


async def test_waits_delay_ms_between_words(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("colloquy.llm.providers.dev.anyio.sleep", fake_sleep)

    pieces = texts(await chunks_of(DevProvider(delay_ms=250), request()))

    assert len(waits) == len(pieces)
    assert waits[0] == 0
    assert all(math.isclose(wait, 0.25) for wait in waits[1:])


async def test_closing_early_stops_the_stream() -> None:
    stream = cast(AsyncGenerator[Chunk, None], DevProvider().stream(request()))

    first = await anext(stream)
    await stream.aclose()

    assert isinstance(first, TextDelta)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
