"""The OpenAI-compatible provider against a loopback server speaking the real wire format."""

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from typing import Any, cast

import anyio.to_thread
import pytest

from colloquy.core.settings import ConfigError
from colloquy.llm import tokens
from colloquy.llm.config import ProviderConfig, ProviderKind
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
from colloquy.llm.providers.openai_compatible import NO_API_KEY, OpenAICompatibleProvider
from tests.llm.fake_openai import Behaviour, FakeOpenAIServer

KEY_ENV = "COLLOQUY_TEST_UPSTREAM_KEY"
SECRET = "sk-test-0123456789abcdef"
REQUEST = GenerationRequest(
    model="gpt-fake",
    messages=[ChatMessage("system", "Be kind."), ChatMessage("user", "Say hello.")],
    temperature=0.3,
    top_p=0.9,
    max_output_tokens=64,
)

MakeProvider = Callable[..., OpenAICompatibleProvider]


@pytest.fixture
async def make_provider(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MakeProvider]:
    """Providers for the loopback server; retries, timeouts and the key variable can vary."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    made: list[OpenAICompatibleProvider] = []

    def make(**overrides: Any) -> OpenAICompatibleProvider:
        values: dict[str, Any] = {
            "name": "upstream",
            "kind": ProviderKind.OPENAI,
            "base_url": openai_server.base_url,
            "api_key_env": KEY_ENV,
            "max_retries": 2,
        }
        values.update(overrides)
        made.append(OpenAICompatibleProvider(ProviderConfig(**values)))
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


async def read_all(
    provider: OpenAICompatibleProvider, request: GenerationRequest = REQUEST
) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


async def read_until_failure(
    provider: OpenAICompatibleProvider,
) -> tuple[list[Chunk], ProviderError]:
    received: list[Chunk] = []

    async def read() -> None:
        async for chunk in provider.stream(REQUEST):
            received.append(chunk)

    with pytest.raises(ProviderError) as failure:
        await read()
    return received, failure.value


def assert_no_secret(error: ProviderError) -> None:
    assert SECRET not in str(error)
    assert SECRET not in error.detail
    assert SECRET not in repr(error)


async def test_streams_deltas_then_usage_and_finish(make_provider: MakeProvider) -> None:
    chunks = await read_all(make_provider())

    assert chunks == [
        TextDelta("Hello"),
        TextDelta(" there"),
        TextDelta("!"),
        Usage(input_tokens=17, output_tokens=3, cached_tokens=5, reasoning_tokens=2),
        Finish("stop"),
    ]


async def test_sends_the_request_and_the_key(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    await read_all(make_provider())

    (received,) = openai_server.requests
    assert received.method == "POST"
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {SECRET}"
    assert received.body == {
        "model": "gpt-fake",
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Say hello."},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 64,
    }


async def test_leaves_out_unset_options_and_sends_stop_sequences(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    request = GenerationRequest(
        model="gpt-fake", messages=[ChatMessage("user", "Hi")], stop=["\n\n", "END"]
    )

    await read_all(make_provider(), request)

    body = openai_server.requests[0].body
    assert body["stop"] == ["\n\n", "END"]
    assert not {"temperature", "top_p", "max_tokens"} & body.keys()


async def test_sends_configured_headers(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    await read_all(make_provider(headers={"X-Team": "colloquy"}))

    assert openai_server.requests[0].headers["x-team"] == "colloquy"


async def test_a_server_without_a_key_gets_a_placeholder(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    await read_all(make_provider(api_key_env=None))

    assert openai_server.requests[0].headers["authorization"] == f"Bearer {NO_API_KEY}"


def test_a_missing_key_variable_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    config = ProviderConfig(
        name="upstream",
        kind=ProviderKind.OPENAI,
        base_url="http://127.0.0.1:9/v1",
        api_key_env=KEY_ENV,
    )

    with pytest.raises(ConfigError, match=KEY_ENV):
        OpenAICompatibleProvider(config)


async def test_maps_the_finish_reason(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(finish_reason="length")

    chunks = await read_all(make_provider())

    assert chunks[-1] == Finish("length")


async def test_counts_locally_when_the_server_sends_no_usage(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(send_usage=False)

    completion = await collect(make_provider(), REQUEST)

    assert completion.text == "Hello there!"
    assert completion.usage == Usage(
        input_tokens=tokens.count_message_tokens(REQUEST.messages),
        output_tokens=tokens.count_tokens("Hello there!"),
        estimated=True,
    )


async def test_retries_rate_limits_before_the_first_token(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(fail_times=2, fail_status=429)

    completion = await collect(make_provider(max_retries=2), REQUEST)

    assert completion.text == "Hello there!"
    assert len(openai_server.requests) == 3


async def test_retries_server_errors_before_the_first_token(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(fail_times=1, fail_status=503)

    completion = await collect(make_provider(max_retries=1), REQUEST)

    assert completion.finish_reason == "stop"
    assert len(openai_server.requests) == 2


async def test_gives_up_after_max_retries(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(fail_times=-1, fail_status=500)

    received, error = await read_until_failure(make_provider(max_retries=2))

    assert received == []
    assert len(openai_server.requests) == 3
    assert error.status == 500
    assert error.retryable
    assert error.provider == "upstream"
    assert "HTTP 500" in error.detail
    assert "The server had an error" in error.detail


async def test_a_client_error_is_not_retried_and_never_shows_the_key(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(
        fail_times=-1, fail_status=401, error_message=f"Incorrect API key provided: {SECRET}"
    )

    _, error = await read_until_failure(make_provider(max_retries=2))

    assert len(openai_server.requests) == 1
    assert error.status == 401
    assert not error.retryable
    assert "Incorrect API key provided" in error.detail
    assert_no_secret(error)


async def test_a_stalled_server_times_out(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(stall_seconds=2.0)

    with anyio.fail_after(1.5):
        received, error = await read_until_failure(make_provider(read_timeout=0.2, max_retries=0))

    assert received == []
    assert error.status is None
    assert "timed out" in error.detail
    assert_no_secret(error)


async def test_a_refused_connection_is_an_error() -> None:
    with anyio.fail_after(5):
        provider = OpenAICompatibleProvider(
            ProviderConfig(
                name="down",
                kind=ProviderKind.OPENAI,
                base_url="http://127.0.0.1:9/v1",
                max_retries=0,
            )
        )
        try:
            with pytest.raises(ProviderError, match="could not connect"):
                await read_all(provider)
        finally:
            await provider.aclose()


async def test_a_connection_lost_mid_reply_is_not_retried(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(deltas=("one", " two", " three"), drop_after=2)

    received, error = await read_until_failure(make_provider(max_retries=2))

    assert received == [TextDelta("one"), TextDelta(" two")]
    assert len(openai_server.requests) == 1
    assert "mid-reply" in error.detail


async def test_a_stream_that_ends_without_a_finish_is_an_error(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(finish_reason=None, send_usage=False)

    received, error = await read_until_failure(make_provider())

    assert [chunk for chunk in received if not isinstance(chunk, TextDelta)] == []
    assert "ended the stream" in error.detail


async def test_a_malformed_chunk_is_an_error(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(malformed=True)

    received, error = await read_until_failure(make_provider())

    assert len(received) == 3
    assert "malformed" in error.detail


async def test_closing_the_stream_closes_the_upstream_connection(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    openai_server.behaviour = Behaviour(deltas=("first", " second"), hold_open=True)
    stream = cast(AsyncGenerator[Chunk, None], make_provider().stream(REQUEST))

    assert await anext(stream) == TextDelta("first")
    await stream.aclose()

    left = await anyio.to_thread.run_sync(openai_server.client_left.wait, 5.0)
    assert left, "the server never saw the client go"


async def test_info_and_repr_show_no_secret(make_provider: MakeProvider) -> None:
    provider = make_provider()

    assert provider.info().base_url == provider.base_url
    assert SECRET not in repr(provider)
    assert SECRET not in repr(provider.info())


async def test_estimates_long_conversations_too(
    make_provider: MakeProvider, openai_server: FakeOpenAIServer
) -> None:
    long_text = "word " * 1000
    request = replace(REQUEST, messages=[ChatMessage("user", long_text)])
    openai_server.behaviour = Behaviour(send_usage=False)

    completion = await collect(make_provider(), request)

    assert completion.usage.estimated
    assert completion.usage.input_tokens == tokens.count_message_tokens(request.messages)
