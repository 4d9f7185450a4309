import uuid
from datetime import datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from colloquy.accounts.models import LoginSession, RefreshToken, User
from colloquy.core.database import Base
from tests.support import (
    PASSWORD,
    Account,
    assert_problem,
    login,
    make_account,
    make_admin,
    unique_email,
)

ME = "/api/v1/users/me"
PASSWORD_URL = "/api/v1/users/me/password"
NEW_PASSWORD = "a brand new passphrase"
USER_FIELDS = {
    "id",
    "email",
    "name",
    "monthly_token_quota",
    "is_active",
    "is_admin",
    "created_at",
    "updated_at",
    "last_login_at",
}


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def is_aware_iso(value: str) -> bool:
    return (value.endswith("Z") or value[-6] in "+-") and (
        datetime.fromisoformat(value).tzinfo is not None
    )


async def get_me(client: httpx.AsyncClient, account: Account) -> dict[str, object]:
    response = await client.get(ME, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def count_rows(app: FastAPI, model: type[Base], **filters: object) -> int:
    statement = select(func.count()).select_from(model).filter_by(**filters)
    async with app.state.database.read_sessions() as session:
        return int(await session.scalar(statement) or 0)


async def test_get_me_returns_the_current_user(client: httpx.AsyncClient) -> None:
    account = await make_account(client, name="Ann")

    response = await client.get(ME, headers=account.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == account.id
    assert body["email"] == account.email
    assert body["name"] == "Ann"
    assert body["is_active"] is True
    assert body["is_admin"] is False


async def test_get_me_timestamps_are_iso_8601_with_an_offset(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    body = await get_me(client, account)

    for field in ("created_at", "updated_at", "last_login_at"):
        value = body[field]
        assert isinstance(value, str), field
        assert is_aware_iso(value), (field, value)


async def test_get_me_without_a_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)

    assert_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_get_me_with_a_garbage_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers=bearer("not-a-token"))

    assert_problem(response, 401, "invalid_token")


async def test_update_me_changes_the_name(client: httpx.AsyncClient) -> None:
    account = await make_account(client, name="Old Name")

    response = await client.patch(ME, json={"name": "New Name"}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "New Name"
    assert (await get_me(client, account))["name"] == "New Name"


async def test_update_me_strips_surrounding_whitespace_from_the_name(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    response = await client.patch(ME, json={"name": "  Padded  "}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Padded"


async def test_update_me_changes_the_email_and_login_follows(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    new_email = unique_email("moved")

    response = await client.patch(ME, json={"email": new_email}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["email"] == new_email
    assert await login(client, new_email)
    old = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    assert_problem(old, 401, "invalid_credentials")


async def test_update_me_bumps_updated_at(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    before = await get_me(client, account)

    response = await client.patch(ME, json={"name": "Renamed"}, headers=account.headers)

    assert response.status_code == 200
    after = response.json()
    assert after["created_at"] == before["created_at"]
    assert datetime.fromisoformat(after["updated_at"]) >= datetime.fromisoformat(
        str(before["updated_at"])
    )


async def test_update_me_to_another_users_email_in_other_case_returns_409(
    client: httpx.AsyncClient,
) -> None:
    other = await make_account(client)
    account = await make_account(client)

    response = await client.patch(ME, json={"email": other.email.upper()}, headers=account.headers)

    assert_problem(response, 409, "email_taken")
    assert (await get_me(client, account))["email"] == account.email


async def test_update_me_to_own_email_in_other_case_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    recased = account.email.upper()

    response = await client.patch(ME, json={"email": recased}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["email"] == recased


async def test_update_me_with_own_unchanged_email_is_allowed(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.patch(ME, json={"email": account.email}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["email"] == account.email


async def test_update_me_with_empty_body_changes_nothing(client: httpx.AsyncClient) -> None:
    account = await make_account(client, name="Same")

    response = await client.patch(ME, json={}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Same"
    assert response.json()["email"] == account.email


async def test_update_me_refuses_privileged_or_internal_fields(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    forbidden = [
        {"is_admin": True},
        {"is_active": False},
        {"id": str(uuid.uuid4())},
        {"password_hash": "x"},
        {"name": "Sneaky", "is_admin": True},
    ]

    for body in forbidden:
        response = await client.patch(ME, json=body, headers=account.headers)
        assert_problem(response, 422, "validation_error")

    me = await get_me(client, account)
    assert me["is_admin"] is False
    assert me["is_active"] is True
    assert me["id"] == account.id
    assert me["name"] == account.body["name"]


async def test_update_me_with_null_name_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client, name="Kept")

    response = await client.patch(ME, json={"name": None}, headers=account.headers)

    assert_problem(response, 422, "validation_error")
    assert (await get_me(client, account))["name"] == "Kept"


async def test_update_me_with_null_email_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.patch(ME, json={"email": None}, headers=account.headers)

    assert_problem(response, 422, "validation_error")
    assert (await get_me(client, account))["email"] == account.email


async def test_update_me_with_empty_name_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client, name="Kept")

    for name in ("", "   "):
        response = await client.patch(ME, json={"name": name}, headers=account.headers)
        assert_problem(response, 422, "validation_error")

    assert (await get_me(client, account))["name"] == "Kept"


async def test_update_me_name_length_limit(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    too_long = await client.patch(ME, json={"name": "n" * 101}, headers=account.headers)
    longest = await client.patch(ME, json={"name": "n" * 100}, headers=account.headers)

    assert_problem(too_long, 422, "validation_error")
    assert longest.status_code == 200, longest.text
    assert longest.json()["name"] == "n" * 100


async def test_update_me_counts_name_length_in_characters(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    name = "ü" * 50 + "😀" * 50

    response = await client.patch(ME, json={"name": name}, headers=account.headers)

    assert response.status_code == 200, response.text
    assert (await get_me(client, account))["name"] == name


async def test_update_me_with_invalid_email_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    for email in ("not-an-email", "a@", "@example.com", ""):
        response = await client.patch(ME, json={"email": email}, headers=account.headers)
        assert_problem(response, 422, "validation_error")

    assert (await get_me(client, account))["email"] == account.email


async def test_update_me_without_a_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.patch(ME, json={"name": "Nobody"})

    assert_problem(response, 401, "invalid_token")


async def test_update_me_with_malformed_json_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.patch(
        ME,
        content=b'{"name": ',
        headers={**account.headers, "Content-Type": "application/json"},
    )

    assert_problem(response, 422, "validation_error")


async def test_change_password_returns_204(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(
        PASSWORD_URL,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert response.status_code == 204
    assert response.content == b""


async def test_change_password_swaps_which_password_logs_in(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(
        PASSWORD_URL,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert response.status_code == 204
    old = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    assert_problem(old, 401, "invalid_credentials")
    assert await login(client, account.email, NEW_PASSWORD)


async def test_change_password_ends_other_logins_but_keeps_the_current_one(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    response = await client.post(
        PASSWORD_URL,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert response.status_code == 204
    other_me = await client.get(ME, headers=bearer(other["access_token"]))
    assert_problem(other_me, 401, "invalid_token")
    other_refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert_problem(other_refresh, 401)
    assert (await client.get(ME, headers=account.headers)).status_code == 200
    current_refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert current_refresh.status_code == 200, current_refresh.text


async def test_change_password_with_wrong_current_password_returns_403(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    response = await client.post(
        PASSWORD_URL,
        json={"current_password": "wrong password", "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert_problem(response, 403, "invalid_password")
    assert await login(client, account.email, PASSWORD)


async def test_change_password_with_wrong_current_password_keeps_other_logins(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    response = await client.post(
        PASSWORD_URL,
        json={"current_password": "wrong password", "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert_problem(response, 403, "invalid_password")
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status_code == 200


async def test_change_password_to_a_too_short_password_returns_422(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    response = await client.post(
        PASSWORD_URL,
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=account.headers,
    )

    assert_problem(response, 422, "validation_error")
    assert await login(client, account.email, PASSWORD)


async def test_change_password_without_a_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PASSWORD_URL, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert_problem(response, 401, "invalid_token")


async def test_delete_me_returns_204(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.request(
        "DELETE", ME, json={"password": PASSWORD}, headers=account.headers
    )

    assert response.status_code == 204
    assert response.content == b""


async def test_delete_me_ends_login_and_token(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.request(
        "DELETE", ME, json={"password": PASSWORD}, headers=account.headers
    )

    assert response.status_code == 204
    relogin = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    assert_problem(relogin, 401, "invalid_credentials")
    assert_problem(await client.get(ME, headers=account.headers), 401, "invalid_token")
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert_problem(refreshed, 401)


async def test_delete_me_removes_the_user_and_its_logins_and_tokens(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    await login(client, account.email)
    user_id = uuid.UUID(account.id)
    assert await count_rows(app, LoginSession, user_id=user_id) == 2
    bystander = await make_account(client)

    response = await client.request(
        "DELETE", ME, json={"password": PASSWORD}, headers=account.headers
    )

    assert response.status_code == 204
    assert await count_rows(app, User, id=user_id) == 0
    assert await count_rows(app, LoginSession, user_id=user_id) == 0
    async with app.state.database.read_sessions() as session:
        orphans = await session.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.session_id.not_in(select(LoginSession.id)))
        )
        remaining_tokens = await session.scalar(select(func.count()).select_from(RefreshToken))
    assert orphans == 0
    assert remaining_tokens == 1
    assert (await client.get(ME, headers=bystander.headers)).status_code == 200


async def test_delete_me_with_wrong_password_returns_403_and_keeps_the_account(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    response = await client.request(
        "DELETE", ME, json={"password": "wrong password"}, headers=account.headers
    )

    assert_problem(response, 403, "invalid_password")
    assert (await get_me(client, account))["id"] == account.id
    assert await login(client, account.email)


async def test_delete_me_without_a_body_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.request("DELETE", ME, headers=account.headers)

    assert_problem(response, 422, "validation_error")
    assert (await get_me(client, account))["id"] == account.id


async def test_delete_me_without_a_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.request("DELETE", ME, json={"password": PASSWORD})

    assert_problem(response, 401, "invalid_token")


async def test_last_admin_cannot_delete_their_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    response = await client.request(
        "DELETE", ME, json={"password": PASSWORD}, headers=admin.headers
    )

    assert_problem(response, 409, "last_admin")
    assert (await client.get("/api/v1/admin/users", headers=admin.headers)).status_code == 200


async def test_admin_can_delete_their_account_while_another_admin_remains(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    await make_admin(app, client)

    response = await client.request(
        "DELETE", ME, json={"password": PASSWORD}, headers=admin.headers
    )

    assert response.status_code == 204
    assert await count_rows(app, User, id=uuid.UUID(admin.id)) == 0


async def test_deleted_email_can_be_registered_again(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    deleted = await client.request(
        "DELETE", ME, json={"password": PASSWORD}, headers=account.headers
    )
    assert deleted.status_code == 204

    again = await make_account(client, email=account.email)

    assert again.id != account.id
    assert (await get_me(client, again))["email"] == account.email
