"""Rating replies: 1 good, -1 bad, null to clear; only replies, only the owner's."""

import httpx
import pytest

from tests.chats.support import chat_url, get_chat, make_chat, send
from tests.keys.support import bearer, make_key
from tests.support import assert_problem, make_account


async def test_a_reply_is_rated_and_cleared(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    reply = (await send(client, account, chat["id"], "rate me"))["assistant_message"]
    assert reply["rating"] is None
    url = chat_url(chat["id"], "messages", reply["id"])

    rated = await client.patch(url, json={"rating": 1}, headers=account.headers)
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == 1
    assert rated.json()["content"] == reply["content"]
    assert (await client.get(url, headers=account.headers)).json()["rating"] == 1

    flipped = await client.patch(url, json={"rating": -1}, headers=account.headers)
    assert flipped.json()["rating"] == -1
    cleared = await client.patch(url, json={"rating": None}, headers=account.headers)
    assert cleared.json()["rating"] is None
    assert (await get_chat(client, account, chat["id"]))["id"] == chat["id"]


@pytest.mark.parametrize("body", [{"rating": 2}, {"rating": 0}, {"rating": "good"}, {}])
async def test_bad_ratings_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    reply = (await send(client, account, chat["id"], "hi"))["assistant_message"]
    response = await client.patch(
        chat_url(chat["id"], "messages", reply["id"]), json=body, headers=account.headers
    )
    assert_problem(response, 422, "validation_error")


async def test_only_replies_can_be_rated(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    question = (await send(client, account, chat["id"], "hi"))["user_message"]
    response = await client.patch(
        chat_url(chat["id"], "messages", question["id"]),
        json={"rating": 1},
        headers=account.headers,
    )
    assert_problem(response, 422, "not_an_assistant_message")


async def test_another_users_reply_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    intruder = await make_account(client)
    chat = await make_chat(client, owner)
    reply = (await send(client, owner, chat["id"], "hi"))["assistant_message"]
    url = chat_url(chat["id"], "messages", reply["id"])

    assert_problem(
        await client.patch(url, json={"rating": 1}, headers=intruder.headers), 404, "chat_not_found"
    )
    assert_problem(await client.patch(url, json={"rating": 1}), 401, "invalid_token")
    missing = chat_url(chat["id"], "messages", "00000000-0000-0000-0000-000000000000")
    assert_problem(
        await client.patch(missing, json={"rating": 1}, headers=owner.headers),
        404,
        "message_not_found",
    )


async def test_a_read_key_cannot_rate(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    reply = (await send(client, account, chat["id"], "hi"))["assistant_message"]
    key = (await make_key(client, account, scopes=["read"]))["key"]
    response = await client.patch(
        chat_url(chat["id"], "messages", reply["id"]), json={"rating": 1}, headers=bearer(key)
    )
    assert_problem(response, 403, "insufficient_scope")
