"""POST /v1/chat/completions through OpenAI's SDK, answered by the development model."""

import anyio.to_thread
import httpx
import openai
import pytest

from tests.support import Account, make_account

DEV_MODEL = "colloquy-dev"
REPLY = "colloquy-dev (development model, not AI) heard: "
MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "hello there"},
]


async def test_completion(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(model=DEV_MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == DEV_MODEL
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == REPLY + "hello there"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len((REPLY + "hello there").split())
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


async def test_sync_completion(sync_sdk: openai.OpenAI) -> None:
    def create() -> str | None:
        completion = sync_sdk.chat.completions.create(
            model=DEV_MODEL, messages=[{"role": "user", "content": "from a thread"}]
        )
        return completion.choices[0].message.content

    assert await anyio.to_thread.run_sync(create) == REPLY + "from a thread"


async def test_max_tokens_cuts_the_reply(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model=DEV_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )

    assert completion.choices[0].message.content == "colloquy-dev (development "
    assert completion.choices[0].finish_reason == "length"


async def test_stream(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model=DEV_MODEL, messages=[{"role": "user", "content": "stream me"}], stream=True
    )
    chunks = [chunk async for chunk in stream]

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == REPLY + "stream me"


async def test_sync_stream(sync_sdk: openai.OpenAI) -> None:
    def collect() -> str:
        stream = sync_sdk.chat.completions.create(
            model=DEV_MODEL, messages=[{"role": "user", "content": "sync stream"}], stream=True
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream)

    assert await anyio.to_thread.run_sync(collect) == REPLY + "sync stream"


async def test_stream_with_usage(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model=DEV_MODEL,
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == 2
    assert last.usage.completion_tokens == len((REPLY + "count me").split())
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_raw_stream_ends_with_done(client: httpx.AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": DEV_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True},
        headers={"Authorization": f"Bearer {api_key}"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(event.startswith("data: ") for event in events[:-1])


async def test_agent_as_model(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/api/v1/agents",
        json={"name": "Ada", "instructions": "You are Ada."},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    model = f"agent:{response.json()['id']}"

    completion = await sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "who are you"}]
    )

    assert completion.model == model
    assert completion.choices[0].message.content == (
        "colloquy-dev (development model, not AI) as agent Ada heard: who are you"
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == len(["You", "are", "Ada.", "who", "are", "you"])


async def test_another_users_agent_is_not_found(
    sdk: openai.AsyncOpenAI, client: httpx.AsyncClient
) -> None:
    other = await make_account(client)
    response = await client.post("/api/v1/agents", json={"name": "Theirs"}, headers=other.headers)
    assert response.status_code == 201, response.text

    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.chat.completions.create(
            model=f"agent:{response.json()['id']}", messages=[{"role": "user", "content": "hi"}]
        )

    assert caught.value.code == "model_not_found"


async def test_access_token_works(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": DEV_MODEL, "messages": [{"role": "user", "content": "token"}]},
        headers=account.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == REPLY + "token"
