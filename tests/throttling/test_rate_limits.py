"""Per-minute limits and running-reply slots over HTTP: on API keys, users and models, on /v1
(OpenAI's errors and headers) and on chat sends (problem details), in one process or shared
through Redis by several."""

import contextlib
import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import openai
import pytest
from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import Message, Scope

from tests.conftest import TEST_REDIS_URL, make_settings
from tests.core.apps import running_app
from tests.keys.support import bearer, make_key
from tests.openai_api.support import open_sdk
from tests.support import assert_problem, make_account, make_admin
from tests.throttling.support import (
    COMPLETIONS,
    RESET,
    RETRY_AFTER,
    add_model,
    assert_openai_error,
    chat_messages,
    complete,
    create_chat,
    get_model,
    inference_key,
    send_message,
)

needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (set TEST_REDIS_URL)")
SLOW_REPLY = 100  # ms between the development model's words


def assert_rate_limited_on_v1(response: httpx.Response, kind: str, limit: int) -> None:
    assert_openai_error(response, 429, "rate_limit_exceeded", "rate_limit_error")
    assert response.headers["retry-after"] == RETRY_AFTER
    assert response.headers[f"x-ratelimit-limit-{kind}"] == str(limit)
    assert response.headers[f"x-ratelimit-remaining-{kind}"] == "0"
    assert response.headers[f"x-ratelimit-reset-{kind}"] == RESET


async def test_key_requests_per_minute_then_openai_429(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, requests_per_minute=2)

    first = await complete(client, key)
    second = await complete(client, key)
    third = await complete(client, key)

    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert first.json()["object"] == "chat.completion"
    assert_rate_limited_on_v1(third, "requests", 2)
    assert "requests" in third.json()["error"]["message"]


async def test_sdk_raises_rate_limit_error(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, requests_per_minute=1)
    messages: Any = [{"role": "user", "content": "hi"}]

    async with open_sdk(app, key) as sdk:
        await sdk.chat.completions.create(model="colloquy-dev", messages=messages)
        with pytest.raises(openai.RateLimitError) as caught:
            await sdk.chat.completions.create(model="colloquy-dev", messages=messages)

    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "rate_limit_error"


async def test_successful_v1_calls_carry_rate_limit_headers(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, requests_per_minute=5, tokens_per_minute=100_000)

    first = await complete(client, key)
    second = await complete(client, key)

    for response in (first, second):
        assert response.status_code == 200, response.text
        assert response.headers["x-ratelimit-limit-requests"] == "5"
        assert response.headers["x-ratelimit-limit-tokens"] == "100000"
        assert response.headers["x-ratelimit-reset-requests"] == RESET
        assert response.headers["x-ratelimit-reset-tokens"] == RESET
    assert first.headers["x-ratelimit-remaining-requests"] == "4"
    assert second.headers["x-ratelimit-remaining-requests"] == "3"
    # Each call sets its prompt and its longest reply aside, and is charged what it used after.
    estimate = 100_000 - int(first.headers["x-ratelimit-remaining-tokens"])
    assert estimate > first.json()["usage"]["total_tokens"]
    used = first.json()["usage"]["total_tokens"]
    assert int(second.headers["x-ratelimit-remaining-tokens"]) == 100_000 - used - estimate


async def test_streamed_v1_calls_carry_rate_limit_headers(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, requests_per_minute=3)

    response = await complete(client, key, stream=True)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-ratelimit-limit-requests"] == "3"
    assert response.headers["x-ratelimit-remaining-requests"] == "2"
    assert response.text.rstrip().endswith("data: [DONE]")


async def test_key_tokens_per_minute_used_up_refuses_the_next_call(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, tokens_per_minute=20)
    content = " ".join(f"word{index}" for index in range(15))

    first = await complete(client, key, content=content)
    assert first.status_code == 200, first.text
    assert first.json()["usage"]["total_tokens"] >= 20
    assert first.headers["x-ratelimit-limit-tokens"] == "20"
    assert first.headers["x-ratelimit-remaining-tokens"] == "0"

    refused = await complete(client, key, content="short")
    assert_rate_limited_on_v1(refused, "tokens", 20)
    assert "tokens" in refused.json()["error"]["message"]


