"""Local checkpoints: a tiny GPT-2 built in a fixture, generated in a worker thread."""

import sys
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from colloquy.llm.providers import collect
from colloquy.llm.providers.base import (
    ChatMessage,
    Chunk,
    Finish,
    GenerationRequest,
    ProviderError,
    TextDelta,
    Usage,
)
from colloquy.llm.providers.local import INSTALL_HINT, LocalProvider

MESSAGES = [ChatMessage("system", "Greet people."), ChatMessage("user", "hello there")]


def request(model: str = "tiny", **options: Any) -> GenerationRequest:
    return GenerationRequest(model=model, messages=MESSAGES, **options)


@pytest.fixture
async def provider(model_dir: Path) -> AsyncIterator[LocalProvider]:
    local = LocalProvider([model_dir])
    yield local
    await local.aclose()


@pytest.fixture
def forward_calls() -> Iterator[list[int]]:
    """The thread of every forward pass of any torch model while the test runs."""
    torch = pytest.importorskip("torch", reason="the local provider needs colloquy[local]")

    calls: list[int] = []

    def record(module: Any, args: Any, output: Any) -> None:
        if type(module).__name__ == "GPT2LMHeadModel":
            calls.append(threading.get_ident())

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    yield calls
    handle.remove()


def generating_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "colloquy-generate"]


async def test_streams_text_in_several_deltas(provider: LocalProvider) -> None:
    chunks = [chunk async for chunk in provider.stream(request(max_output_tokens=12))]

    deltas = [chunk for chunk in chunks if isinstance(chunk, TextDelta)]
    assert len(deltas) >= 3
    assert "".join(delta.text for delta in deltas).split() == ["hello"] * 12
    assert isinstance(chunks[-2], Usage)
    assert chunks[-1] == Finish("length")


async def test_counts_usage_with_the_checkpoint_tokenizer(
    provider: LocalProvider, model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir / "tiny", local_files_only=True)
    prompt = "system: Greet people.\nuser: hello there\nassistant:"

    completion = await collect(provider, request(max_output_tokens=7))

    assert completion.usage == Usage(
        input_tokens=len(tokenizer(prompt)["input_ids"]), output_tokens=7, estimated=False
    )


async def test_uses_the_chat_template_when_there_is_one(
    provider: LocalProvider, model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir / "tiny-chat", local_files_only=True)
    prompt = "<|system|>Greet people.\n<|user|>hello there\n<|assistant|>"

    completion = await collect(provider, request("tiny-chat", max_output_tokens=3))

    expected = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert completion.usage.input_tokens == expected


@pytest.mark.parametrize("limit", [1, 5])
async def test_respects_max_output_tokens(provider: LocalProvider, limit: int) -> None:
    completion = await collect(provider, request(max_output_tokens=limit))

    assert completion.usage.output_tokens == limit
    assert completion.finish_reason == "length"
    assert len(completion.text.split()) == limit


async def test_samples_with_a_temperature(provider: LocalProvider) -> None:
    completion = await collect(provider, request(max_output_tokens=4, temperature=0.8, top_p=0.95))

    assert completion.usage.output_tokens == 4


async def test_accepts_an_absolute_path_inside_the_model_dirs(
    provider: LocalProvider, model_dir: Path
) -> None:
    completion = await collect(provider, request(str(model_dir / "tiny"), max_output_tokens=2))

    assert completion.usage.output_tokens == 2


async def test_refuses_a_checkpoint_outside_the_model_dirs(model_dir: Path, tmp_path: Path) -> None:
    elsewhere = LocalProvider([tmp_path / "models"])

    with pytest.raises(ProviderError, match="inside the configured model directories"):
        await collect(elsewhere, request(str(model_dir / "tiny")))


async def test_stops_at_a_stop_sequence(provider: LocalProvider) -> None:
    completion = await collect(provider, request(max_output_tokens=50, stop=["hello hello"]))

    assert completion.finish_reason == "stop"
    assert completion.usage.output_tokens < 50


async def test_a_conversation_longer_than_the_context_window_is_refused(
    provider: LocalProvider,
) -> None:
    long = GenerationRequest(model="tiny", messages=[ChatMessage("user", "hello " * 600)])

    with pytest.raises(ProviderError, match="does not fit the model's context window of 512"):
        await collect(provider, long)


async def test_a_missing_checkpoint_is_an_error(provider: LocalProvider) -> None:
    with pytest.raises(ProviderError, match="no checkpoint"):
        await collect(provider, request("missing"))


async def test_closing_the_stream_stops_generation(
    provider: LocalProvider, forward_calls: list[int]
) -> None:
    stream = cast(AsyncGenerator[Chunk, None], provider.stream(request(max_output_tokens=400)))

    assert isinstance(await anext(stream), TextDelta)
    started = time.perf_counter()
    await stream.aclose()

    assert time.perf_counter() - started < 5
    assert generating_threads() == []
    assert 0 < len(forward_calls) < 100


async def test_generates_off_the_event_loop(
    provider: LocalProvider, forward_calls: list[int]
) -> None:
    loop_thread = threading.get_ident()
    ticks = 0
    ticks_at_delta: list[int] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ticker)
        async for chunk in provider.stream(request(max_output_tokens=30)):
            if isinstance(chunk, TextDelta):
                ticks_at_delta.append(ticks)
        tasks.cancel_scope.cancel()

    assert forward_calls
    assert loop_thread not in forward_calls
    assert ticks_at_delta[-1] - ticks_at_delta[0] >= 5


async def test_reuses_a_loaded_checkpoint(provider: LocalProvider) -> None:
    await collect(provider, request(max_output_tokens=1))
    loaded = dict(provider._cache)

    await collect(provider, request(max_output_tokens=1))

    assert dict(provider._cache) == loaded


async def test_without_the_extra_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "models" / "tiny"
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "transformers", None)

    with pytest.raises(ProviderError) as failure:
        await collect(LocalProvider([tmp_path / "models"]), request())

    assert failure.value.detail == INSTALL_HINT
    assert "colloquy[local]" in INSTALL_HINT
