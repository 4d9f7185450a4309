"""GET /admin/usage: every user's usage, per user too; administrators only, never by key."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.usage.models import UsageSource
from tests.keys.support import bearer, make_key
from tests.support import assert_problem, make_account, make_admin
from tests.usage.support import ADMIN_USAGE, add_usage, make_model, record_call, today


async def get_admin_usage(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(ADMIN_USAGE, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_group_by_user(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    alice = await make_account(client)
    bob = await make_account(client)
    model = await make_model(app)
    await record_call(app, user_id=alice.id, model_id=model, input_tokens=5, output_tokens=5)
    await record_call(app, user_id=bob.id, model_id=model, input_tokens=50, output_tokens=50)
    await record_call(app, user_id=bob.id, model_id=model, source=UsageSource.API)
    body = await get_admin_usage(client, admin.headers, group_by="user")
    assert body["group_by"] == "user"
    assert [(row["user_id"], row["email"], row["requests"]) for row in body["rows"]] == [
        (bob.id, bob.email, 2),
        (alice.id, alice.email, 1),
    ]
    assert body["rows"][0]["total_tokens"] == 115
    assert body["totals"]["total_tokens"] == 125
    assert body["totals"]["requests"] == 3


@pytest.mark.parametrize("group_by", ["day", "model", "api_key", "source"])
async def test_other_groups_span_every_user(
    app: FastAPI, client: httpx.AsyncClient, group_by: str
) -> None:
    admin = await make_admin(app, client)
    alice = await make_account(client)
    bob = await make_account(client)
    model = await make_model(app, f"shared-{group_by}")
    await record_call(app, user_id=alice.id, model_id=model, input_tokens=1)
    await record_call(app, user_id=bob.id, model_id=model, input_tokens=2)
    body = await get_admin_usage(client, admin.headers, group_by=group_by)
    assert len(body["rows"]) == 1
    assert body["rows"][0]["requests"] == 2
    assert body["rows"][0]["input_tokens"] == 3
    assert "user_id" not in body["rows"][0]


async def test_filters_by_user_and_days(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    alice = await make_account(client)
    bob = await make_account(client)
    model = await make_model(app)
    old = today() - timedelta(days=40)
    await add_usage(app, user_id=alice.id, day=old, model_id=model, input_tokens=7)
    await add_usage(app, user_id=alice.id, day=today(), model_id=model, input_tokens=100)
    await add_usage(app, user_id=bob.id, day=old, model_id=model, input_tokens=1000)
    body = await get_admin_usage(
        client, admin.headers, user_id=alice.id, start=old.isoformat(), end=old.isoformat()
    )
    assert body["totals"]["input_tokens"] == 7
    body = await get_admin_usage(client, admin.headers, user_id=alice.id)
    assert body["totals"]["input_tokens"] == 100
    body = await get_admin_usage(client, admin.headers, start=old.isoformat(), group_by="user")
    assert {row["email"]: row["input_tokens"] for row in body["rows"]} == {
        alice.email: 107,
        bob.email: 1000,
    }


async def test_export_by_user(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    model = await make_model(app)
    await record_call(app, user_id=user.id, model_id=model)
    response = await client.get(
        f"{ADMIN_USAGE}/export.csv", params={"group_by": "user"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == (
        "user_id,email,requests,input_tokens,output_tokens,cached_tokens,reasoning_tokens,"
        "total_tokens"
    )
    assert lines[1:] == [f"{user.id},{user.email},1,10,5,0,0,15"]


async def test_invalid_parameters_are_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    for params in (
        {"group_by": "team"},
        {"user_id": "x"},
        {"start": "2026-02-02", "end": "2026-02-01"},
    ):
        assert_problem(
            await client.get(ADMIN_USAGE, params=params, headers=admin.headers),
            422,
            "validation_error",
        )


async def test_only_administrators(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    key = (await make_key(client, admin, scopes=["read", "write"]))["key"]
    for url in (ADMIN_USAGE, f"{ADMIN_USAGE}/export.csv"):
        assert_problem(await client.get(url), 401, "invalid_token")
        assert_problem(await client.get(url, headers=user.headers), 403, "admin_required")
        assert_problem(await client.get(url, headers=bearer(key)), 403, "key_not_allowed")
        assert_problem(
            await client.get(url, params={"group_by": "team"}, headers=user.headers),
            403,
            "admin_required",
        )