async def test_the_token_estimate_is_replaced_by_what_was_used(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    # Room for one estimate (a prompt and the model's longest reply), not for two.
    key = await inference_key(client, owner, tokens_per_minute=1_500)

    for _ in range(3):
        response = await complete(client, key)
        assert response.status_code == 200, response.text


async def test_keys_have_limits_of_their_own(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    limited = await inference_key(client, owner, requests_per_minute=1)
    other = await inference_key(client, owner, requests_per_minute=1)

    assert (await complete(client, limited)).status_code == 200
    assert (await complete(client, other)).status_code == 200
    assert_rate_limited_on_v1(await complete(client, limited), "requests", 1)


@pytest.mark.parametrize("settings_overrides", [{"key_requests_per_minute": 1}], ids=["one"])
async def test_settings_default_applies_to_keys_without_their_own(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner)
    own = await inference_key(client, owner, requests_per_minute=2)

    ok = await complete(client, key)
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-ratelimit-limit-requests"] == "1"
    assert_rate_limited_on_v1(await complete(client, key), "requests", 1)
    # A key's own limit takes the default's place.
    assert (await complete(client, own)).status_code == 200
    assert (await complete(client, own)).status_code == 200


async def test_raising_a_key_s_limit_lets_it_through_again(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner, scopes=["inference"], requests_per_minute=1)
    key = created["key"]
    assert (await complete(client, key)).status_code == 200
    assert_rate_limited_on_v1(await complete(client, key), "requests", 1)

    response = await client.patch(
        f"/api/v1/api-keys/{created['id']}",
        json={"requests_per_minute": 2},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text

    again = await complete(client, key)
    assert again.status_code == 200, again.text
    assert again.headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.parametrize("settings_overrides", [{"user_requests_per_minute": 1}], ids=["one"])
async def test_user_requests_per_minute_limits_chat_sends(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    chat_id = await create_chat(client, user.headers)

    sent = await send_message(client, user.headers, chat_id, "first")
    assert sent.status_code == 201, sent.text
    assert sent.headers["x-ratelimit-limit-requests"] == "1"
    assert sent.headers["x-ratelimit-remaining-requests"] == "0"
    assert sent.headers["x-ratelimit-reset-requests"] == RESET
    before = await chat_messages(client, user, chat_id)

    refused = await send_message(client, user.headers, chat_id, "second")

    body = assert_problem(refused, 429, "rate_limited")
    assert "requests" in body["detail"]
    assert refused.headers["retry-after"] == RETRY_AFTER
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    # Nothing was written: no user message, no placeholder reply.
    after = await chat_messages(client, user, chat_id)
    assert after == before
    assert len(after) == 2
    # Another user has a minute of their own.
    other = await make_account(client)
    other_chat = await create_chat(client, other.headers)
    assert (await send_message(client, other.headers, other_chat)).status_code == 201


@pytest.mark.parametrize("settings_overrides", [{"user_requests_per_minute": 2}], ids=["two"])
async def test_a_user_s_keys_and_logins_share_the_user_limit(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    first_key = await inference_key(client, user)
    second_key = await inference_key(client, user)

    assert (await complete(client, first_key)).status_code == 200
    assert (await complete(client, second_key)).status_code == 200
    refused = await complete(client, user.access_token)

    assert_rate_limited_on_v1(refused, "requests", 2)
    assert "user" in refused.json()["error"]["message"]


async def test_model_requests_per_minute_limit_each_user_apart(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    model = await get_model(client, admin, "colloquy-dev")
    response = await client.patch(
        f"/api/v1/models/{model['id']}", json={"requests_per_minute": 1}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["requests_per_minute"] == 1
    other = await add_model(client, admin, "house-model")
    first, second = await make_account(client), await make_account(client)
    first_key = await inference_key(client, first)

    assert (await complete(client, first_key)).status_code == 200
    refused = await complete(client, first_key)
    assert_rate_limited_on_v1(refused, "requests", 1)
    assert "user" in refused.json()["error"]["message"]
    # The same user on another model, and another user on this one, are let through.
    assert (await complete(client, first_key, model=other["name"])).status_code == 200
    assert (await complete(client, second.access_token)).status_code == 200
    # The limit holds for chats on the model too.
    chat_id = await create_chat(client, first.headers)
    assert_problem(await send_message(client, first.headers, chat_id), 429, "rate_limited")
    assert await chat_messages(client, first, chat_id) == []


async def test_model_tokens_per_minute_is_set_at_creation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    model = await add_model(client, admin, "metered-model", tokens_per_minute=5)
    user = await make_account(client)

    first = await complete(client, user.access_token, model=model["name"])
    assert first.status_code == 200, first.text
    assert first.headers["x-ratelimit-limit-tokens"] == "5"

    assert_rate_limited_on_v1(
        await complete(client, user.access_token, model=model["name"]), "tokens", 5
    )


async def _wait_for_streaming_reply(
    client: httpx.AsyncClient, headers: dict[str, str], chat_id: str
) -> None:
    with anyio.fail_after(10):
        while True:
            response = await client.get(f"/api/v1/chats/{chat_id}/messages", headers=headers)
            items = response.json()["items"]
            if any(item["status"] == "streaming" for item in items):
                return
            await anyio.sleep(0.02)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"user_concurrent_streams": 1, "dev_model_delay_ms": SLOW_REPLY}],
    ids=["one-slow"],
)
async def test_concurrent_streams_refuse_a_second_reply_while_one_runs(
    client: httpx.AsyncClient,
) -> None:
    user = await make_account(client)
    running_chat = await create_chat(client, user.headers)
    other_chat = await create_chat(client, user.headers)
    replies: list[httpx.Response] = []

    async def first_reply() -> None:
        replies.append(await send_message(client, user.headers, running_chat, "a slow one"))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first_reply)
        await _wait_for_streaming_reply(client, user.headers, running_chat)

        refused = await send_message(client, user.headers, other_chat, "meanwhile")
        assert_problem(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "1"
        assert "streams" in refused.json()["detail"]
        assert await chat_messages(client, user, other_chat) == []

    [first] = replies
    assert first.status_code == 201, first.text
    assert first.json()["assistant_message"]["status"] == "complete"
    after = await send_message(client, user.headers, other_chat, "now")
    assert after.status_code == 201, after.text


async def _wait_for_a_reservation(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Until a call holds tokens of the monthly budget: it has been admitted and is running."""
    with anyio.fail_after(10):
        while True:
            response = await client.get("/api/v1/usage/quota", headers=headers)
            assert response.status_code == 200, response.text
            if response.json()["reserved"] > 0:
                return
            await anyio.sleep(0.02)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"key_concurrent_streams": 1, "dev_model_delay_ms": SLOW_REPLY}],
    ids=["one-slow"],
)
async def test_key_concurrent_streams_on_v1(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    # A budget makes a running call visible, as tokens reserved.
    key = await inference_key(client, user, monthly_token_budget=10**6)
    other_key = await inference_key(client, user)
    results: list[httpx.Response] = []

    async def slow_call() -> None:
        results.append(await complete(client, key, content="a slow one"))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(slow_call)
        await _wait_for_a_reservation(client, user.headers)

        refused = await complete(client, key, content="meanwhile")
        assert_openai_error(refused, 429, "rate_limit_exceeded", "rate_limit_error")
        assert refused.headers["retry-after"] == "1"
        # Another key of the same user has slots of its own.
        assert (await complete(client, other_key, content="x")).status_code == 200

    assert results[0].status_code == 200, results[0].text
    assert (await complete(client, key, content="x")).status_code == 200


async def _leave_before_the_response_starts(app: FastAPI, key: str) -> None:
    """A streamed /v1 call whose client is gone before the first byte: the server says so the way
    ASGI 2.4 lets it, by raising OSError from `send`."""
    body = {"model": "colloquy-dev", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    payload = json.dumps(body).encode()
    inbox: list[Message] = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> Message:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise OSError("the client closed the connection")

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": COMPLETIONS,
        "raw_path": COMPLETIONS.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    # The app may let the disconnect through or end the request itself; either way it is over.
    with contextlib.suppress(OSError, ClientDisconnect):
        await app(scope, receive, send)


@pytest.mark.parametrize("settings_overrides", [{"key_concurrent_streams": 1}], ids=["one"])
async def test_a_stream_whose_client_left_early_frees_its_slot(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, monthly_token_budget=10**6)

    await _leave_before_the_response_starts(app, key)

    quota = await client.get("/api/v1/usage/quota", headers=owner.headers)
    assert quota.json()["reserved"] == 0
    usage = await client.get("/api/v1/usage", params={"group_by": "source"}, headers=owner.headers)
    assert usage.json()["totals"]["requests"] == 1  # charged once, for what it used
    response = await complete(client, key)
    assert response.status_code == 200, response.text


@pytest.mark.redis
@needs_redis
async def test_limits_are_shared_by_apps_on_one_redis(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "var", redis_url=TEST_REDIS_URL)
    async with (
        running_app(settings) as (_, first),
        running_app(settings, keep_rows=True) as (_, second),
    ):
        owner = await make_account(first)
        key = await inference_key(first, owner, requests_per_minute=3)

        assert (await complete(first, key)).status_code == 200
        assert (await complete(second, key)).status_code == 200
        third = await complete(first, key)
        assert third.status_code == 200, third.text
        assert third.headers["x-ratelimit-remaining-requests"] == "0"

        assert_rate_limited_on_v1(await complete(second, key), "requests", 3)
        assert_rate_limited_on_v1(await complete(first, key), "requests", 3)
        # Other keys are counted apart, on either app.
        other = await inference_key(second, owner, requests_per_minute=3)
        response = await complete(second, other)
        assert response.headers["x-ratelimit-remaining-requests"] == "2"


@pytest.mark.redis
@needs_redis
async def test_running_replies_are_shared_by_apps_on_one_redis(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path / "var",
        redis_url=TEST_REDIS_URL,
        user_concurrent_streams=1,
        dev_model_delay_ms=SLOW_REPLY,
    )
    async with (
        running_app(settings) as (_, first),
        running_app(settings, keep_rows=True) as (_, second),
    ):
        user = await make_account(first)
        running_chat = await create_chat(first, user.headers)
        other_chat = await create_chat(second, user.headers)
        replies: list[httpx.Response] = []

        async def first_reply() -> None:
            replies.append(await send_message(first, user.headers, running_chat, "slow"))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(first_reply)
            await _wait_for_streaming_reply(second, user.headers, running_chat)
            refused = await send_message(second, user.headers, other_chat, "meanwhile")
            assert_problem(refused, 429, "rate_limited")

        assert replies[0].status_code == 201, replies[0].text
        assert (await send_message(second, user.headers, other_chat)).status_code == 201


async def test_inference_key_bearer_on_chat_routes_is_refused(client: httpx.AsyncClient) -> None:
    """A key for /v1 alone cannot send chat messages: its scope is checked before any limit."""
    user = await make_account(client)
    key = await inference_key(client, user, requests_per_minute=1)
    chat_id = await create_chat(client, user.headers)

    response = await client.post(
        f"/api/v1/chats/{chat_id}/messages", json={"content": "hi"}, headers=bearer(key)
    )

    assert_problem(response, 403, "insufficient_scope")
