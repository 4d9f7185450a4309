"""GET /usage/quota, and the monthly quota an administrator sets on a user."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.core.database import transaction
from colloquy.usage.models import UsageReservation
from tests.keys.support import bearer, make_key
from tests.support import Account, assert_problem, make_account, make_admin
from tests.usage.support import USAGE, add_usage, make_model, record_call

QUOTA = f"{USAGE}/quota"


def next_month_start() -> str:
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")


async def get_quota(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(QUOTA, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def set_quota(
    client: httpx.AsyncClient, admin: Account, user: Account, quota: int | None
) -> httpx.Response:
    return await client.patch(
        f"/api/v1/admin/users/{user.id}",
        json={"monthly_token_quota": quota},
        headers=admin.headers,
    )


def same_instant(text: str, expected: str) -> bool:
    return datetime.fromisoformat(text) == datetime.fromisoformat(expected)


async def test_unlimited_by_default(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    await record_call(app, user_id=user.id, model_id=model, input_tokens=30, output_tokens=12)
    body = await get_quota(client, user.headers)
    assert body["limit"] is None
    assert body["remaining"] is None
    assert body["used"] == 42
    assert body["reserved"] == 0
    assert body["key"] is None
    assert same_instant(body["resets_at"], next_month_start())


async def test_used_counts_this_month_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    first = datetime.now(UTC).date().replace(day=1)
    await add_usage(app, user_id=user.id, day=first, model_id=model, input_tokens=7)
    await add_usage(
        app, user_id=user.id, day=first - timedelta(days=1), model_id=model, input_tokens=1000
    )
    assert (await get_quota(client, user.headers))["used"] == 12


class TestDefaultQuota:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"monthly_token_quota": 100}

    async def test_follows_the_settings(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        user = await make_account(client)
        model = await make_model(app)
        await record_call(app, user_id=user.id, model_id=model, input_tokens=30, output_tokens=10)
        body = await get_quota(client, user.headers)
        assert (body["limit"], body["used"], body["remaining"]) == (100, 40, 60)

    async def test_remaining_never_negative(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        user = await make_account(client)
        model = await make_model(app)
        await record_call(app, user_id=user.id, model_id=model, input_tokens=150)
        body = await get_quota(client, user.headers)
        assert (body["limit"], body["used"], body["remaining"]) == (100, 155, 0)

    async def test_override_and_reset(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        admin = await make_admin(app, client)
        user = await make_account(client)
        response = await set_quota(client, admin, user, 5000)
        assert response.status_code == 200, response.text
        assert response.json()["monthly_token_quota"] == 5000
        assert (await get_quota(client, user.headers))["limit"] == 5000
        shown = await client.get(f"/api/v1/admin/users/{user.id}", headers=admin.headers)
        assert shown.json()["monthly_token_quota"] == 5000
        response = await set_quota(client, admin, user, None)
        assert response.status_code == 200, response.text
        assert response.json()["monthly_token_quota"] is None
        assert (await get_quota(client, user.headers))["limit"] == 100

    async def test_zero_quota(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        admin = await make_admin(app, client)
        user = await make_account(client)
        assert (await set_quota(client, admin, user, 0)).status_code == 200
        body = await get_quota(client, user.headers)
        assert (body["limit"], body["remaining"]) == (0, 0)


async def test_invalid_quota_is_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    for value in (-1, 10**16, "lots", 1.5):
        response = await client.patch(
            f"/api/v1/admin/users/{user.id}",
            json={"monthly_token_quota": value},
            headers=admin.headers,
        )
        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"][-1] == "monthly_token_quota"
    shown = await client.get(f"/api/v1/admin/users/{user.id}", headers=admin.headers)
    assert shown.json()["monthly_token_quota"] is None


async def test_only_admins_set_quotas(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    other = await make_account(client)
    assert_problem(await set_quota(client, user, other, 10), 403, "admin_required")
    response = await client.patch(
        "/api/v1/users/me", json={"monthly_token_quota": 10**9}, headers=user.headers
    )
    assert_problem(response, 422, "validation_error")


async def test_key_budget_is_shown_for_that_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    budgeted = await make_key(client, user, scopes=["read"], monthly_token_budget=1000)
    plain = await make_key(client, user, scopes=["read"])
    await record_call(app, user_id=user.id, model_id=model, key_id=budgeted["id"], input_tokens=95)
    await record_call(app, user_id=user.id, model_id=model, input_tokens=1)
    body = await get_quota(client, bearer(budgeted["key"]))
    assert body["used"] == 106
    assert body["key"] == {"limit": 1000, "used": 100, "remaining": 900, "reserved": 0}
    assert (await get_quota(client, bearer(plain["key"])))["key"] is None
    assert (await get_quota(client, user.headers))["key"] is None


async def test_reserved_tokens_are_shown(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    now = datetime.now(UTC)
    async with transaction(app.state.database) as session:
        for tokens, expires_at in ((300, now + timedelta(minutes=5)), (50, now - timedelta(1))):
            session.add(
                UsageReservation(
                    user_id=uuid.UUID(user.id),
                    api_key_id=None,
                    tokens=tokens,
                    expires_at=expires_at,
                )
            )
    body = await get_quota(client, user.headers)
    assert (body["used"], body["reserved"]) == (0, 300)
