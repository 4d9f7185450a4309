import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from colloquy.accounts.models import AuditEvent
from colloquy.core.database import transaction
from colloquy.keys.models import ApiKey
from tests.keys.support import KEYS, bearer, load_key, make_key, set_key_fields
from tests.support import assert_problem, make_account

ME = "/api/v1/users/me"
READ_FIELDS = {
    "id",
    "name",
    "prefix",
    "scopes",
    "allowed_models",
    "monthly_token_budget",
    "requests_per_minute",
    "tokens_per_minute",
    "created_at",
    "expires_at",
    "last_used_at",
}


async def test_create_shows_the_key_once(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner, scopes=["write", "read", "read"])
    key = created["key"]
    assert key.startswith("ck-")
    assert len(key) >= 3 + 43
    assert created["prefix"] == key[:12]
    assert created["scopes"] == ["read", "write"]
    assert set(created) == READ_FIELDS | {"key"}

    listed = (await client.get(KEYS, headers=owner.headers)).json()
    assert listed["total"] == 1
    assert set(listed["items"][0]) == READ_FIELDS
    one = await client.get(f"{KEYS}/{created['id']}", headers=owner.headers)
    assert set(one.json()) == READ_FIELDS
    assert key not in one.text
    assert key not in (await client.get(KEYS, headers=owner.headers)).text


async def test_key_is_stored_only_as_a_digest(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    row = await load_key(app, created["id"])
    assert created["key"] not in {row.digest, row.previous_digest}
    assert len(row.digest) == 64


async def test_optional_limits_are_stored_and_changed(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner, allowed_models=["colloquy-dev"], monthly_token_budget=9)
    assert created["allowed_models"] == ["colloquy-dev"]
    assert created["monthly_token_budget"] == 9
    response = await client.patch(
        f"{KEYS}/{created['id']}",
        json={"name": "Renamed", "monthly_token_budget": None},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    assert response.json()["monthly_token_budget"] is None
    assert response.json()["allowed_models"] == ["colloquy-dev"]


async def test_revoke_stops_the_key_at_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200
    response = await client.delete(f"{KEYS}/{created['id']}", headers=owner.headers)
    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=bearer(created["key"])), 401, "invalid_token")
    assert_problem(
        await client.get(f"{KEYS}/{created['id']}", headers=owner.headers), 404, "api_key_not_found"
    )
    async with transaction(app.state.database, write=False) as session:
        actions = set(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.target_id == created["id"])
            )
        )
    assert actions == {"api_key.create", "api_key.revoke"}


async def test_rotate_with_grace_keeps_the_old_key_for_a_while(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    response = await client.post(
        f"{KEYS}/{created['id']}/rotate", json={"grace_seconds": 3600}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["id"] == created["id"]
    assert rotated["key"] != created["key"]
    assert rotated["prefix"] == rotated["key"][:12]
    assert (await client.get(ME, headers=bearer(rotated["key"]))).status_code == 200
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200

    await set_key_fields(
        app, created["id"], previous_valid_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert_problem(await client.get(ME, headers=bearer(created["key"])), 401, "invalid_token")
    assert (await client.get(ME, headers=bearer(rotated["key"]))).status_code == 200


async def test_rotate_without_grace_ends_the_old_key_at_once(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    response = await client.post(f"{KEYS}/{created['id']}/rotate", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert_problem(await client.get(ME, headers=bearer(created["key"])), 401, "invalid_token")
    assert (await client.get(ME, headers=bearer(response.json()["key"]))).status_code == 200


@pytest.mark.parametrize("grace", [-1, 86401, "soon"])
async def test_rotate_rejects_bad_grace(client: httpx.AsyncClient, grace: Any) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    response = await client.post(
        f"{KEYS}/{created['id']}/rotate", json={"grace_seconds": grace}, headers=owner.headers
    )
    assert_problem(response, 422)


async def test_expired_key_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await make_key(client, owner, expires_at=future)
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200
    await set_key_fields(app, created["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert_problem(await client.get(ME, headers=bearer(created["key"])), 401, "invalid_token")


async def test_last_use_is_recorded_at_most_once_a_minute(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    assert created["last_used_at"] is None
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200
    await app.state.key_authenticator.drain()  # the last use is written in the background
    first = await load_key(app, created["id"])
    assert first.last_used_at is not None
    assert first.last_used_ip == "127.0.0.1"
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200
    await app.state.key_authenticator.drain()
    assert (await load_key(app, created["id"])).last_used_at == first.last_used_at

    earlier = datetime.now(UTC) - timedelta(minutes=5)
    await set_key_fields(app, created["id"], last_used_at=earlier)
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200
    await app.state.key_authenticator.drain()
    later = await load_key(app, created["id"])
    assert later.last_used_at is not None
    assert later.last_used_at > earlier + timedelta(minutes=4)


@pytest.mark.parametrize("settings_overrides", [{"api_keys_per_user": 3}])
async def test_limit_of_live_keys(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    made = [await make_key(client, owner) for _ in range(3)]
    response = await client.post(
        KEYS, json={"name": "x", "scopes": ["read"]}, headers=owner.headers
    )
    assert_problem(response, 409, "key_limit_reached")
    await set_key_fields(app, made[0]["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await make_key(client, owner)
    other = await make_account(client)
    await make_key(client, other)


async def test_another_users_key_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    intruder = await make_account(client)
    created = await make_key(client, owner)
    url = f"{KEYS}/{created['id']}"
    for response in (
        await client.get(url, headers=intruder.headers),
        await client.patch(url, json={"name": "mine"}, headers=intruder.headers),
        await client.post(f"{url}/rotate", headers=intruder.headers),
        await client.delete(url, headers=intruder.headers),
        await client.get(f"{KEYS}/{uuid.uuid4()}", headers=owner.headers),
    ):
        assert_problem(response, 404, "api_key_not_found")
    assert (await client.get(ME, headers=bearer(created["key"]))).status_code == 200
    assert (await client.get(KEYS, headers=intruder.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"]},
        {"name": "", "scopes": ["read"]},
        {"name": "x" * 101, "scopes": ["read"]},
        {"scopes": ["read"]},
        {"name": "x"},
        {"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["read"], "expires_at": "2999-01-01T00:00:00"},
        {"name": "x", "scopes": ["read"], "monthly_token_budget": -1},
        {"name": "x", "scopes": ["read"], "surprise": True},
    ],
)
async def test_create_validation(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    owner = await make_account(client)
    assert_problem(await client.post(KEYS, json=body, headers=owner.headers), 422)


async def test_update_validation(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    url = f"{KEYS}/{created['id']}"
    for body in ({"name": None}, {"name": ""}, {"scopes": ["read"]}, {"key": "ck-x"}):
        assert_problem(await client.patch(url, json=body, headers=owner.headers), 422)


async def test_routes_need_authentication(client: httpx.AsyncClient) -> None:
    some = uuid.uuid4()
    for method, url in (
        ("GET", KEYS),
        ("POST", KEYS),
        ("GET", f"{KEYS}/{some}"),
        ("PATCH", f"{KEYS}/{some}"),
        ("DELETE", f"{KEYS}/{some}"),
        ("POST", f"{KEYS}/{some}/rotate"),
    ):
        assert_problem(await client.request(method, url), 401, "invalid_token")


async def test_keys_go_with_their_owner(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    created = await make_key(client, owner)
    response = await client.request(
        "DELETE", ME, json={"password": owner.password}, headers=owner.headers
    )
    assert response.status_code == 204, response.text
    async with transaction(app.state.database, write=False) as session:
        assert await session.get(ApiKey, uuid.UUID(created["id"])) is None
