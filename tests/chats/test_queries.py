"""How many SQL statements pages and long histories cost: fixed, whatever their size."""

import httpx
from fastapi import FastAPI

from tests.chats.support import (
    CHATS,
    chat_url,
    count_statements,
    insert_history,
    make_chat,
    make_model,
    send,
)
from tests.support import Account, make_account

# Long enough that a few fill a small context window within the first batch read.
SENTENCE = "the quick brown fox jumps over the lazy dog while the cat watches " * 2


async def _list_statements(
    client: httpx.AsyncClient, app: FastAPI, account: Account, limit: int
) -> int:
    with count_statements(app) as statements:
        response = await client.get(CHATS, params={"limit": limit}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == limit
    return len(statements)


async def test_a_page_of_chats_costs_the_same_whatever_its_size(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    for index in range(20):
        agent = await client.post(
            "/api/v1/agents", json={"name": f"agent {index}"}, headers=account.headers
        )
        model = await make_model(app)
        chat = await make_chat(client, account, agent_id=agent.json()["id"], model_id=str(model.id))
        await send(client, account, chat["id"], f"hello {index}")

    small = await _list_statements(client, app, account, 2)
    large = await _list_statements(client, app, account, 20)

    assert small == large
    page = (await client.get(CHATS, params={"limit": 20}, headers=account.headers)).json()
    assert all(item["agent"] and item["model"] and item["last_message"] for item in page["items"])


async def _chat_with_history(
    client: httpx.AsyncClient, app: FastAPI, account: Account, model_name: str, length: int
) -> str:
    chat = await make_chat(client, account, title="long", model_id=model_name)
    await insert_history(app, chat["id"], [f"{index} {SENTENCE}" for index in range(length)])
    return str(chat["id"])


async def test_sending_into_a_long_history_reads_only_what_fits(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    model = await make_model(app, context_window=512, max_output_tokens=64)
    account = await make_account(client)
    short = await _chat_with_history(client, app, account, model.name, 30)
    long = await _chat_with_history(client, app, account, model.name, 500)
    counts = []

    for chat_id in (short, long):
        with count_statements(app) as statements:
            exchange = await send(client, account, chat_id, "and now?")
        counts.append(len(statements))
        assert exchange["assistant_message"]["context"]["dropped"] > 0

    assert counts[0] == counts[1]
    assert counts[1] <= 40


async def test_paging_a_long_history_costs_the_same_as_a_short_one(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    counts = []
    for length in (60, 500):
        chat_id = await _chat_with_history(client, app, account, "colloquy-dev", length)
        page = await client.get(chat_url(chat_id, "messages"), headers=account.headers)
        cursor = page.json()["next_cursor"]
        with count_statements(app) as statements:
            older = await client.get(
                chat_url(chat_id, "messages"),
                params={"before": cursor, "limit": 50},
                headers=account.headers,
            )
        assert len(older.json()["items"]) == min(length - 50, 50)
        counts.append(len(statements))

    assert counts[0] == counts[1]
