"""Sending messages without streaming, and the message tree: regenerate, edit, switch, delete."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.chats.support import (
    DEV_REPLY,
    RecordingProvider,
    chat_url,
    contents,
    get_chat,
    ids,
    list_messages,
    make_chat,
    make_model,
    post_turn,
    send,
)
from tests.support import Account, assert_problem, make_account

MESSAGE_FIELDS = {
    "id",
    "chat_id",
    "parent_id",
    "role",
    "content",
    "status",
    "model_id",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "rating",
    "tokens_estimated",
    "finish_reason",
    "error",
    "context",
    "sibling_ids",
    "created_at",
}


async def _get_message(
    client: httpx.AsyncClient, account: Account, chat_id: str, message_id: str
) -> dict[str, Any]:
    response = await client.get(chat_url(chat_id, "messages", message_id), headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_send_message_returns_201_with_both_messages(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "Hello there"}, headers=account.headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user_message", "assistant_message"}
    user, reply = body["user_message"], body["assistant_message"]
    assert set(user) == set(reply) == MESSAGE_FIELDS
    assert (user["role"], user["content"], user["status"]) == ("user", "Hello there", "complete")
    assert user["parent_id"] is None
    assert user["chat_id"] == reply["chat_id"] == chat["id"]
    assert reply["role"] == "assistant"
    assert reply["parent_id"] == user["id"]
    assert reply["content"] == DEV_REPLY + "Hello there"
    assert reply["status"] == "complete"
    assert reply["finish_reason"] == "stop"
    assert reply["error"] is None
    assert reply["output_tokens"] == len(reply["content"].split())
    assert reply["input_tokens"] == 2
    assert reply["tokens_estimated"] is False
    assert reply["context"] == {"included": 1, "dropped": 0}
    models = (await client.get("/api/v1/models", headers=account.headers)).json()["items"]
    assert reply["model_id"] == next(m["id"] for m in models if m["name"] == "colloquy-dev")


async def test_messages_form_a_chain_and_are_readable_one_by_one(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "one")
    second = await send(client, account, chat["id"], "two")

    page = await list_messages(client, account, chat["id"])

    assert ids(page["items"]) == [
        first["user_message"]["id"],
        first["assistant_message"]["id"],
        second["user_message"]["id"],
        second["assistant_message"]["id"],
    ]
    assert second["user_message"]["parent_id"] == first["assistant_message"]["id"]
    assert page["next_cursor"] is None
    reply = await _get_message(client, account, chat["id"], second["assistant_message"]["id"])
    assert reply == page["items"][-1]
    assert reply["sibling_ids"] == [reply["id"]]
    assert reply["context"] == {"included": 3, "dropped": 0}


async def test_regenerate_adds_a_sibling_reply(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "question")
    old_reply = first["assistant_message"]

    again = await post_turn(client, account, chat["id"], old_reply["id"], "regenerate")

    assert again["user_message"]["id"] == first["user_message"]["id"]
    new_reply = again["assistant_message"]
    assert new_reply["parent_id"] == first["user_message"]["id"]
    assert new_reply["content"] == DEV_REPLY + "question"
    sibling_ids = [old_reply["id"], new_reply["id"]]
    assert new_reply["sibling_ids"] == sibling_ids
    assert (await _get_message(client, account, chat["id"], old_reply["id"]))[
        "sibling_ids"
    ] == sibling_ids
    page = await list_messages(client, account, chat["id"])
    assert ids(page["items"]) == [first["user_message"]["id"], new_reply["id"]]
    assert page["items"][1]["sibling_ids"] == sibling_ids
    assert (await get_chat(client, account, chat["id"]))["message_count"] == 2


async def test_edit_adds_a_sibling_user_message_with_a_new_reply(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "first")
    second = await send(client, account, chat["id"], "second")

    edited = await post_turn(
        client, account, chat["id"], second["user_message"]["id"], "edit", content="second, edited"
    )

    user = edited["user_message"]
    assert user["content"] == "second, edited"
    assert user["parent_id"] == first["assistant_message"]["id"]
    assert user["sibling_ids"] == [second["user_message"]["id"], user["id"]]
    assert edited["assistant_message"]["parent_id"] == user["id"]
    assert edited["assistant_message"]["content"] == DEV_REPLY + "second, edited"
    page = await list_messages(client, account, chat["id"])
    assert contents(page)[2:] == ["second, edited", DEV_REPLY + "second, edited"]


async def test_edit_or_regenerate_of_a_wrong_message_is_refused(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    exchange = await send(client, account, chat["id"], "hi")
    reply_id = exchange["assistant_message"]["id"]
    other_chat = await make_chat(client, account)

    edit_reply = await client.post(
        chat_url(chat["id"], "messages", reply_id, "edit"),
        json={"content": "x"},
        headers=account.headers,
    )
    elsewhere = await client.post(
        chat_url(other_chat["id"], "messages", reply_id, "regenerate"),
        json={},
        headers=account.headers,
    )

    assert_problem(edit_reply, 422, "not_a_user_message")
    assert_problem(elsewhere, 404, "message_not_found")
    assert len((await list_messages(client, account, chat["id"]))["items"]) == 2


async def test_switching_branch_shows_it_down_to_its_newest_reply(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    await send(client, account, chat["id"], "first")
    original = await send(client, account, chat["id"], "second")
    regenerated = await post_turn(
        client, account, chat["id"], original["assistant_message"]["id"], "regenerate"
    )
    edited = await post_turn(
        client, account, chat["id"], original["user_message"]["id"], "edit", content="other"
    )
    assert (await get_chat(client, account, chat["id"]))["active_message_id"] == edited[
        "assistant_message"
    ]["id"]

    response = await client.patch(
        chat_url(chat["id"]),
        json={"active_message_id": original["user_message"]["id"]},
        headers=account.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["active_message_id"] == regenerated["assistant_message"]["id"]
    page = await list_messages(client, account, chat["id"])
    assert contents(page)[2:] == ["second", DEV_REPLY + "second"]
    assert page["items"][-1]["id"] == regenerated["assistant_message"]["id"]
    again = await post_turn(
        client, account, chat["id"], regenerated["assistant_message"]["id"], "regenerate"
    )
    assert again["assistant_message"]["content"] == DEV_REPLY + "second"


async def test_switching_branch_changes_the_history_sent_to_the_model(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    provider = RecordingProvider()
    app.state.providers.register(provider)
    model = await make_model(app, provider=provider.name)
    account = await make_account(client)
    chat = await make_chat(client, account, model_id=str(model.id))
    await send(client, account, chat["id"], "first")
    original = await send(client, account, chat["id"], "second")
    edited = await post_turn(
        client, account, chat["id"], original["user_message"]["id"], "edit", content="edited"
    )

    for target, content in (
        (original["assistant_message"]["id"], "third"),
        (edited["user_message"]["id"], "fourth"),
    ):
        response = await client.patch(
            chat_url(chat["id"]), json={"active_message_id": target}, headers=account.headers
        )
        assert response.status_code == 200, response.text
        await send(client, account, chat["id"], content)

    sent = [[(m.role, m.content) for m in request.messages] for request in provider.requests]
    assert sent[-2] == [
        ("user", "first"),
        ("assistant", "reply: first"),
        ("user", "second"),
        ("assistant", "reply: second"),
        ("user", "third"),
    ]
    assert sent[-1] == [
        ("user", "first"),
        ("assistant", "reply: first"),
        ("user", "edited"),
        ("assistant", "reply: edited"),
        ("user", "fourth"),
    ]


async def test_switching_to_a_message_of_another_chat_returns_404(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    other = await make_chat(client, account)
    exchange = await send(client, account, other["id"], "elsewhere")

    response = await client.patch(
        chat_url(chat["id"]),
        json={"active_message_id": exchange["user_message"]["id"]},
        headers=account.headers,
    )

    assert_problem(response, 404, "message_not_found")
    assert (await get_chat(client, account, chat["id"]))["active_message_id"] is None


async def test_delete_message_removes_descendants_and_falls_back_to_parent(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "first")
    second = await send(client, account, chat["id"], "second")
    await send(client, account, chat["id"], "third")

    response = await client.delete(
        chat_url(chat["id"], "messages", second["user_message"]["id"]), headers=account.headers
    )

    assert response.status_code == 204
    summary = await get_chat(client, account, chat["id"])
    assert summary["active_message_id"] == first["assistant_message"]["id"]
    assert summary["message_count"] == 2
    assert contents(await list_messages(client, account, chat["id"])) == [
        "first",
        DEV_REPLY + "first",
    ]
    missing = await client.get(
        chat_url(chat["id"], "messages", second["assistant_message"]["id"]),
        headers=account.headers,
    )
    assert_problem(missing, 404, "message_not_found")
    after = await send(client, account, chat["id"], "again")
    assert after["user_message"]["parent_id"] == first["assistant_message"]["id"]


async def test_deleting_another_branch_keeps_the_active_one(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "first")
    again = await post_turn(
        client, account, chat["id"], first["assistant_message"]["id"], "regenerate"
    )

    response = await client.delete(
        chat_url(chat["id"], "messages", first["assistant_message"]["id"]), headers=account.headers
    )

    assert response.status_code == 204
    assert (await get_chat(client, account, chat["id"]))["active_message_id"] == again[
        "assistant_message"
    ]["id"]
    remaining = await _get_message(client, account, chat["id"], again["assistant_message"]["id"])
    assert remaining["sibling_ids"] == [remaining["id"]]


async def test_deleting_the_first_message_empties_the_chat(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "first")
    await send(client, account, chat["id"], "second")

    response = await client.delete(
        chat_url(chat["id"], "messages", first["user_message"]["id"]), headers=account.headers
    )

    assert response.status_code == 204
    summary = await get_chat(client, account, chat["id"])
    assert (summary["active_message_id"], summary["message_count"]) == (None, 0)
    assert summary["last_message"] is None
    assert await list_messages(client, account, chat["id"]) == {"items": [], "next_cursor": None}
