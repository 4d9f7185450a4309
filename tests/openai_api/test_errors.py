"""Errors under /v1 in OpenAI's shape, as its SDK raises them; /api/v1 keeps problem details."""

import httpx
import openai
import pytest
from fastapi import FastAPI

from tests.keys.support import make_key
from tests.openai_api.support import open_sdk
from tests.support import Account, assert_problem

USER_MESSAGE = [{"role": "user", "content": "hi"}]


def openai_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, object] = body["error"]
    return error


async def test_n_above_one_is_bad_request(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="colloquy-dev", messages=USER_MESSAGE, n=2)  # type: ignore[arg-type]

    assert caught.value.param == "n"
    assert caught.value.type == "invalid_request_error"


async def test_unknown_model_is_not_found(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.chat.completions.create(model="no-such-model", messages=USER_MESSAGE)  # type: ignore[arg-type]

    assert caught.value.code == "model_not_found"
    assert caught.value.type == "invalid_request_error"


async def test_bad_key_is_authentication_error(app: FastAPI) -> None:
    async with open_sdk(app, "ck-not-a-real-key") as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.models.list()

    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "authentication_error"


async def test_key_without_inference_scope_is_permission_error(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> None:
    key = (await make_key(client, account, scopes=["read", "write"]))["key"]
    async with open_sdk(app, key) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await sdk.chat.completions.create(model="colloquy-dev", messages=USER_MESSAGE)  # type: ignore[arg-type]

    assert caught.value.type == "permission_error"
    assert caught.value.code == "insufficient_scope"


async def test_missing_messages_names_the_param(client: httpx.AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "colloquy-dev"},
        headers={"Authorization": f"Bearer {api_key}"},
    )

    error = openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages"


async def test_bad_role_names_the_nested_param(client: httpx.AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "colloquy-dev", "messages": [{"role": "tool", "content": "x"}]},
        headers={"Authorization": f"Bearer {api_key}"},
    )

    assert openai_error(response, 400)["param"] == "messages[0].role"


async def test_missing_key_is_openai_shaped(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")

    error = openai_error(response, 401)
    assert error["code"] == "invalid_api_key"


async def test_unknown_path_under_v1_is_openai_shaped(
    client: httpx.AsyncClient, api_key: str
) -> None:
    response = await client.get("/v1/nothing-here", headers={"Authorization": f"Bearer {api_key}"})

    assert openai_error(response, 404)["type"] == "invalid_request_error"


async def test_native_api_keeps_problem_details(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.get("/api/v1/models/no-such-model", headers=account.headers)

    assert_problem(response, 404, "model_not_found")
