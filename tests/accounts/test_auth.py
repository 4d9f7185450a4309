import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from colloquy.accounts.models import RefreshToken, User
from colloquy.accounts.service import AuthTools
from colloquy.core.database import transaction, utcnow
from colloquy.core.security import PasswordHasher
from tests.support import (
    PASSWORD,
    assert_problem,
    login,
    make_account,
    make_admin,
    unique_email,
)

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"
ME = "/api/v1/users/me"


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def fullwidth(text: str) -> str:
    """The same text in fullwidth forms, which NFKC folds back to ASCII."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def assert_invalid(response: httpx.Response, *loc: str | int) -> None:
    """A 422 problem whose `errors` list names this body field."""
    body = assert_problem(response, 422, "validation_error")
    errors: Sequence[dict[str, Any]] = body["errors"]
    assert errors
    assert all(isinstance(error["msg"], str) and error["msg"] for error in errors)
    assert ["body", *loc] in [error["loc"] for error in errors], errors


async def register(
    client: httpx.AsyncClient, *, email: str, password: str = PASSWORD, name: str = "Ann"
) -> httpx.Response:
    return await client.post(REGISTER, json={"name": name, "email": email, "password": password})


async def deactivate(app: FastAPI, client: httpx.AsyncClient, user_id: str) -> None:
    admin = await make_admin(app, client)
    response = await client.patch(
        f"/api/v1/admin/users/{user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text


async def stored_password_hash(app: FastAPI, email: str) -> str:
    async with transaction(app.state.database, write=False) as session:
        user = (await session.scalars(select(User).where(User.email == email))).one()
        return user.password_hash


async def test_register_returns_the_user(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register", json={"name": "Ann", "email": email, "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == email
    assert body["is_active"] is True
    assert body["is_admin"] is False
    assert body["last_login_at"] is None
    assert "password_hash" not in body


async def test_login_refresh_logout_flow(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["last_login_at"] is not None

    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert refreshed.status_code == 200
    pair = refreshed.json()
    assert pair["token_type"] == "bearer"
    assert pair["refresh_token"] != account.refresh_token

    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert logout.status_code == 204
    after = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert_problem(after, 401, "invalid_token")


@pytest.mark.parametrize(
    "variant",
    [str.upper, lambda email: f"  {email}  ", fullwidth],
    ids=["upper_case", "surrounding_spaces", "fullwidth_nfkc"],
)
async def test_register_duplicate_email_variant_returns_409(
    client: httpx.AsyncClient, variant: Any
) -> None:
    email = unique_email()
    assert (await register(client, email=email)).status_code == 201

    response = await register(client, email=variant(email))

    assert_problem(response, 409, "email_taken")


async def test_register_stores_the_nfkc_form_of_the_email(client: httpx.AsyncClient) -> None:
    email = unique_email()

    response = await register(client, email=f" {fullwidth(email)} ")

    assert response.status_code == 201, response.text
    assert response.json()["email"] == email


@pytest.mark.parametrize(
    "password", ["é" * 8, "\U0001f600" * 8, "x" * 128], ids=["accented", "emoji", "maximum"]
)
async def test_register_counts_password_length_in_characters(
    client: httpx.AsyncClient, password: str
) -> None:
    email = unique_email()

    response = await register(client, email=email, password=password)

    assert response.status_code == 201, response.text
    assert (await login(client, email, password))["access_token"]


@pytest.mark.parametrize("password", ["x" * 7, "é" * 129], ids=["too_short", "too_long"])
async def test_register_password_out_of_range_returns_422(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await register(client, email=unique_email(), password=password)

    assert_invalid(response, "password")


@pytest.mark.parametrize("email", ["not-an-email", "user@", "@example.com", "a b@example.com"])
async def test_register_invalid_email_returns_422(client: httpx.AsyncClient, email: str) -> None:
    response = await register(client, email=email)

    assert_invalid(response, "email")


async def test_register_missing_fields_returns_422_naming_each(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(REGISTER, json={})

    body = assert_problem(response, 422, "validation_error")
    locs = [error["loc"] for error in body["errors"]]
    assert ["body", "name"] in locs
    assert ["body", "email"] in locs
    assert ["body", "password"] in locs


async def test_register_unknown_field_returns_422_and_creates_nobody(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()

    response = await client.post(
        REGISTER, json={"name": "Ann", "email": email, "password": PASSWORD, "is_admin": True}
    )

    assert_invalid(response, "is_admin")
    retry = await register(client, email=email)
    assert retry.status_code == 201, retry.text
    assert retry.json()["is_admin"] is False


@pytest.mark.parametrize("name", ["x" * 101, "   "], ids=["too_long", "blank"])
async def test_register_invalid_name_returns_422(client: httpx.AsyncClient, name: str) -> None:
    response = await register(client, email=unique_email(), name=name)

    assert_invalid(response, "name")


async def test_login_returns_a_bearer_token_pair(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email=email)

    response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert len(body["refresh_token"]) >= 32
    assert (await client.get(ME, headers=bearer(body["access_token"]))).status_code == 200


async def test_login_unknown_email_and_wrong_password_fail_identically(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    wrong_password = await client.post(
        LOGIN, json={"email": account.email, "password": "wrong password"}
    )
    unknown_email = await client.post(LOGIN, json={"email": unique_email(), "password": PASSWORD})

    for response in (wrong_password, unknown_email):
        assert_problem(response, 401, "invalid_credentials")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert wrong_password.json() == unknown_email.json()


@pytest.mark.parametrize("known_email", [True, False], ids=["wrong_password", "unknown_email"])
async def test_failed_login_verifies_a_password_exactly_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    known_email: bool,
) -> None:
    account = await make_account(client)
    hasher: PasswordHasher = app.state.auth_tools.hasher
    verify = hasher.verify
    calls: list[str | None] = []

    async def counting_verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
        calls.append(password_hash)
        return await verify(password, password_hash)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    email = account.email if known_email else unique_email()

    response = await client.post(LOGIN, json={"email": email, "password": "wrong password"})

    assert_problem(response, 401, "invalid_credentials")
    assert len(calls) == 1


async def test_login_deactivated_user_returns_403(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await deactivate(app, client, account.id)

    response = await client.post(LOGIN, json={"email": account.email, "password": PASSWORD})

    assert_problem(response, 403, "account_inactive")


async def test_login_matches_email_case_insensitively(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email=email)

    response = await client.post(LOGIN, json={"email": f" {email.upper()} ", "password": PASSWORD})

    assert response.status_code == 200, response.text


async def test_login_sets_last_login_at(client: httpx.AsyncClient) -> None:
    email = unique_email()
    registered = (await register(client, email=email)).json()
    before = utcnow()

    tokens = await login(client, email)

    me = (await client.get(ME, headers=bearer(tokens["access_token"]))).json()
    assert registered["last_login_at"] is None
    assert me["last_login_at"] is not None
    assert abs(datetime.fromisoformat(me["last_login_at"]) - before) < timedelta(minutes=1)


async def test_token_form_login_returns_a_token_pair(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(TOKEN, data={"username": account.email, "password": PASSWORD})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert (await client.get(ME, headers=bearer(body["access_token"]))).status_code == 200


async def test_token_form_login_wrong_password_returns_401(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(TOKEN, data={"username": account.email, "password": "nope nope"})

    assert_problem(response, 401, "invalid_credentials")


async def test_login_rehashes_password_when_argon2_parameters_change(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    before = await stored_password_hash(app, account.email)
    tools: AuthTools = app.state.auth_tools
    stronger = tools.settings.model_copy(update={"argon2_time_cost": 2})
    monkeypatch.setattr(
        app.state, "auth_tools", dataclasses.replace(tools, hasher=PasswordHasher(stronger))
    )

    await login(client, account.email)

    after = await stored_password_hash(app, account.email)
    assert before.split("$")[3] == "m=1024,t=1,p=1"
    assert after.split("$")[3] == "m=1024,t=2,p=1"


async def test_refresh_returns_a_new_working_pair(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(REFRESH, json={"refresh_token": account.refresh_token})

    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["expires_in"] == 900
    assert pair["access_token"] != account.access_token
    assert pair["refresh_token"] != account.refresh_token
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 200


async def _rotate_then_reuse(client: httpx.AsyncClient) -> tuple[dict[str, Any], httpx.Response]:
    """Rotate a login's refresh token, then present the old one again."""
    account = await make_account(client)
    rotated = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert rotated.status_code == 200, rotated.text
    reused = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    return rotated.json(), reused


