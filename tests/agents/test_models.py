"""An agent's model: named by id or name, stored as the registry's id, one the caller may use."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from colloquy.core.database import transaction
from colloquy.llm.models import Model
from tests.agents.support import AGENTS, agent_url, make_agent, make_model
from tests.support import Account, assert_problem, make_account

METHODS = ["POST", "PUT", "PATCH"]


async def send_model(
    client: httpx.AsyncClient, account: Account, method: str, model_ref: Any
) -> httpx.Response:
    """Create an agent naming the model, or name it in a PUT or PATCH of an existing agent."""
    body = {"name": "Helper", "model_id": model_ref}
    if method == "POST":
        return await client.post(AGENTS, json=body, headers=account.headers)
    agent = await make_agent(client, account)
    return await client.request(method, agent_url(agent["id"]), json=body, headers=account.headers)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("by", ["id", "name"])
async def test_model_by_id_or_name_stores_its_id(
    app: FastAPI, client: httpx.AsyncClient, method: str, by: str
) -> None:
    account = await make_account(client)
    model = await make_model(app, name="house-model")
    model_ref = str(model.id) if by == "id" else model.name

    response = await send_model(client, account, method, model_ref)

    assert response.status_code in {200, 201}, response.text
    assert response.json()["model_id"] == str(model.id)
    fetched = await client.get(agent_url(response.json()["id"]), headers=account.headers)
    assert fetched.json()["model_id"] == str(model.id)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "model_ref",
    [
        pytest.param("no-such-model", id="unknown-name"),
        pytest.param(str(uuid.UUID(int=7)), id="unknown-id"),
    ],
)
async def test_unknown_model_is_404(
    app: FastAPI, client: httpx.AsyncClient, method: str, model_ref: str
) -> None:
    account = await make_account(client)
    await make_model(app)

    response = await send_model(client, account, method, model_ref)

    assert_problem(response, 404, "model_not_found")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("by", ["id", "name"])
async def test_another_users_own_model_is_404(
    app: FastAPI, client: httpx.AsyncClient, method: str, by: str
) -> None:
    owner = await make_account(client, name="Ann")
    intruder = await make_account(client, name="Bob")
    model = await make_model(app, owner=owner)
    model_ref = str(model.id) if by == "id" else model.name

    response = await send_model(client, intruder, method, model_ref)

    assert_problem(response, 404, "model_not_found")


async def test_own_model_can_be_used(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    model = await make_model(app, owner=account)

    agent = await make_agent(client, account, model_id=model.name)

    assert agent["model_id"] == str(model.id)


async def test_null_model_means_the_default(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    agent = await make_agent(client, account, model_id=None)

    assert agent["model_id"] is None


async def test_update_without_model_id_keeps_the_model(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    model = await make_model(app)
    agent = await make_agent(client, account, model_id=model.name)

    response = await client.patch(
        agent_url(agent["id"]), json={"description": "changed"}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["model_id"] == str(model.id)


async def test_update_with_unknown_model_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    model = await make_model(app)
    agent = await make_agent(client, account, model_id=str(model.id))

    response = await client.patch(
        agent_url(agent["id"]),
        json={"description": "changed", "model_id": "no-such-model"},
        headers=account.headers,
    )

    assert_problem(response, 404, "model_not_found")
    fetched = (await client.get(agent_url(agent["id"]), headers=account.headers)).json()
    assert fetched["description"] == ""
    assert fetched["model_id"] == str(model.id)


async def test_deleting_the_model_clears_the_agents_model(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    model = await make_model(app)
    agent = await make_agent(client, account, model_id=str(model.id))

    async with transaction(app.state.database) as session:
        await session.execute(delete(Model).where(Model.id == model.id))

    response = await client.get(agent_url(agent["id"]), headers=account.headers)
    assert response.status_code == 200
    assert response.json()["model_id"] is None
