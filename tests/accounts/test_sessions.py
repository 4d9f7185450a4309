from typing import Any

import httpx
import jwt
import pytest

from tests.support import PASSWORD, assert_problem, login, make_account

SESSIONS = "/api/v1/auth/sessions"
ME = "/api/v1/users/me"


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def session_id_of(access_token: str) -> str:
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return str(claims["sid"])


async def list_sessions(client: httpx.AsyncClient, access_token: str) -> list[dict[str, Any]]:
    response = await client.get(SESSIONS, headers=bearer(access_token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def login_as(
    client: httpx.AsyncClient, email: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def test_list_sessions_returns_a_page_of_sessions(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(SESSIONS, headers=account.headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page.keys() == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (1, 20, 0)
    [item] = page["items"]
    assert item.keys() == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
    assert item["id"] == session_id_of(account.access_token)
    assert item["ip"] == "127.0.0.1"


async def test_list_sessions_marks_only_the_calling_login_current(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    items = await list_sessions(client, other["access_token"])

    assert len(items) == 2
    assert [item["id"] for item in items if item["current"]] == [
        session_id_of(other["access_token"])
    ]


async def test_list_sessions_records_the_user_agent(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    tokens = await login_as(client, account.email, {"User-Agent": "Colloquy-Phone/1.2"})

    items = await list_sessions(client, tokens["access_token"])

    agents = {item["id"]: item["user_agent"] for item in items}
    assert agents[session_id_of(tokens["access_token"])] == "Colloquy-Phone/1.2"


async def test_list_sessions_shows_only_the_callers_logins(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_account(client)

    items = await list_sessions(client, account.access_token)

    assert [item["id"] for item in items] == [session_id_of(account.access_token)]


async def test_list_sessions_pages_with_limit_and_offset(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await login(client, account.email)
    await login(client, account.email)

    first = await client.get(SESSIONS, params={"limit": 2}, headers=account.headers)
    rest = await client.get(SESSIONS, params={"limit": 2, "offset": 2}, headers=account.headers)

    assert first.json()["total"] == rest.json()["total"] == 3
    assert len(first.json()["items"]) == 2
    assert len(rest.json()["items"]) == 1
    ids = {item["id"] for item in first.json()["items"] + rest.json()["items"]}
    assert len(ids) == 3


@pytest.mark.parametrize("limit", [0, 101])
async def test_list_sessions_limit_out_of_range_returns_422(
    client: httpx.AsyncClient, limit: int
) -> None:
    account = await make_account(client)

    response = await client.get(SESSIONS, params={"limit": limit}, headers=account.headers)

    body = assert_problem(response, 422, "validation_error")
    assert ["query", "limit"] in [error["loc"] for error in body["errors"]]


async def test_list_sessions_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(SESSIONS)

    assert_problem(response, 401, "invalid_token")


async def test_delete_session_revokes_that_logins_access_token(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    response = await client.delete(
        f"{SESSIONS}/{session_id_of(other['access_token'])}", headers=account.headers
    )

    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=bearer(other["access_token"])), 401)


async def test_delete_session_keeps_the_current_login_working(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    other = await login(client, account.email)

    await client.delete(
        f"{SESSIONS}/{session_id_of(other['access_token'])}", headers=account.headers
    )

    assert (await client.get(ME, headers=account.headers)).status_code == 200
    items = await list_sessions(client, account.access_token)
    assert [item["id"] for item in items] == [session_id_of(account.access_token)]


async def test_delete_another_users_session_returns_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    victim = await make_account(client)

    response = await client.delete(
        f"{SESSIONS}/{session_id_of(victim.access_token)}", headers=account.headers
    )

    assert_problem(response, 404, "session_not_found")
    assert (await client.get(ME, headers=victim.headers)).status_code == 200


async def test_delete_session_with_non_uuid_id_returns_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.delete(f"{SESSIONS}/not-a-uuid", headers=account.headers)

    body = assert_problem(response, 422, "validation_error")
    assert ["path", "session_id"] in [error["loc"] for error in body["errors"]]


async def test_delete_ended_session_returns_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    other = await login(client, account.email)
    path = f"{SESSIONS}/{session_id_of(other['access_token'])}"
    assert (await client.delete(path, headers=account.headers)).status_code == 204

    response = await client.delete(path, headers=account.headers)

    assert_problem(response, 404, "session_not_found")


async def test_delete_session_requires_authentication(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.delete(f"{SESSIONS}/{session_id_of(account.access_token)}")

    assert_problem(response, 401, "invalid_token")
    assert (await client.get(ME, headers=account.headers)).status_code == 200


async def test_login_through_trusted_proxy_records_forwarded_ip(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    tokens = await login_as(client, account.email, {"X-Forwarded-For": "203.0.113.9"})

    items = await list_sessions(client, tokens["access_token"])

    ips = {item["id"]: item["ip"] for item in items}
    assert ips[session_id_of(tokens["access_token"])] == "203.0.113.9"


@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": ["10.0.0.0/8"]}])
async def test_login_from_untrusted_peer_ignores_forwarded_ip(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    tokens = await login_as(client, account.email, {"X-Forwarded-For": "203.0.113.9"})

    items = await list_sessions(client, tokens["access_token"])

    ips = {item["id"]: item["ip"] for item in items}
    assert ips[session_id_of(tokens["access_token"])] == "127.0.0.1"
