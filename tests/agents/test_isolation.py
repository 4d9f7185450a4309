"""Another user's agents and projects read as missing: 404 everywhere, never 403."""

import httpx
import pytest

from tests.agents.support import AGENTS, agent_url, list_agents, make_agent, make_project
from tests.support import Account, assert_problem, make_account


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await make_account(client, name="Ann")


@pytest.fixture
async def intruder(client: httpx.AsyncClient) -> Account:
    return await make_account(client, name="Bob")


async def test_other_user_cannot_read_agent(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    agent = await make_agent(client, owner)

    response = await client.get(agent_url(agent["id"]), headers=intruder.headers)

    assert_problem(response, 404, "agent_not_found")


async def test_other_users_agents_are_not_listed(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    await make_agent(client, owner)

    page = await list_agents(client, intruder)

    assert page["items"] == []
    assert page["total"] == 0


async def test_other_user_cannot_replace_agent(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    agent = await make_agent(client, owner, name="Original")

    response = await client.put(
        agent_url(agent["id"]), json={"name": "Hijacked"}, headers=intruder.headers
    )

    assert_problem(response, 404, "agent_not_found")
    fetched = (await client.get(agent_url(agent["id"]), headers=owner.headers)).json()
    assert fetched["name"] == "Original"


async def test_other_user_cannot_update_agent(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    agent = await make_agent(client, owner, name="Original")

    response = await client.patch(
        agent_url(agent["id"]), json={"name": "Hijacked"}, headers=intruder.headers
    )

    assert_problem(response, 404, "agent_not_found")
    fetched = (await client.get(agent_url(agent["id"]), headers=owner.headers)).json()
    assert fetched["name"] == "Original"


async def test_other_user_cannot_delete_agent(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    agent = await make_agent(client, owner)

    response = await client.delete(agent_url(agent["id"]), headers=intruder.headers)

    assert_problem(response, 404, "agent_not_found")
    still_there = await client.get(agent_url(agent["id"]), headers=owner.headers)
    assert still_there.status_code == 200


async def test_cannot_create_agent_in_other_users_project(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    project = await make_project(client, owner)

    response = await client.post(
        AGENTS, json={"name": "Spy", "project_id": project["id"]}, headers=intruder.headers
    )

    assert_problem(response, 404, "project_not_found")
    assert (await list_agents(client, intruder))["total"] == 0


async def test_cannot_replace_agent_into_other_users_project(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    project = await make_project(client, owner)
    agent = await make_agent(client, intruder)

    response = await client.put(
        agent_url(agent["id"]),
        json={"name": "Spy", "project_id": project["id"]},
        headers=intruder.headers,
    )

    assert_problem(response, 404, "project_not_found")


async def test_cannot_move_agent_into_other_users_project(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    project = await make_project(client, owner)
    agent = await make_agent(client, intruder)

    response = await client.patch(
        agent_url(agent["id"]), json={"project_id": project["id"]}, headers=intruder.headers
    )

    assert_problem(response, 404, "project_not_found")
    fetched = (await client.get(agent_url(agent["id"]), headers=intruder.headers)).json()
    assert fetched["project_id"] is None


async def test_cannot_filter_list_by_other_users_project(
    client: httpx.AsyncClient, owner: Account, intruder: Account
) -> None:
    project = await make_project(client, owner)
    await make_agent(client, owner, project_id=project["id"])

    response = await client.get(
        AGENTS, params={"project_id": project["id"]}, headers=intruder.headers
    )

    assert_problem(response, 404, "project_not_found")
