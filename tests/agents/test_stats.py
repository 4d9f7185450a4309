"""An agent's usage: its chats, their messages, and when the newest message was written."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from colloquy.chats.models import Chat, Message, MessageRole
from colloquy.core.database import transaction
from tests.agents.support import agent_url, make_agent
from tests.support import Account, make_account

JAN = datetime(2030, 1, 1, 9, 30, tzinfo=UTC)
FEB = datetime(2030, 2, 1, 9, 30, tzinfo=UTC)
MAR = datetime(2030, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)


async def make_chat(
    app: FastAPI,
    account: Account,
    *,
    agent_id: str | None,
    message_times: Sequence[datetime] = (),
) -> None:
    """A chat with the agent, holding one message written at each of the given times."""
    async with transaction(app.state.database) as session:
        chat = Chat(
            owner_id=uuid.UUID(account.id), agent_id=uuid.UUID(agent_id) if agent_id else None
        )
        session.add(chat)
        await session.flush()
        session.add_all(
            Message(chat_id=chat.id, role=MessageRole.USER, content="hi", created_at=at)
            for at in message_times
        )


async def stats(client: httpx.AsyncClient, account: Account, agent_id: str) -> dict[str, object]:
    response = await client.get(agent_url(agent_id), headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()["stats"]
    return body


async def test_unused_agent_has_no_chats_messages_or_last_use(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    assert await stats(client, account, agent["id"]) == {
        "chat_count": 0,
        "message_count": 0,
        "last_used_at": None,
    }


async def test_counts_the_agents_chats_and_their_messages(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)
    other = await make_agent(client, account, name="Other")
    await make_chat(app, account, agent_id=agent["id"], message_times=[JAN, MAR, FEB])
    await make_chat(app, account, agent_id=agent["id"], message_times=[FEB])
    await make_chat(app, account, agent_id=agent["id"])
    await make_chat(app, account, agent_id=other["id"], message_times=[JAN])
    await make_chat(app, account, agent_id=None, message_times=[JAN])

    usage = await stats(client, account, agent["id"])

    assert usage["chat_count"] == 3
    assert usage["message_count"] == 4


async def test_last_used_at_is_the_newest_message_in_utc(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)
    await make_chat(app, account, agent_id=agent["id"], message_times=[JAN, MAR])
    await make_chat(app, account, agent_id=agent["id"], message_times=[FEB])

    last_used_at = (await stats(client, account, agent["id"]))["last_used_at"]

    assert isinstance(last_used_at, str)
    parsed = datetime.fromisoformat(last_used_at)
    assert parsed.utcoffset() is not None
    assert parsed == MAR


async def test_chats_without_messages_count_but_leave_no_last_use(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)
    await make_chat(app, account, agent_id=agent["id"])
    await make_chat(app, account, agent_id=agent["id"])

    assert await stats(client, account, agent["id"]) == {
        "chat_count": 2,
        "message_count": 0,
        "last_used_at": None,
    }
