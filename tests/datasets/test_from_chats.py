"""Datasets made from the caller's chats: each active branch becomes one example."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.chats.support import DEV_REPLY, chat_url, make_chat, send
from tests.datasets.support import DATASETS
from tests.datasets.test_upload import stored_files
from tests.keys.support import bearer, make_key
from tests.support import Account, assert_problem, make_account

FROM_CHATS = f"{DATASETS}/from-chats"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"dataset_min_examples": 2}


async def _agent(client: httpx.AsyncClient, account: Account, instructions: str) -> str:
    response = await client.post(
        "/api/v1/agents",
        json={"name": "Tutor", "instructions": instructions},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    agent_id: str = response.json()["id"]
    return agent_id


async def _talked_chat(
    client: httpx.AsyncClient, account: Account, *turns: str, **fields: Any
) -> str:
    chat = await make_chat(client, account, **fields)
    for content in turns:
        await send(client, account, chat["id"], content)
    chat_id: str = chat["id"]
    return chat_id


async def _preview(client: httpx.AsyncClient, account: Account, dataset_id: str) -> list[Any]:
    response = await client.get(f"{DATASETS}/{dataset_id}/preview", headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_chats_become_examples_with_the_agents_instructions(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    agent_id = await _agent(client, account, "Answer like a patient tutor.")
    first = await _talked_chat(client, account, "What is 2+2?", "And 3+3?", agent_id=agent_id)
    second = await _talked_chat(client, account, "Name a colour")

    response = await client.post(
        FROM_CHATS,
        json={"name": "Tutoring", "chat_ids": [first, second], "include_system": True},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Tutoring"
    assert body["filename"] == "Tutoring.jsonl"
    assert body["n_examples"] == 2
    assert body["n_messages"] == 5 + 2

    items = await _preview(client, account, body["id"])
    assert [[m["role"] for m in item["messages"]] for item in items] == [
        ["system", "user", "assistant", "user", "assistant"],
        ["user", "assistant"],
    ]
    assert items[0]["messages"][0]["content"] == "Answer like a patient tutor."
    assert items[0]["messages"][1]["content"] == "What is 2+2?"
    assert items[0]["messages"][2]["content"].endswith("heard: What is 2+2?")
    assert items[1]["messages"][1]["content"] == DEV_REPLY + "Name a colour"


async def test_without_include_system_there_is_no_system_message(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    agent_id = await _agent(client, account, "Be brief.")
    chat_ids = [
        await _talked_chat(client, account, "Hello", agent_id=agent_id),
        await _talked_chat(client, account, "Bye"),
    ]
    response = await client.post(
        FROM_CHATS, json={"name": "Plain", "chat_ids": chat_ids}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    items = await _preview(client, account, response.json()["id"])
    assert all(m["role"] != "system" for item in items for m in item["messages"])


async def test_the_active_branch_is_used(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat_id = await _talked_chat(client, account, "First try")
    exchange = await send(client, account, chat_id, "Second")
    edited = await client.post(
        chat_url(chat_id, "messages", exchange["user_message"]["id"], "edit"),
        json={"content": "Second, edited"},
        headers=account.headers,
    )
    assert edited.status_code == 201, edited.text
    other = await _talked_chat(client, account, "Other")

    response = await client.post(
        FROM_CHATS, json={"name": "Branches", "chat_ids": [chat_id, other]}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    items = await _preview(client, account, response.json()["id"])
    users = [m["content"] for m in items[0]["messages"] if m["role"] == "user"]
    assert users == ["First try", "Second, edited"]


async def test_another_users_chat_is_404_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    other = await make_account(client)
    mine = await _talked_chat(client, account, "Mine")
    theirs = await _talked_chat(client, other, "Theirs")

    response = await client.post(
        FROM_CHATS, json={"name": "Stolen", "chat_ids": [mine, theirs]}, headers=account.headers
    )
    assert_problem(response, 404, "chat_not_found")
    assert (await client.get(DATASETS, headers=account.headers)).json()["total"] == 0
    assert stored_files(app) == []


async def test_a_chat_without_a_finished_exchange_is_422_naming_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    talked = await _talked_chat(client, account, "Hi")
    empty = (await make_chat(client, account))["id"]

    response = await client.post(
        FROM_CHATS, json={"name": "Gaps", "chat_ids": [talked, empty]}, headers=account.headers
    )
    body = assert_problem(response, 422, "invalid_dataset")
    assert body["errors"][0]["line"] == 2
    assert body["errors"][0]["chat_id"] == empty
    assert "'messages' must be a non-empty list" in body["errors"][0]["msg"]
    assert stored_files(app) == []


async def test_too_few_chats_is_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat_id = await _talked_chat(client, account, "Only one")
    response = await client.post(
        FROM_CHATS, json={"name": "Short", "chat_ids": [chat_id]}, headers=account.headers
    )
    body = assert_problem(response, 422, "invalid_dataset")
    assert "at least 2 are needed" in body["errors"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "chat_ids": []},
        {"name": "", "chat_ids": ["00000000-0000-0000-0000-000000000000"]},
        {"name": "x", "chat_ids": ["nope"]},
        {"name": "x", "chat_ids": ["00000000-0000-0000-0000-000000000000"], "only_rated": "maybe"},
    ],
)
async def test_bad_bodies_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    account = await make_account(client)
    assert_problem(
        await client.post(FROM_CHATS, json=body, headers=account.headers), 422, "validation_error"
    )


async def test_read_key_cannot_build_a_dataset(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat_id = await _talked_chat(client, account, "Hi")
    key = (await make_key(client, account, scopes=["read"]))["key"]
    response = await client.post(
        FROM_CHATS, json={"name": "x", "chat_ids": [chat_id]}, headers=bearer(key)
    )
    assert_problem(response, 403, "insufficient_scope")


async def test_without_authentication_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        FROM_CHATS, json={"name": "x", "chat_ids": ["00000000-0000-0000-0000-000000000000"]}
    )
    assert_problem(response, 401)


async def _rate(
    client: httpx.AsyncClient, account: Account, chat_id: str, message_id: str, rating: int | None
) -> None:
    response = await client.patch(
        chat_url(chat_id, "messages", message_id), json={"rating": rating}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["rating"] == rating


async def test_only_rated_learns_the_good_replies_and_skips_unrated_chats(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    rated = await make_chat(client, account)
    first = (await send(client, account, rated["id"], "one"))["assistant_message"]
    second = (await send(client, account, rated["id"], "two"))["assistant_message"]
    (await send(client, account, rated["id"], "three"))["assistant_message"]
    await _rate(client, account, rated["id"], first["id"], -1)
    await _rate(client, account, rated["id"], second["id"], 1)
    also_rated = await make_chat(client, account)
    good = (await send(client, account, also_rated["id"], "four"))["assistant_message"]
    await _rate(client, account, also_rated["id"], good["id"], 1)
    unrated = await _talked_chat(client, account, "five")

    response = await client.post(
        FROM_CHATS,
        json={
            "name": "Good replies",
            "chat_ids": [rated["id"], unrated, also_rated["id"]],
            "only_rated": True,
        },
        headers=account.headers,
    )

    assert response.status_code == 201, response.text
    assert response.json()["n_examples"] == 2
    items = await _preview(client, account, response.json()["id"])
    # The example ends at the last good reply; the bad one stays as context, not learned.
    assert [(m["role"], m["weight"]) for m in items[0]["messages"]] == [
        ("user", None),
        ("assistant", 0),
        ("user", None),
        ("assistant", 1),
    ]
    assert items[1]["messages"][0]["content"] == "four"


async def test_only_rated_without_good_replies_names_the_chats(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat_ids = [await _talked_chat(client, account, "unrated") for _ in range(2)]

    response = await client.post(
        FROM_CHATS,
        json={"name": "Nothing good", "chat_ids": chat_ids, "only_rated": True},
        headers=account.headers,
    )

    body = assert_problem(response, 422, "invalid_dataset")
    assert "at least 2 are needed" in body["errors"][0]["msg"]
