"""API keys limited to some models: /v1 (OpenAI's errors) and chat sends (problem details)."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.keys.support import bearer, make_key
from tests.support import Account, assert_problem, make_account, make_admin
from tests.throttling.support import (
    DEV_MODEL,
    add_model,
    assert_openai_error,
    chat_messages,
    complete,
    create_chat,
    get_model,
    inference_key,
    send_message,
)

OTHER_MODEL = "house-model"


@pytest.fixture
async def admin(app: FastAPI, client: httpx.AsyncClient) -> Account:
    return await make_admin(app, client)


@pytest.fixture
async def other_model(client: httpx.AsyncClient, admin: Account) -> dict[str, Any]:
    """A second model everyone may use, beside the development model."""
    return await add_model(client, admin, OTHER_MODEL)


def assert_not_allowed_on_v1(response: httpx.Response) -> None:
    error = assert_openai_error(response, 403, "model_not_allowed", "permission_error")
    assert DEV_MODEL in error["message"] or OTHER_MODEL in error["message"]


async def listed(client: httpx.AsyncClient, key: str) -> set[str]:
    response = await client.get("/v1/models", headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    return {model["id"] for model in body["data"]}


async def agent_on(client: httpx.AsyncClient, owner: Account, model: str | None) -> str:
    response = await client.post(
        "/api/v1/agents", json={"name": "Ada", "model_id": model}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    return f"agent:{response.json()['id']}"


async def test_key_may_call_an_allowed_model(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, allowed_models=[DEV_MODEL])

    response = await complete(client, key)

    assert response.status_code == 200, response.text
    assert response.json()["model"] == DEV_MODEL
    assert response.json()["choices"][0]["message"]["content"].endswith("heard: hello there")


@pytest.mark.usefixtures("other_model")
async def test_key_may_not_call_another_model(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, allowed_models=[OTHER_MODEL])

    assert_not_allowed_on_v1(await complete(client, key))
    assert_not_allowed_on_v1(await complete(client, key, stream=True))
    assert (await complete(client, key, model=OTHER_MODEL)).status_code == 200


async def test_a_refusal_charges_nothing(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(
        client,
        owner,
        scopes=["inference"],
        allowed_models=["not-this-one"],
        requests_per_minute=1,
    )
    for _ in range(3):
        assert_not_allowed_on_v1(await complete(client, created["key"]))

    response = await client.patch(
        f"/api/v1/api-keys/{created['id']}",
        json={"allowed_models": None},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["allowed_models"] is None

    # The refused calls took nothing from the key's one request a minute.
    allowed = await complete(client, created["key"])
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["x-ratelimit-remaining-requests"] == "0"
    quota = await client.get("/api/v1/usage/quota", headers=owner.headers)
    assert quota.json()["used"] == allowed.json()["usage"]["total_tokens"]


async def test_model_not_allowed_on_a_chat_send_with_the_key(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner, scopes=["read", "write"], allowed_models=["elsewhere"])
    chat_id = await create_chat(client, owner.headers)

    response = await send_message(client, bearer(created["key"]), chat_id)

    body = assert_problem(response, 403, "model_not_allowed")
    assert DEV_MODEL in body["detail"]
    assert await chat_messages(client, owner, chat_id) == []
    # The owner's own login is not limited by the key.
    assert (await send_message(client, owner.headers, chat_id)).status_code == 201


async def test_chat_send_with_a_key_allowed_the_chat_s_model(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner, scopes=["read", "write"], allowed_models=[DEV_MODEL])
    chat_id = await create_chat(client, owner.headers, model_id=DEV_MODEL)

    response = await send_message(client, bearer(created["key"]), chat_id)

    assert response.status_code == 201, response.text
    assert response.json()["assistant_message"]["status"] == "complete"
    assert len(await chat_messages(client, owner, chat_id)) == 2


@pytest.mark.usefixtures("other_model")
async def test_models_lists_only_the_allowed_ones(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    restricted = await inference_key(client, owner, allowed_models=[OTHER_MODEL])
    unrestricted = await inference_key(client, owner)

    assert await listed(client, restricted) == {OTHER_MODEL}
    assert await listed(client, unrestricted) >= {DEV_MODEL, OTHER_MODEL}
    assert await listed(client, owner.access_token) == await listed(client, unrestricted)


@pytest.mark.usefixtures("other_model")
async def test_retrieving_a_model_the_key_may_not_use_is_403(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, allowed_models=[OTHER_MODEL])

    refused = await client.get(f"/v1/models/{DEV_MODEL}", headers=bearer(key))
    allowed = await client.get(f"/v1/models/{OTHER_MODEL}", headers=bearer(key))

    assert_not_allowed_on_v1(refused)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["id"] == OTHER_MODEL
    # An unknown model is still not found, not refused.
    missing = await client.get("/v1/models/no-such-model", headers=bearer(key))
    assert_openai_error(missing, 404, "model_not_found", "invalid_request_error")


async def test_a_model_may_be_allowed_by_its_id(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    model = await get_model(client, owner, DEV_MODEL)
    key = await inference_key(client, owner, allowed_models=[model["id"]])

    assert (await complete(client, key)).status_code == 200
    assert (await complete(client, key, model=model["id"])).status_code == 200
    assert DEV_MODEL in await listed(client, key)
    assert (await client.get(f"/v1/models/{DEV_MODEL}", headers=bearer(key))).status_code == 200


async def test_an_agent_is_allowed_when_its_model_is(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, allowed_models=[DEV_MODEL])
    on_default = await agent_on(client, owner, None)
    on_dev = await agent_on(client, owner, DEV_MODEL)

    for agent in (on_default, on_dev):
        response = await complete(client, key, model=agent)
        assert response.status_code == 200, response.text
        assert response.json()["model"] == agent
        assert "as agent Ada" in response.json()["choices"][0]["message"]["content"]


@pytest.mark.usefixtures("other_model")
async def test_an_agent_on_a_model_not_allowed_is_refused(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = await inference_key(client, owner, allowed_models=[DEV_MODEL])
    agent = await agent_on(client, owner, OTHER_MODEL)

    assert_not_allowed_on_v1(await complete(client, key, model=agent))


@pytest.mark.usefixtures("other_model")
async def test_an_agent_may_be_allowed_by_its_own_name(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    agent = await agent_on(client, owner, OTHER_MODEL)
    key = await inference_key(client, owner, allowed_models=[agent])

    assert (await complete(client, key, model=agent)).status_code == 200
    assert_not_allowed_on_v1(await complete(client, key, model=OTHER_MODEL))
