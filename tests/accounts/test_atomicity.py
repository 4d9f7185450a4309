"""A request that fails half-way leaves nothing behind: the transaction is all or nothing."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit
from colloquy.accounts.errors import InvalidCredentials, UserNotFound
from colloquy.accounts.models import AuditEvent, LoginSession, RefreshToken, User
from colloquy.core.database import Base, transaction
from tests.support import PASSWORD, assert_problem, login, make_account, make_admin, unique_email

Record = Callable[..., Awaitable[AuditEvent]]


class Crash(RuntimeError):
    pass


def crash_on(monkeypatch: pytest.MonkeyPatch, crash_action: str) -> list[int]:
    """Make recording `crash_action` blow up after the request's earlier writes were flushed.

    Returns, per crash, how many users the failing transaction could see at that moment.
    """
    original: Record = audit.record
    users_seen: list[int] = []

    async def record(session: AsyncSession, *, action: str, **kwargs: Any) -> AuditEvent:
        if action == crash_action:
            users_seen.append(
                int(await session.scalar(select(func.count()).select_from(User)) or 0)
            )
            raise Crash("secret internals: boom")
        return await original(session, action=action, **kwargs)

    monkeypatch.setattr(audit, "record", record)
    return users_seen


async def count(app: FastAPI, model: type[Base], **filters: Any) -> int:
    async with app.state.database.read_sessions() as session:
        statement = select(func.count()).select_from(model).filter_by(**filters)
        return int(await session.scalar(statement) or 0)


def make_user(email: str) -> User:
    return User(name="Direct", email=email, email_normalized=email, password_hash="x")


async def add_user_then_raise(app: FastAPI, email: str, error: Exception) -> None:
    async with transaction(app.state.database) as session:
        session.add(make_user(email))
        await session.flush()
        raise error


async def test_crash_during_register_returns_a_bare_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_on(monkeypatch, "user.register")

    response = await client.post(
        "/api/v1/auth/register",
        json={"name": "Half", "email": unique_email(), "password": PASSWORD},
    )

    body = assert_problem(response, 500, "internal_error")
    assert body["title"] == "Internal Server Error"
    assert "secret internals" not in response.text
    assert "Crash" not in response.text
    assert response.headers["X-Request-ID"]


async def test_crash_during_register_echoes_the_callers_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_on(monkeypatch, "user.register")

    response = await client.post(
        "/api/v1/auth/register",
        json={"name": "Half", "email": unique_email(), "password": PASSWORD},
        headers={"X-Request-ID": "trace-123"},
    )

    assert_problem(response, 500, "internal_error")
    assert response.headers["X-Request-ID"] == "trace-123"


async def test_crash_during_register_leaves_no_user_row(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_seen = crash_on(monkeypatch, "user.register")
    email = unique_email()

    response = await client.post(
        "/api/v1/auth/register", json={"name": "Half", "email": email, "password": PASSWORD}
    )

    assert response.status_code == 500
    assert users_seen == [1]
    assert await count(app, User, email_normalized=email) == 0
    assert await count(app, AuditEvent) == 0


async def test_email_is_free_again_after_a_crashed_register(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_on(monkeypatch, "user.register")
    email = unique_email()
    crashed = await client.post(
        "/api/v1/auth/register", json={"name": "Half", "email": email, "password": PASSWORD}
    )
    assert crashed.status_code == 500
    monkeypatch.undo()

    account = await make_account(client, email=email)

    assert account.email == email


async def test_crash_during_login_leaves_no_login_or_refresh_token(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    logins_before = await count(app, LoginSession)
    tokens_before = await count(app, RefreshToken)
    crash_on(monkeypatch, "auth.login")

    response = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )

    assert_problem(response, 500, "internal_error")
    assert await count(app, LoginSession) == logins_before
    assert await count(app, RefreshToken) == tokens_before


async def test_crash_during_password_change_keeps_the_old_password_and_logins(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    other = await login(client, account.email)
    crash_on(monkeypatch, "user.password_change")

    response = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a new long password"},
        headers=account.headers,
    )

    assert_problem(response, 500, "internal_error")
    monkeypatch.undo()
    assert await login(client, account.email, PASSWORD)
    other_me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert other_me.status_code == 200


async def test_crash_during_admin_update_leaves_the_user_unchanged(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client, name="Original")
    crash_on(monkeypatch, "admin.user_update")

    response = await client.patch(
        f"/api/v1/admin/users/{account.id}",
        json={"name": "Changed", "is_active": False},
        headers=admin.headers,
    )

    assert_problem(response, 500, "internal_error")
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["name"] == "Original"
    assert me.json()["is_active"] is True


async def test_transaction_commits_when_the_body_succeeds(app: FastAPI) -> None:
    email = unique_email("committed")

    async with transaction(app.state.database) as session:
        session.add(make_user(email))

    assert await count(app, User, email_normalized=email) == 1


async def test_transaction_rolls_back_when_the_body_raises(app: FastAPI) -> None:
    email = unique_email("rolled-back")

    with pytest.raises(Crash):
        await add_user_then_raise(app, email, Crash())

    assert await count(app, User, email_normalized=email) == 0


async def test_transaction_rolls_back_on_an_ordinary_app_error(app: FastAPI) -> None:
    email = unique_email("refused")

    with pytest.raises(UserNotFound):
        await add_user_then_raise(app, email, UserNotFound())

    assert await count(app, User, email_normalized=email) == 0


async def test_transaction_commits_on_an_app_error_that_keeps_changes(app: FastAPI) -> None:
    email = unique_email("kept")

    with pytest.raises(InvalidCredentials):
        await add_user_then_raise(app, email, InvalidCredentials())

    assert await count(app, User, email_normalized=email) == 1


async def test_read_transaction_sees_committed_rows(app: FastAPI) -> None:
    email = unique_email("visible")
    async with transaction(app.state.database) as session:
        session.add(make_user(email))

    async with transaction(app.state.database, write=False) as session:
        found = await session.scalar(select(User).where(User.email_normalized == email))

    assert found is not None
    assert found.name == "Direct"
