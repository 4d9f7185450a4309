"""Creating, reading, replacing, updating and deleting agents."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.llm.models import Model
from tests.agents.support import AGENTS, PROJECTS, agent_url, make_agent, make_model, make_project
from tests.support import assert_problem, make_account

AGENT_FIELDS = {
    "id",
    "project_id",
    "name",
    "description",
    "instructions",
    "model_id",
    "temperature",
    "max_output_tokens",
    "status",
    "created_at",
    "updated_at",
}
FULL_AGENT: dict[str, Any] = {
    "name": "Socrates",
    "description": "Asks questions.",
    "instructions": "Answer every question with a question.",
    "temperature": 1.5,
    "max_output_tokens": 512,
    "status": "archived",
}


@pytest.fixture
async def model(app: FastAPI) -> Model:
    return await make_model(app)


async def test_create_agent_returns_201_with_defaults(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(AGENTS, json={"name": "Helper"}, headers=account.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == AGENT_FIELDS
    assert uuid.UUID(body["id"])
    assert body["name"] == "Helper"
    assert body["description"] == ""
    assert body["instructions"] == ""
    assert body["model_id"] is None
    assert body["temperature"] == 0.7
    assert body["max_output_tokens"] is None
    assert body["status"] == "active"
    assert body["project_id"] is None


async def test_create_agent_stores_every_field(client: httpx.AsyncClient, model: Model) -> None:
    account = await make_account(client)
    fields = {**FULL_AGENT, "model_id": str(model.id)}

    created = await make_agent(client, account, **fields)

    fetched = (await client.get(agent_url(created["id"]), headers=account.headers)).json()
    for field, value in fields.items():
        assert created[field] == value, field
        assert fetched[field] == value, field


async def test_create_agent_in_own_project(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)

    agent = await make_agent(client, account, project_id=project["id"])

    assert agent["project_id"] == project["id"]


async def test_create_agent_in_missing_project_returns_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(
        AGENTS, json={"name": "Helper", "project_id": str(uuid.uuid4())}, headers=account.headers
    )

    assert_problem(response, 404, "project_not_found")


async def test_create_agent_strips_whitespace_around_name(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    agent = await make_agent(client, account, name="  Helper  ")

    assert agent["name"] == "Helper"


async def test_get_agent_returns_detail_with_zero_stats(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account, **FULL_AGENT)

    response = await client.get(agent_url(agent["id"]), headers=account.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == AGENT_FIELDS | {"stats"}
    assert body["stats"] == {"chat_count": 0, "message_count": 0, "last_used_at": None}
    assert {key: body[key] for key in AGENT_FIELDS} == agent


async def test_get_unknown_agent_returns_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(agent_url(str(uuid.uuid4())), headers=account.headers)

    assert_problem(response, 404, "agent_not_found")


async def test_list_agents_returns_a_page_of_the_callers_agents(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.get(AGENTS, headers=account.headers)

    assert response.status_code == 200
    assert response.json() == {"items": [agent], "total": 1, "limit": 20, "offset": 0}


async def test_replace_agent_sets_every_field(client: httpx.AsyncClient, model: Model) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    agent = await make_agent(client, account)
    fields = {**FULL_AGENT, "model_id": str(model.id), "project_id": project["id"]}

    response = await client.put(agent_url(agent["id"]), json=fields, headers=account.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == agent["id"]
    for field, value in fields.items():
        assert body[field] == value, field


async def test_replace_agent_resets_omitted_optional_fields(
    client: httpx.AsyncClient, model: Model
) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    agent = await make_agent(
        client, account, **FULL_AGENT, model_id=str(model.id), project_id=project["id"]
    )

    response = await client.put(
        agent_url(agent["id"]), json={"name": "Renamed"}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["description"] == ""
    assert body["instructions"] == ""
    assert body["model_id"] is None
    assert body["temperature"] == 0.7
    assert body["max_output_tokens"] is None
    assert body["status"] == "active"
    assert body["project_id"] is None


async def test_replace_agent_is_saved(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    await client.put(agent_url(agent["id"]), json=FULL_AGENT, headers=account.headers)

    fetched = (await client.get(agent_url(agent["id"]), headers=account.headers)).json()
    assert fetched["name"] == FULL_AGENT["name"]
    assert fetched["instructions"] == FULL_AGENT["instructions"]


async def test_update_agent_changes_only_sent_fields(
    client: httpx.AsyncClient, model: Model
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account, **FULL_AGENT, model_id=str(model.id))

    response = await client.patch(
        agent_url(agent["id"]),
        json={"instructions": "Be brief.", "temperature": 0.2},
        headers=account.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["instructions"] == "Be brief."
    assert body["temperature"] == 0.2
    unchanged = {"instructions", "temperature", "updated_at"}
    assert {k: v for k, v in body.items() if k not in unchanged} == {
        k: v for k, v in agent.items() if k not in unchanged
    }


async def test_update_agent_with_empty_body_changes_nothing(
    client: httpx.AsyncClient, model: Model
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account, **FULL_AGENT, model_id=str(model.id))

    response = await client.patch(agent_url(agent["id"]), json={}, headers=account.headers)

    assert response.status_code == 200
    assert response.json() == agent


async def test_update_agent_can_clear_model_id(client: httpx.AsyncClient, model: Model) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account, model_id=str(model.id))
    assert agent["model_id"] == str(model.id)

    response = await client.patch(
        agent_url(agent["id"]), json={"model_id": None}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["model_id"] is None


async def test_update_agent_can_clear_max_output_tokens(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account, max_output_tokens=100)

    response = await client.patch(
        agent_url(agent["id"]), json={"max_output_tokens": None}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["max_output_tokens"] is None


async def test_update_agent_moves_it_into_a_project(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    agent = await make_agent(client, account)

    response = await client.patch(
        agent_url(agent["id"]), json={"project_id": project["id"]}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["project_id"] == project["id"]


async def test_update_agent_can_detach_it_from_its_project(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    agent = await make_agent(client, account, project_id=project["id"])

    response = await client.patch(
        agent_url(agent["id"]), json={"project_id": None}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["project_id"] is None


async def test_update_agent_into_missing_project_returns_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.patch(
        agent_url(agent["id"]), json={"project_id": str(uuid.uuid4())}, headers=account.headers
    )

    assert_problem(response, 404, "project_not_found")


async def test_update_agent_can_archive_it(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.patch(
        agent_url(agent["id"]), json={"status": "archived"}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "archived"


async def test_delete_agent_returns_204_and_removes_it(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.delete(agent_url(agent["id"]), headers=account.headers)

    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(agent_url(agent["id"]), headers=account.headers)
    assert_problem(gone, 404, "agent_not_found")


async def test_delete_unknown_agent_returns_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.delete(agent_url(str(uuid.uuid4())), headers=account.headers)

    assert_problem(response, 404, "agent_not_found")


async def test_project_counts_its_agents(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    await make_agent(client, account, project_id=project["id"])
    await make_agent(client, account, project_id=project["id"])
    await make_agent(client, account)

    response = await client.get(f"{PROJECTS}/{project['id']}", headers=account.headers)

    assert response.status_code == 200
    assert response.json()["counts"]["agents"] == 2


async def test_deleting_a_project_detaches_its_agents(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    agent = await make_agent(client, account, project_id=project["id"])

    deleted = await client.delete(f"{PROJECTS}/{project['id']}", headers=account.headers)

    assert deleted.status_code == 204
    response = await client.get(agent_url(agent["id"]), headers=account.headers)
    assert response.status_code == 200
    assert response.json()["project_id"] is None
    assert response.json()["name"] == agent["name"]


ROUTES = [
    ("POST", AGENTS),
    ("GET", AGENTS),
    ("GET", f"{AGENTS}/{uuid.UUID(int=1)}"),
    ("PUT", f"{AGENTS}/{uuid.UUID(int=1)}"),
    ("PATCH", f"{AGENTS}/{uuid.UUID(int=1)}"),
    ("DELETE", f"{AGENTS}/{uuid.UUID(int=1)}"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_every_route_requires_authentication(
    client: httpx.AsyncClient, method: str, url: str
) -> None:
    body = {"name": "Helper"} if method in {"POST", "PUT", "PATCH"} else None

    response = await client.request(method, url, json=body)

    assert_problem(response, 401, "invalid_token")


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_every_route_rejects_an_invalid_token(
    client: httpx.AsyncClient, method: str, url: str
) -> None:
    body = {"name": "Helper"} if method in {"POST", "PUT", "PATCH"} else None

    response = await client.request(
        method, url, json=body, headers={"Authorization": "Bearer not-a-token"}
    )

    assert_problem(response, 401, "invalid_token")
