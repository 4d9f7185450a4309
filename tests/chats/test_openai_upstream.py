"""A chat answered by an OpenAI-compatible server declared in configuration, end to end."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.chats.support import chat_url, make_chat, parse_sse
from tests.llm.fake_openai import FakeOpenAIServer
from tests.support import assert_problem, make_account, make_admin

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def settings_overrides(
    upstream: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv("UPSTREAM_API_KEY", SECRET)
    provider = {
        "name": "upstream",
        "kind": "openai",
        "base_url": upstream.base_url,
        "api_key_env": "UPSTREAM_API_KEY",
        "max_retries": 0,
    }
    return {"providers": json.dumps([provider])}


async def _register_model(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    admin = await make_admin(app, client)
    response = await client.post(
        "/api/v1/models",
        json={
            "name": "upstream-chat",
            "provider": "upstream",
            "provider_model": "gpt-test",
            "context_window": 4096,
            "max_output_tokens": 256,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_reply_comes_from_the_configured_server(
    app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    model = await _register_model(app, client)
    user = await make_account(client)
    chat = await make_chat(client, user, model_id="upstream-chat")
    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "Hi upstream"}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    reply = response.json()["assistant_message"]
    assert reply["content"] == "Hello there!"
    assert reply["model_id"] == model["id"]
    assert (reply["input_tokens"], reply["cached_tokens"], reply["tokens_estimated"]) == (
        17,
        5,
        False,
    )
    sent = upstream.requests[-1]
    assert sent.body["model"] == "gpt-test"
    assert sent.body["messages"][-1] == {"role": "user", "content": "Hi upstream"}
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in json.dumps(model)


async def test_the_configured_server_streams_through_sse(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _register_model(app, client)
    user = await make_account(client)
    chat = await make_chat(client, user, model_id="upstream-chat")
    response = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "Stream it", "stream": True},
        headers=user.headers,
    )
    events = parse_sse(response.text)
    deltas = [event.data["content"] for event in events if event.type == "delta"]
    assert deltas == ["Hello", " there", "!"]
    assert events[-1].type == "done"


async def test_an_upstream_failure_is_a_502_and_keeps_the_reply(
    app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    await _register_model(app, client)
    upstream.behaviour.fail_times = -1
    user = await make_account(client)
    chat = await make_chat(client, user, model_id="upstream-chat")
    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "Fail please"}, headers=user.headers
    )
    body = assert_problem(response, 502, "provider_error")
    assert SECRET not in response.text
    assert body["assistant_message"]["status"] == "error"
    history = await client.get(chat_url(chat["id"], "messages"), headers=user.headers)
    assert [item["role"] for item in history.json()["items"]] == ["user", "assistant"]