async def test_refresh_token_reuse_returns_401(client: httpx.AsyncClient) -> None:
    _, reused = await _rotate_then_reuse(client)

    assert_problem(reused, 401, "refresh_token_reused")
    assert reused.headers["WWW-Authenticate"].startswith("Bearer")


async def test_refresh_token_reuse_revokes_the_latest_access_token(
    client: httpx.AsyncClient,
) -> None:
    latest, _ = await _rotate_then_reuse(client)

    response = await client.get(ME, headers=bearer(latest["access_token"]))

    assert_problem(response, 401, "invalid_token")


async def test_refresh_token_reuse_revokes_the_latest_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    latest, _ = await _rotate_then_reuse(client)

    response = await client.post(REFRESH, json={"refresh_token": latest["refresh_token"]})

    assert_problem(response, 401, "invalid_refresh_token")


async def test_refresh_token_reuse_is_audited(app: FastAPI, client: httpx.AsyncClient) -> None:
    await _rotate_then_reuse(client)
    admin = await make_admin(app, client)

    response = await client.get(
        "/api/v1/admin/audit-events",
        params={"action": "auth.refresh_reuse"},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    events = response.json()["items"]
    assert len(events) == 1
    assert events[0]["outcome"] == "failure"
    assert events[0]["target_type"] == "session"


@pytest.mark.parametrize("token", ["garbage", "x" * 256, "not a token at all"])
async def test_refresh_unknown_token_returns_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post(REFRESH, json={"refresh_token": token})

    assert_problem(response, 401, "invalid_refresh_token")


async def test_refresh_empty_token_returns_422(client: httpx.AsyncClient) -> None:
    response = await client.post(REFRESH, json={"refresh_token": ""})

    assert_invalid(response, "refresh_token")


async def test_refresh_expired_token_returns_invalid_refresh_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    expired = utcnow() - timedelta(seconds=1)
    async with transaction(app.state.database) as session:
        await session.execute(update(RefreshToken).values(expires_at=expired))

    response = await client.post(REFRESH, json={"refresh_token": account.refresh_token})

    assert_problem(response, 401, "invalid_refresh_token")


async def test_logout_revokes_that_logins_access_token(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(LOGOUT, json={"refresh_token": account.refresh_token})

    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=account.headers), 401, "invalid_token")


async def test_logout_keeps_the_users_other_logins_working(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    await client.post(LOGOUT, json={"refresh_token": account.refresh_token})

    assert (await client.get(ME, headers=bearer(other["access_token"]))).status_code == 200


async def test_logout_unknown_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGOUT, json={"refresh_token": "unknown-token"})

    assert_problem(response, 401, "invalid_refresh_token")


async def test_logout_all_revokes_every_login(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    response = await client.post(LOGOUT_ALL, headers=account.headers)

    assert response.status_code == 204
    for token in (account.access_token, other["access_token"]):
        assert_problem(await client.get(ME, headers=bearer(token)), 401, "invalid_token")


async def test_logout_all_revokes_refresh_tokens(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    await client.post(LOGOUT_ALL, headers=account.headers)

    response = await client.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert_problem(response, 401, "invalid_refresh_token")


async def test_logout_all_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGOUT_ALL)

    assert_problem(response, 401, "invalid_token")
