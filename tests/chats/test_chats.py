"""Creating, reading, updating, listing and deleting chats."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from colloquy.chats.models import Message
from colloquy.core.database import transaction
from tests.chats.support import (
    CHATS,
    DEV_REPLY,
    chat_url,
    get_chat,
    make_chat,
    make_model,
    send,
)
from tests.support import Account, assert_problem, make_account

CHAT_FIELDS = {
    "id",
    "title",
    "agent",
    "model",
    "project_id",
    "dataset_id",
    "active_message_id",
    "message_count",
    "last_message",
    "pinned",
    "archived",
    "generating",
    "created_at",
    "updated_at",
}


async def _agent(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/agents", json={"name": "Helper", **fields}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _project(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.post("/api/v1/projects", json={"name": "P"}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _titles(client: httpx.AsyncClient, account: Account, **params: Any) -> list[str]:
    response = await client.get(CHATS, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


async def test_create_chat_returns_201_with_an_empty_summary(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(CHATS, json={}, headers=account.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == CHAT_FIELDS
    assert uuid.UUID(body["id"])
    assert body["title"] is None
    assert body["agent"] is None
    assert body["model"] is None
    assert body["project_id"] is None
    assert body["message_count"] == 0
    assert body["last_message"] is None
    assert body["pinned"] is False
    assert body["archived"] is False
    assert body["generating"] is False


async def test_create_chat_with_agent_model_by_name_and_project(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    agent = await _agent(client, account, name="Socrates")
    project = await _project(client, account)
    model = await make_model(app, name="big-model")

    chat = await make_chat(
        client,
        account,
        title="Dialogue",
        agent_id=agent["id"],
        model_id="big-model",
        project_id=project["id"],
    )

    assert chat["title"] == "Dialogue"
    assert chat["agent"] == {"id": agent["id"], "name": "Socrates"}
    assert chat["model"] == {"id": str(model.id), "name": "big-model"}
    assert chat["project_id"] == project["id"]
    assert await get_chat(client, account, chat["id"]) == chat


@pytest.mark.parametrize("field", ["agent_id", "project_id", "model_id"])
async def test_create_chat_with_another_users_reference_returns_404(
    client: httpx.AsyncClient, app: FastAPI, field: str
) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    references = {
        "agent_id": (await _agent(client, owner))["id"],
        "project_id": (await _project(client, owner))["id"],
        "model_id": str((await make_model(app, owner=owner)).id),
    }
    code = {"agent_id": "agent", "project_id": "project", "model_id": "model"}[field]

    response = await client.post(CHATS, json={field: references[field]}, headers=other.headers)

    assert_problem(response, 404, f"{code}_not_found")
    assert (await client.get(CHATS, headers=other.headers)).json()["total"] == 0


async def test_another_users_chat_is_404_everywhere(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    chat = await make_chat(client, owner)
    exchange = await send(client, owner, chat["id"], "private")
    message_id = exchange["user_message"]["id"]
    requests = [
        ("GET", chat_url(chat["id"]), None),
        ("PATCH", chat_url(chat["id"]), {"title": "mine now"}),
        ("DELETE", chat_url(chat["id"]), None),
        ("GET", chat_url(chat["id"], "messages"), None),
        ("GET", chat_url(chat["id"], "messages", message_id), None),
        ("DELETE", chat_url(chat["id"], "messages", message_id), None),
        ("POST", chat_url(chat["id"], "messages"), {"content": "hi"}),
        ("POST", chat_url(chat["id"], "messages", message_id, "regenerate"), {}),
        ("POST", chat_url(chat["id"], "messages", message_id, "edit"), {"content": "x"}),
        ("POST", chat_url(chat["id"], "cancel"), None),
        ("GET", chat_url(chat["id"], "stream"), None),
    ]

    for method, url, body in requests:
        response = await client.request(method, url, json=body, headers=other.headers)
        assert_problem(response, 404, "chat_not_found")

    unchanged = await get_chat(client, owner, chat["id"])
    assert unchanged["title"] == "private"
    assert unchanged["message_count"] == 2


async def test_update_chat_changes_each_field_and_clears_nullable_ones(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    agent = await _agent(client, account)
    project = await _project(client, account)
    model = await make_model(app)
    chat = await make_chat(client, account, title="Old")
    changes = {
        "title": "New",
        "pinned": True,
        "archived": True,
        "project_id": project["id"],
        "agent_id": agent["id"],
        "model_id": str(model.id),
    }

    response = await client.patch(chat_url(chat["id"]), json=changes, headers=account.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "New"
    assert body["pinned"] is body["archived"] is True
    assert body["project_id"] == project["id"]
    assert body["agent"]["id"] == agent["id"]
    assert body["model"] == {"id": str(model.id), "name": model.name}
    cleared = await client.patch(
        chat_url(chat["id"]),
        json={"title": None, "agent_id": None, "model_id": None, "project_id": None},
        headers=account.headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert {
        k: cleared.json()[k] for k in ("title", "agent", "model", "project_id")
    } == dict.fromkeys(("title", "agent", "model", "project_id"))
    assert cleared.json()["pinned"] is True


async def test_update_chat_with_another_users_agent_returns_404(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    agent = await _agent(client, owner)
    chat = await make_chat(client, other)

    response = await client.patch(
        chat_url(chat["id"]), json={"agent_id": agent["id"]}, headers=other.headers
    )

    assert_problem(response, 404, "agent_not_found")
    assert (await get_chat(client, other, chat["id"]))["agent"] is None


async def test_delete_chat_removes_its_messages(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    kept = await make_chat(client, account)
    await send(client, account, chat["id"], "one")
    await send(client, account, kept["id"], "two")

    response = await client.delete(chat_url(chat["id"]), headers=account.headers)

    assert response.status_code == 204
    assert_problem(await client.get(chat_url(chat["id"]), headers=account.headers), 404)
    async with transaction(app.state.database) as session:
        chat_ids = (await session.scalars(select(Message.chat_id))).all()
    assert {str(chat_id) for chat_id in chat_ids} == {kept["id"]}


async def test_chat_without_title_takes_first_line_of_first_user_message(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    first_line = "Why is the sky blue, and why are sunsets red rather than blue or green?"

    await send(client, account, chat["id"], f"  {first_line}\nMore detail here.")
    await send(client, account, chat["id"], "A later question")

    assert (await get_chat(client, account, chat["id"]))["title"] == first_line[:60]
    titled = await make_chat(client, account, title="Mine")
    await send(client, account, titled["id"], "Something else")
    assert (await get_chat(client, account, titled["id"]))["title"] == "Mine"


async def test_list_item_shows_counts_and_last_message_preview(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    long_text = "word " * 100
    await send(client, account, chat["id"], "hello")
    exchange = await send(client, account, chat["id"], long_text)

    response = await client.get(CHATS, headers=account.headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert set(item) == CHAT_FIELDS
    assert item["message_count"] == 4
    reply = exchange["assistant_message"]
    assert item["active_message_id"] == reply["id"]
    assert item["last_message"]["role"] == "assistant"
    assert item["last_message"]["preview"] == (DEV_REPLY + long_text.strip())[:200]
    assert item["last_message"]["created_at"] == reply["created_at"]


async def test_list_filters_by_project_agent_archived_and_title(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    project = await _project(client, account)
    agent = await _agent(client, account)
    await make_chat(client, account, title="Plain chat")
    await make_chat(client, account, title="In project", project_id=project["id"])
    await make_chat(client, account, title="With agent", agent_id=agent["id"])
    archived = await make_chat(client, account, title="Old PLAIN chat")
    await client.patch(chat_url(archived["id"]), json={"archived": True}, headers=account.headers)

    assert sorted(await _titles(client, account)) == ["In project", "Plain chat", "With agent"]
    assert await _titles(client, account, project_id=project["id"]) == ["In project"]
    assert await _titles(client, account, agent_id=agent["id"]) == ["With agent"]
    assert await _titles(client, account, archived="true") == ["Old PLAIN chat"]
    assert await _titles(client, account, q="plain") == ["Plain chat"]
    assert await _titles(client, account, q="plain", archived="true") == ["Old PLAIN chat"]
    assert await _titles(client, account, q="%") == []


async def test_list_puts_pinned_first_then_most_recent_activity(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    first = await make_chat(client, account, title="first")
    second = await make_chat(client, account, title="second")
    await make_chat(client, account, title="third")

    assert await _titles(client, account) == ["third", "second", "first"]
    await send(client, account, first["id"], "bump")
    assert await _titles(client, account) == ["first", "third", "second"]
    await client.patch(chat_url(second["id"]), json={"pinned": True}, headers=account.headers)
    assert await _titles(client, account) == ["second", "first", "third"]


async def test_list_pages_and_shows_only_own_chats(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    other = await make_account(client)
    for index in range(5):
        await make_chat(client, account, title=f"chat {index}")
    await make_chat(client, other, title="not yours")

    response = await client.get(CHATS, params={"limit": 2, "offset": 1}, headers=account.headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["title"] for item in page["items"]] == ["chat 3", "chat 2"]
