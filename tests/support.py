"""Helpers tests share: accounts made through the API, and admins made through the service."""

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from colloquy.accounts import service as accounts
from colloquy.core.database import transaction
from colloquy.core.network import ClientInfo

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def make_account(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    name: str = "Test User",
    password: str = PASSWORD,
) -> Account:
    email = email or unique_email()
    response = await client.post(
        "/api/v1/auth/register", json={"name": name, "email": email, "password": password}
    )
    assert response.status_code == 201, response.text
    tokens = await login(client, email, password)
    return Account(
        id=response.json()["id"],
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        body=response.json(),
    )


async def make_admin(
    app: FastAPI, client: httpx.AsyncClient, *, email: str | None = None
) -> Account:
    email = email or unique_email("admin")
    async with transaction(app.state.database) as session:
        await accounts.register(
            session,
            tools=app.state.auth_tools,
            name="Admin",
            email=email,
            password=PASSWORD,
            client=ClientInfo(),
            is_admin=True,
        )
    tokens = await login(client, email)
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    return Account(
        id=me.json()["id"],
        email=email,
        password=PASSWORD,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        body=me.json(),
    )


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is problem details with this status (and code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code"} <= body.keys()
    if code is not None:
        assert body["code"] == code, body
    assert "Traceback" not in response.text
    return body
