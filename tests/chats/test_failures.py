"""A failing provider never loses a message: the user message and the partial reply are kept."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.chats.support import (
    FailingProvider,
    RecordingProvider,
    chat_url,
    get_chat,
    list_messages,
    make_chat,
    make_model,
    parse_sse,
    send,
)
from tests.support import Account, assert_problem, make_account

ERROR = "the upstream model went away"


async def _failing_chat(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> tuple[FailingProvider, dict[str, Any]]:
    provider = FailingProvider(database=app.state.database)
    app.state.providers.register(provider)
    model = await make_model(app, provider=provider.name)
    return provider, await make_chat(client, account, model_id=str(model.id))


async def test_provider_failure_answers_502_and_keeps_the_partial_reply(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    provider, chat = await _failing_chat(app, client, account)

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "Hi"}, headers=account.headers
    )

    body = assert_problem(response, 502, "provider_error")
    assert body["detail"] == ERROR
    assert provider.committed == [("user", "complete", "Hi"), ("assistant", "streaming", "")]
    user, reply = (await list_messages(client, account, chat["id"]))["items"]
    assert (user["role"], user["content"], user["status"]) == ("user", "Hi", "complete")
    assert (reply["status"], reply["content"], reply["error"]) == ("error", "Hello wor", ERROR)
    assert body["assistant_message"] == reply
    assert (await get_chat(client, account, chat["id"]))["generating"] is False


async def test_provider_failure_ends_the_stream_with_an_error_event(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    _, chat = await _failing_chat(app, client, account)

    response = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "Hi", "stream": True},
        headers=account.headers,
    )

    assert response.status_code == 200, response.text
    events = parse_sse(response.text)
    assert [(event.id, event.type) for event in events] == [
        (1, "user_message"),
        (2, "delta"),
        (3, "delta"),
        (4, "error"),
    ]
    error = events[-1].data
    assert (error["status"], error["code"], error["detail"]) == (502, "provider_error", ERROR)
    assert {"type", "title"} <= error.keys()
    saved = (await list_messages(client, account, chat["id"]))["items"][-1]
    assert error["message"] == saved
    assert (saved["status"], saved["content"]) == ("error", "Hello wor")


async def test_a_failed_reply_frees_the_chat_and_stays_out_of_the_context(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    _, chat = await _failing_chat(app, client, account)
    await client.post(
        chat_url(chat["id"], "messages"), json={"content": "first"}, headers=account.headers
    )
    recording = RecordingProvider()
    app.state.providers.register(recording)
    model = await make_model(app, provider=recording.name)

    exchange = await send(client, account, chat["id"], "second", model_id=model.name)

    assert exchange["assistant_message"]["status"] == "complete"
    (request,) = recording.requests
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "first"),
        ("user", "second"),
    ]
    assert exchange["assistant_message"]["context"] == {"included": 2, "dropped": 1}


async def test_an_unexpected_provider_crash_is_kept_as_an_error(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    provider, chat = await _failing_chat(app, client, account)
    provider.error = RuntimeError("boom")

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "Hi"}, headers=account.headers
    )

    assert_problem(response, 502, "provider_error")
    reply = (await list_messages(client, account, chat["id"]))["items"][-1]
    assert reply["status"] == "error"
    assert reply["error"]
    assert "boom" not in reply["error"]
