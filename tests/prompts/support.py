"""Helpers the prompts tests share: prompts and common prompts made through the API."""

from typing import Any

import httpx

from tests.support import Account

PROMPTS = "/api/v1/prompts"
COMMON = "/api/v1/common-prompts"
AUDIT_EVENTS = "/api/v1/admin/audit-events"
GREETING = {
    "name": "Greeting",
    "description": "Says hello",
    "template": "Hello {{ name }}!",
    "variables": [{"name": "name", "description": "Who to greet"}],
}


def prompt_url(prompt_id: str) -> str:
    return f"{PROMPTS}/{prompt_id}"


def common_url(prompt_id: str) -> str:
    return f"{COMMON}/{prompt_id}"


def variable(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


async def make_prompt(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(PROMPTS, json={**GREETING, **fields}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_common_prompt(
    client: httpx.AsyncClient, admin: Account, **fields: Any
) -> dict[str, Any]:
    response = await client.post(COMMON, json={**GREETING, **fields}, headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_page(
    client: httpx.AsyncClient, account: Account, url: str = PROMPTS, **params: Any
) -> dict[str, Any]:
    response = await client.get(url, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


async def render(
    client: httpx.AsyncClient, account: Account, url: str, values: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{url}/render", json={"variables": values}, headers=account.headers)


def error_messages(body: dict[str, Any], *loc: str | int) -> list[str]:
    """The messages of the problem's errors located at `loc`."""
    return [error["msg"] for error in body["errors"] if tuple(error["loc"]) == loc]
