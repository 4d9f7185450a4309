"""Helpers the limits tests share: calls to /v1 and to chats, and the errors they answer with."""

from typing import Any

import httpx

from tests.keys.support import bearer, make_key
from tests.support import Account

COMPLETIONS = "/v1/chat/completions"
MODELS = "/api/v1/models"
CHATS = "/api/v1/chats"
DEV_MODEL = "colloquy-dev"
# The clock is held 30 s into a minute (see conftest.py): every reset reads so.
RESET = "30s"
RETRY_AFTER = "30"


async def inference_key(client: httpx.AsyncClient, owner: Account, **fields: Any) -> str:
    """A new key with the inference scope, and these limits, for `owner`."""
    created = await make_key(client, owner, scopes=["inference"], **fields)
    key: str = created["key"]
    return key


async def complete(
    client: httpx.AsyncClient,
    token: str,
    *,
    model: str = DEV_MODEL,
    content: str = "hello there",
    **fields: Any,
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **fields}
    return await client.post(COMPLETIONS, json=body, headers=bearer(token))


def assert_openai_error(
    response: httpx.Response, status: int, code: str, error_type: str
) -> dict[str, Any]:
    """The response is an error in OpenAI's shape, with this status, code and type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["type"]) == (code, error_type)
    assert error["message"]
    return error


async def create_chat(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    response = await client.post(CHATS, json=fields, headers=headers)
    assert response.status_code == 201, response.text
    chat_id: str = response.json()["id"]
    return chat_id


async def send_message(
    client: httpx.AsyncClient, headers: dict[str, str], chat_id: str, content: str = "hello"
) -> httpx.Response:
    return await client.post(
        f"{CHATS}/{chat_id}/messages", json={"content": content}, headers=headers
    )


async def chat_messages(client: httpx.AsyncClient, owner: Account, chat_id: str) -> list[Any]:
    response = await client.get(f"{CHATS}/{chat_id}/messages", headers=owner.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def get_model(client: httpx.AsyncClient, account: Account, name: str) -> dict[str, Any]:
    response = await client.get(f"{MODELS}/{name}", headers=account.headers)
    assert response.status_code == 200, response.text
    model: dict[str, Any] = response.json()
    return model


async def add_model(
    client: httpx.AsyncClient, admin: Account, name: str, **fields: Any
) -> dict[str, Any]:
    """A model served by the development provider, registered by an administrator."""
    body = {
        "name": name,
        "provider": "dev",
        "provider_model": name,
        "context_window": 4096,
        "max_output_tokens": 256,
        **fields,
    }
    response = await client.post(MODELS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    model: dict[str, Any] = response.json()
    return model
