"""Requests the chats API refuses: bad bodies and parameters (422) and no credentials (401)."""

from typing import Any

import httpx
import pytest

from tests.chats.support import CHATS, chat_url, list_messages, make_chat, send
from tests.support import assert_problem, make_account

NIL = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"agent_id": "not-a-uuid"},
        {"project_id": 5},
        {"model_id": ""},
        {"colour": "blue"},
    ],
)
async def test_create_chat_with_a_bad_body_returns_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    account = await make_account(client)

    response = await client.post(CHATS, json=body, headers=account.headers)

    assert_problem(response, 422)
    assert (await client.get(CHATS, headers=account.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"pinned": None},
        {"archived": "maybe"},
        {"active_message_id": None},
        {"active_message_id": "nope"},
        {"title": ""},
        {"owner_id": NIL},
    ],
)
async def test_update_chat_with_a_bad_body_returns_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account, title="Kept")

    response = await client.patch(chat_url(chat["id"]), json=body, headers=account.headers)

    assert_problem(response, 422)
    assert (await client.get(chat_url(chat["id"]), headers=account.headers)).json() == chat


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"content": ""},
        {"content": 5},
        {"content": "hi", "stream": "sometimes"},
        {"content": "hi", "temperature": 2.5},
        {"content": "hi", "max_output_tokens": 0},
        {"content": "hi", "role": "system"},
        {"content": "nul \x00 inside"},
    ],
)
async def test_send_with_a_bad_body_returns_422_and_writes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await client.post(
        chat_url(chat["id"], "messages"), json=body, headers=account.headers
    )

    assert_problem(response, 422)
    assert (await list_messages(client, account, chat["id"]))["items"] == []


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "many"}, {"before": "nope"}, {"after": "1"}],
)
async def test_list_messages_with_bad_parameters_returns_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await client.get(
        chat_url(chat["id"], "messages"), params=params, headers=account.headers
    )

    assert_problem(response, 422)


async def test_before_and_after_together_return_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    exchange = await send(client, account, chat["id"], "hi")
    anchor = exchange["user_message"]["id"]

    response = await client.get(
        chat_url(chat["id"], "messages"),
        params={"before": anchor, "after": anchor},
        headers=account.headers,
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"archived": "maybe"},
        {"q": "x" * 201},
        {"project_id": "x"},
        {"agent_id": "y"},
    ],
)
async def test_list_chats_with_bad_parameters_returns_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    account = await make_account(client)

    response = await client.get(CHATS, params=params, headers=account.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/chats/not-a-uuid"),
        ("PATCH", "/api/v1/chats/not-a-uuid"),
        ("DELETE", "/api/v1/chats/123"),
        ("GET", "/api/v1/chats/not-a-uuid/messages"),
        ("POST", "/api/v1/chats/not-a-uuid/messages"),
        ("GET", "/api/v1/chats/{chat}/messages/not-a-uuid"),
        ("DELETE", "/api/v1/chats/{chat}/messages/not-a-uuid"),
        ("POST", "/api/v1/chats/{chat}/messages/not-a-uuid/regenerate"),
        ("POST", "/api/v1/chats/not-a-uuid/cancel"),
        ("GET", "/api/v1/chats/not-a-uuid/stream"),
    ],
)
async def test_malformed_ids_return_422(client: httpx.AsyncClient, method: str, path: str) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await client.request(
        method, path.format(chat=chat["id"]), json={"content": "x"}, headers=account.headers
    )

    assert_problem(response, 422)


async def test_a_bad_last_event_id_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await client.get(
        chat_url(chat["id"], "stream"), headers={**account.headers, "Last-Event-ID": "soon"}
    )

    assert_problem(response, 422)


async def test_unknown_chats_and_messages_return_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    missing_chat = await client.get(chat_url(NIL), headers=account.headers)
    missing_message = await client.get(
        chat_url(chat["id"], "messages", NIL), headers=account.headers
    )
    regenerate = await client.post(
        chat_url(chat["id"], "messages", NIL, "regenerate"), json={}, headers=account.headers
    )

    assert_problem(missing_chat, 404, "chat_not_found")
    assert_problem(missing_message, 404, "message_not_found")
    assert_problem(regenerate, 404, "message_not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/chats"),
        ("POST", "/api/v1/chats"),
        ("GET", f"/api/v1/chats/{NIL}"),
        ("PATCH", f"/api/v1/chats/{NIL}"),
        ("DELETE", f"/api/v1/chats/{NIL}"),
        ("GET", f"/api/v1/chats/{NIL}/messages"),
        ("POST", f"/api/v1/chats/{NIL}/messages"),
        ("GET", f"/api/v1/chats/{NIL}/messages/{NIL}"),
        ("DELETE", f"/api/v1/chats/{NIL}/messages/{NIL}"),
        ("POST", f"/api/v1/chats/{NIL}/messages/{NIL}/regenerate"),
        ("POST", f"/api/v1/chats/{NIL}/messages/{NIL}/edit"),
        ("POST", f"/api/v1/chats/{NIL}/cancel"),
        ("GET", f"/api/v1/chats/{NIL}/stream"),
    ],
)
async def test_without_credentials_returns_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"content": "x"})

    assert_problem(response, 401)
