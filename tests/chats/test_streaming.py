"""Replies as server-sent events, re-attaching to them, one reply at a time, and cancelling."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.chats.events import Event
from tests.chats.support import (
    DEV_REPLY,
    GatedProvider,
    chat_url,
    get_chat,
    list_messages,
    make_chat,
    make_model,
    parse_sse,
    send,
)
from tests.support import Account, assert_problem, make_account


async def _stream(
    client: httpx.AsyncClient, account: Account, chat_id: str, content: str
) -> httpx.Response:
    return await client.post(
        chat_url(chat_id, "messages"),
        json={"content": content, "stream": True},
        headers=account.headers,
    )


async def _gated_chat(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> tuple[GatedProvider, dict[str, Any]]:
    provider = GatedProvider()
    app.state.providers.register(provider)
    model = await make_model(app, provider=provider.name)
    return provider, await make_chat(client, account, model_id=str(model.id))


async def test_streaming_sends_user_message_deltas_then_done(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await _stream(client, account, chat["id"], "tell me more")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [event.id for event in events] == list(range(1, len(events) + 1))
    assert events[0].type == "user_message"
    assert events[0].data["content"] == "tell me more"
    deltas = events[1:-1]
    assert {event.type for event in deltas} == {"delta"}
    assert len(deltas) == len((DEV_REPLY + "tell me more").split())
    done = events[-1]
    assert done.type == "done"
    assert set(done.data) == {"assistant_message", "usage", "context"}
    reply = done.data["assistant_message"]
    assert "".join(event.data["content"] for event in deltas) == reply["content"]
    assert {event.data["message_id"] for event in deltas} == {reply["id"]}
    assert reply["content"] == DEV_REPLY + "tell me more"
    assert reply["parent_id"] == events[0].data["id"]
    assert done.data["context"] == reply["context"] == {"included": 1, "dropped": 0}
    assert done.data["usage"]["output_tokens"] == reply["output_tokens"]
    assert done.data["usage"]["total_tokens"] == reply["input_tokens"] + reply["output_tokens"]
    saved = (await list_messages(client, account, chat["id"]))["items"]
    assert saved[-1] == reply


async def test_reattaching_replays_the_events_after_last_event_id(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    original = parse_sse((await _stream(client, account, chat["id"], "one two three")).text)

    resumed = await client.get(
        chat_url(chat["id"], "stream"), headers={**account.headers, "Last-Event-ID": "2"}
    )
    everything = await client.get(chat_url(chat["id"], "stream"), headers=account.headers)

    assert resumed.status_code == 200, resumed.text
    assert resumed.headers["content-type"].startswith("text/event-stream")
    assert parse_sse(resumed.text) == original[2:]
    assert parse_sse(everything.text) == original


async def test_reattaching_follows_a_running_reply_to_its_end(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    provider, chat = await _gated_chat(app, client, account)
    events = app.state.generations.events
    follow = events.follow
    caught_up = asyncio.Event()

    async def follow_and_signal(*args: Any) -> AsyncIterator[Event]:
        async for event in follow(*args):
            yield event
            caught_up.set()

    streaming = asyncio.create_task(_stream(client, account, chat["id"], "wait"))
    await provider.started.wait()
    monkeypatch.setattr(events, "follow", follow_and_signal)

    follower = asyncio.create_task(
        client.get(
            chat_url(chat["id"], "stream"), headers={**account.headers, "Last-Event-ID": "1"}
        )
    )
    await caught_up.wait()
    provider.release.set()
    original = parse_sse((await streaming).text)
    resumed = parse_sse((await follower).text)

    assert [event.type for event in original] == ["user_message", "delta", "delta", "done"]
    assert resumed == original[1:]
    assert original[-1].data["assistant_message"]["content"] == "partial rest"


async def test_reattaching_with_nothing_to_follow_returns_204(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await client.get(chat_url(chat["id"], "stream"), headers=account.headers)

    assert response.status_code == 204
    assert response.content == b""


async def test_sending_while_a_reply_runs_returns_409(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    provider, chat = await _gated_chat(app, client, account)
    streaming = asyncio.create_task(_stream(client, account, chat["id"], "first"))
    await provider.started.wait()

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "second"}, headers=account.headers
    )
    running = await get_chat(client, account, chat["id"])
    provider.release.set()
    await streaming

    assert_problem(response, 409, "generation_in_progress")
    assert running["generating"] is True
    page = await list_messages(client, account, chat["id"])
    assert [item["content"] for item in page["items"]] == ["first", "partial rest"]
    assert (await get_chat(client, account, chat["id"]))["generating"] is False


@pytest.mark.parametrize("settings_overrides", [{"dev_model_delay_ms": 30}])
async def test_a_slow_development_reply_blocks_a_second_message(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    async with app.state.hub.subscribe(uuid.UUID(account.id)) as frames:
        streaming = asyncio.create_task(_stream(client, account, chat["id"], "word " * 40))
        assert (await frames.get())["type"] == "message"

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "again"}, headers=account.headers
    )
    finished = parse_sse((await streaming).text)

    assert_problem(response, 409, "generation_in_progress")
    assert finished[-1].type == "done"
    assert (await send(client, account, chat["id"], "now"))["assistant_message"]["status"] == (
        "complete"
    )


async def test_cancel_keeps_the_partial_reply_as_cancelled(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    provider, chat = await _gated_chat(app, client, account)
    streaming = asyncio.create_task(_stream(client, account, chat["id"], "go"))
    await provider.started.wait()

    response = await client.post(chat_url(chat["id"], "cancel"), headers=account.headers)
    events = parse_sse((await streaming).text)

    assert response.status_code == 204
    assert [event.type for event in events] == ["user_message", "delta", "done"]
    reply = events[-1].data["assistant_message"]
    assert (reply["status"], reply["content"]) == ("cancelled", "partial ")
    assert reply["finish_reason"] == "cancelled"
    saved = (await list_messages(client, account, chat["id"]))["items"][-1]
    assert (saved["id"], saved["status"], saved["content"]) == (
        reply["id"],
        "cancelled",
        "partial ",
    )
    assert (await get_chat(client, account, chat["id"]))["generating"] is False


async def test_cancel_with_nothing_running_returns_204(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    exchange = await send(client, account, chat["id"], "done already")

    response = await client.post(chat_url(chat["id"], "cancel"), headers=account.headers)

    assert response.status_code == 204
    saved = (await list_messages(client, account, chat["id"]))["items"][-1]
    assert saved == exchange["assistant_message"]
    assert saved["status"] == "complete"


async def test_a_reply_survives_a_non_streaming_request(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    exchange = await send(client, account, chat["id"], "hello")

    events = parse_sse(
        (await client.get(chat_url(chat["id"], "stream"), headers=account.headers)).text
    )

    assert events[0].type == "user_message"
    assert events[0].data == exchange["user_message"]
    assert events[-1].type == "done"
    assert events[-1].data["assistant_message"] == exchange["assistant_message"]
