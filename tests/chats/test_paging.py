"""Paging a chat's active branch by cursor."""

import httpx
from fastapi import FastAPI

from tests.chats.support import (
    chat_url,
    contents,
    insert_history,
    list_messages,
    make_chat,
    post_turn,
    send,
)
from tests.support import assert_problem, make_account

HISTORY = [f"m{index}" for index in range(10)]


async def test_without_cursor_returns_the_newest_messages_oldest_first(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    message_ids = await insert_history(app, chat["id"], HISTORY)

    page = await list_messages(client, account, chat["id"], limit=4)

    assert contents(page) == ["m6", "m7", "m8", "m9"]
    assert page["next_cursor"] == str(message_ids[6])


async def test_before_walks_back_to_the_start(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    await insert_history(app, chat["id"], HISTORY)
    pages = []
    cursor = None

    for _ in range(5):
        params = {"limit": 4} if cursor is None else {"limit": 4, "before": cursor}
        page = await list_messages(client, account, chat["id"], **params)
        pages.append(contents(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [["m6", "m7", "m8", "m9"], ["m2", "m3", "m4", "m5"], ["m0", "m1"]]


async def test_a_page_ending_exactly_at_the_start_has_no_cursor(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    message_ids = await insert_history(app, chat["id"], HISTORY)

    page = await list_messages(client, account, chat["id"], limit=2, before=str(message_ids[2]))

    assert contents(page) == ["m0", "m1"]
    assert page["next_cursor"] is None
    first = await list_messages(client, account, chat["id"], before=str(message_ids[0]))
    assert first == {"items": [], "next_cursor": None}


async def test_after_returns_newer_messages(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    message_ids = await insert_history(app, chat["id"], HISTORY)

    page = await list_messages(client, account, chat["id"], limit=3, after=str(message_ids[3]))
    rest = await list_messages(client, account, chat["id"], limit=3, after=str(page["next_cursor"]))
    last = await list_messages(client, account, chat["id"], limit=3, after=str(message_ids[6]))

    assert contents(page) == ["m4", "m5", "m6"]
    assert page["next_cursor"] == str(message_ids[6])
    assert contents(rest) == contents(last) == ["m7", "m8", "m9"]
    assert last["next_cursor"] is None
    newest = await list_messages(client, account, chat["id"], after=str(message_ids[9]))
    assert newest == {"items": [], "next_cursor": None}


async def test_pages_follow_only_the_active_branch(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first = await send(client, account, chat["id"], "first")
    second = await send(client, account, chat["id"], "second")
    await post_turn(
        client, account, chat["id"], second["user_message"]["id"], "edit", content="edited"
    )

    newest = await list_messages(client, account, chat["id"], limit=2)
    older = await list_messages(
        client, account, chat["id"], limit=2, before=str(newest["next_cursor"])
    )
    newer = await list_messages(client, account, chat["id"], after=first["assistant_message"]["id"])

    assert contents(newest)[0] == "edited"
    assert contents(older) == ["first", first["assistant_message"]["content"]]
    assert older["next_cursor"] is None
    assert contents(newer) == contents(newest)


async def test_an_empty_chat_has_no_messages(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    assert await list_messages(client, account, chat["id"]) == {"items": [], "next_cursor": None}


async def test_a_cursor_from_another_chat_returns_404(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    other = await make_chat(client, account)
    await insert_history(app, chat["id"], HISTORY)
    foreign = await insert_history(app, other["id"], ["x", "y"])

    for cursor in ("before", "after"):
        response = await client.get(
            chat_url(chat["id"], "messages"),
            params={cursor: str(foreign[0])},
            headers=account.headers,
        )
        assert_problem(response, 404, "message_not_found")
