"""Bad agent bodies, paths and list parameters are 422 problem details naming the culprit."""

from typing import Any

import httpx
import pytest

from tests.agents.support import AGENTS, agent_url, make_agent
from tests.support import assert_problem, make_account

INVALID_BODIES = [
    pytest.param({"name": ""}, "name", id="empty-name"),
    pytest.param({"name": "   "}, "name", id="blank-name"),
    pytest.param({"name": "x" * 101}, "name", id="name-101-chars"),
    pytest.param({"name": None}, "name", id="null-name"),
    pytest.param({"description": "x" * 2001}, "description", id="description-2001-chars"),
    pytest.param({"instructions": "x" * 32001}, "instructions", id="instructions-32001-chars"),
    pytest.param({"temperature": -0.1}, "temperature", id="temperature-below-0"),
    pytest.param({"temperature": 2.1}, "temperature", id="temperature-above-2"),
    pytest.param({"max_output_tokens": 0}, "max_output_tokens", id="max-output-tokens-0"),
    pytest.param(
        {"max_output_tokens": 131073}, "max_output_tokens", id="max-output-tokens-too-many"
    ),
    pytest.param({"model_id": ""}, "model_id", id="empty-model-id"),
    pytest.param({"model_id": "m" * 201}, "model_id", id="model-id-201-chars"),
    pytest.param({"model_id": "dev\x00echo"}, "model_id", id="model-id-nul-character"),
    pytest.param({"model_id": 42}, "model_id", id="model-id-number"),
    pytest.param({"status": "deleted"}, "status", id="unknown-status"),
    pytest.param({"project_id": "not-a-uuid"}, "project_id", id="malformed-project-id"),
    pytest.param({"owner_id": "00000000-0000-0000-0000-000000000001"}, "owner_id", id="unknown"),
]


def error_fields(body: dict[str, Any]) -> set[Any]:
    return {error["loc"][1] if len(error["loc"]) > 1 else None for error in body["errors"]}


@pytest.mark.parametrize(("changes", "field"), INVALID_BODIES)
async def test_create_rejects_invalid_field(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    account = await make_account(client)

    response = await client.post(
        AGENTS, json={"name": "Helper", **changes}, headers=account.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == {field}


async def test_create_without_name_is_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(AGENTS, json={"description": "x"}, headers=account.headers)

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == {"name"}


async def test_create_accepts_values_at_their_limits(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    limits: dict[str, Any] = {
        "name": "n" * 100,
        "description": "d" * 2000,
        "instructions": "i" * 32000,
        "temperature": 2,
        "max_output_tokens": 131072,
    }

    agent = await make_agent(client, account, **limits)

    assert {field: agent[field] for field in limits} == limits


async def test_model_id_of_200_characters_passes_validation(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(
        AGENTS, json={"name": "Helper", "model_id": "m" * 200}, headers=account.headers
    )

    assert_problem(response, 404, "model_not_found")


async def test_create_accepts_lowest_temperature_and_token_limit(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    agent = await make_agent(client, account, temperature=0, max_output_tokens=1)

    assert agent["temperature"] == 0
    assert agent["max_output_tokens"] == 1


@pytest.mark.parametrize(("changes", "field"), INVALID_BODIES)
async def test_replace_rejects_invalid_field(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.put(
        agent_url(agent["id"]), json={"name": "Helper", **changes}, headers=account.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == {field}


@pytest.mark.parametrize(("changes", "field"), INVALID_BODIES)
async def test_update_rejects_invalid_field(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.patch(agent_url(agent["id"]), json=changes, headers=account.headers)

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == {field}


@pytest.mark.parametrize("field", ["name", "description", "instructions", "temperature", "status"])
async def test_update_rejects_null_for_a_required_field(
    client: httpx.AsyncClient, field: str
) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    response = await client.patch(
        agent_url(agent["id"]), json={field: None}, headers=account.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert error_fields(body) == {field}


async def test_rejected_update_leaves_the_agent_unchanged(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    agent = await make_agent(client, account)

    await client.patch(
        agent_url(agent["id"]),
        json={"description": "changed", "temperature": 2.1},
        headers=account.headers,
    )

    fetched = (await client.get(agent_url(agent["id"]), headers=account.headers)).json()
    assert fetched["description"] == ""
    assert fetched["temperature"] == 0.7


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_malformed_agent_id_in_path_is_422(client: httpx.AsyncClient, method: str) -> None:
    account = await make_account(client)
    body = {"name": "Helper"} if method in {"PUT", "PATCH"} else None

    response = await client.request(
        method, agent_url("not-a-uuid"), json=body, headers=account.headers
    )

    problem = assert_problem(response, 422, "validation_error")
    assert ["path", "agent_id"] in [error["loc"] for error in problem["errors"]]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        pytest.param({"status": "deleted"}, "status", id="unknown-status"),
        pytest.param({"project_id": "not-a-uuid"}, "project_id", id="malformed-project-id"),
        pytest.param({"sort": "instructions"}, "sort", id="unknown-sort-key"),
        pytest.param({"sort": "-owner_id"}, "sort", id="unknown-descending-sort-key"),
        pytest.param({"limit": 0}, "limit", id="limit-0"),
        pytest.param({"limit": 101}, "limit", id="limit-101"),
        pytest.param({"offset": -1}, "offset", id="negative-offset"),
        pytest.param({"q": "x" * 201}, "q", id="q-201-chars"),
    ],
)
async def test_list_rejects_invalid_query_parameter(
    client: httpx.AsyncClient, params: dict[str, Any], parameter: str
) -> None:
    account = await make_account(client)

    response = await client.get(AGENTS, params=params, headers=account.headers)

    body = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["query", parameter]]
