import httpx

from tests.support import PASSWORD, assert_problem, make_account, unique_email


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
