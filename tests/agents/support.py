"""Helpers the agents tests share: agents and projects through the API, models in the database."""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from colloquy.core.database import transaction
from colloquy.llm.models import Model
from tests.support import Account

AGENTS = "/api/v1/agents"
PROJECTS = "/api/v1/projects"


def agent_url(agent_id: str) -> str:
    return f"{AGENTS}/{agent_id}"


async def make_agent(
    client: httpx.AsyncClient, account: Account, *, name: str = "Helper", **fields: Any
) -> dict[str, Any]:
    response = await client.post(AGENTS, json={"name": name, **fields}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_project(
    client: httpx.AsyncClient, account: Account, *, name: str = "Project"
) -> dict[str, Any]:
    response = await client.post(PROJECTS, json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_agents(client: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await client.get(AGENTS, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


async def make_model(
    app: FastAPI, *, name: str | None = None, owner: Account | None = None
) -> Model:
    """A model in the registry: global, or the owner's own when one is given."""
    model = Model(
        name=name or f"model-{uuid.uuid4().hex[:10]}",
        provider="dev",
        provider_model="x",
        context_window=8192,
        max_output_tokens=512,
        owner_id=uuid.UUID(owner.id) if owner else None,
    )
    async with transaction(app.state.database) as session:
        session.add(model)
    return model
