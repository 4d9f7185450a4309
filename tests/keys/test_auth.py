import secrets

import httpx
import pytest
from fastapi import FastAPI

from tests.keys.support import ALL_SCOPES, KEYS, bearer, make_key
from tests.support import assert_problem, make_account, make_admin

COLLECTIONS = {
    "/api/v1/projects": {"name": "Project"},
    "/api/v1/agents": {"name": "Helper"},
    "/api/v1/tasks": {"title": "Write the report"},
    "/api/v1/chats": {},
}


@pytest.mark.parametrize("url", list(COLLECTIONS))
async def test_read_key_reads_but_does_not_write(client: httpx.AsyncClient, url: str) -> None:
    owner = await make_account(client)
    key = (await make_key(client, owner, scopes=["read"]))["key"]
    assert (await client.get(url, headers=bearer(key))).status_code == 200
    response = await client.post(url, json=COLLECTIONS[url], headers=bearer(key))
    assert_problem(response, 403, "insufficient_scope")


@pytest.mark.parametrize("url", list(COLLECTIONS))
async def test_write_key_writes_for_its_owner(client: httpx.AsyncClient, url: str) -> None:
    owner = await make_account(client)
    key = (await make_key(client, owner, scopes=["read", "write"]))["key"]
    created = await client.post(url, json=COLLECTIONS[url], headers=bearer(key))
    assert created.status_code == 201, created.text
    listed = await client.get(url, headers=owner.headers)
    assert created.json()["id"] in {item["id"] for item in listed.json()["items"]}


async def test_write_only_key_cannot_read(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = (await make_key(client, owner, scopes=["write"]))["key"]
    assert_problem(
        await client.get("/api/v1/projects", headers=bearer(key)), 403, "insufficient_scope"
    )


@pytest.mark.parametrize("url", list(COLLECTIONS))
async def test_inference_key_has_no_access_to_the_api(client: httpx.AsyncClient, url: str) -> None:
    owner = await make_account(client)
    key = (await make_key(client, owner, scopes=["inference"]))["key"]
    assert_problem(await client.get(url, headers=bearer(key)), 403, "insufficient_scope")
    response = await client.post(url, json=COLLECTIONS[url], headers=bearer(key))
    assert_problem(response, 403, "insufficient_scope")


async def test_key_sees_only_its_owners_resources(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    project = await client.post("/api/v1/projects", json={"name": "P"}, headers=other.headers)
    key = (await make_key(client, owner, scopes=["read", "write"]))["key"]
    response = await client.get(f"/api/v1/projects/{project.json()['id']}", headers=bearer(key))
    assert_problem(response, 404, "project_not_found")


async def test_key_never_manages_accounts_or_keys(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    created = await make_key(client, admin, scopes=ALL_SCOPES)
    headers = bearer(created["key"])
    key_url = f"{KEYS}/{created['id']}"
    for method, url, body in (
        ("GET", KEYS, None),
        ("POST", KEYS, {"name": "more", "scopes": ["read"]}),
        ("GET", key_url, None),
        ("PATCH", key_url, {"name": "x"}),
        ("POST", f"{key_url}/rotate", None),
        ("DELETE", key_url, None),
        ("POST", "/api/v1/users/me/password", {"current_password": "x", "new_password": "y" * 12}),
        ("DELETE", "/api/v1/users/me", {"password": admin.password}),
        ("POST", "/api/v1/auth/logout-all", None),
        ("GET", "/api/v1/auth/sessions", None),
        ("GET", "/api/v1/admin/users", None),
        ("GET", "/api/v1/admin/audit-events", None),
        ("PATCH", f"/api/v1/admin/users/{admin.id}", {"is_admin": False}),
    ):
        response = await client.request(method, url, json=body, headers=headers)
        assert_problem(response, 403, "key_not_allowed")
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/auth/sessions", headers=admin.headers)).status_code == 200


HOSTILE = [
    "ck-",
    "ck-" + "A" * 43,
    "ck-" + secrets.token_urlsafe(32),
    "ck-" + "x" * 8000,
    "ck-!!!not*base64$$",
    "ck-' OR 1=1 --",
    "ck-%00%00",
]


async def test_hostile_keys_are_refused_alike(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    await make_key(client, owner)
    bodies = []
    for token in HOSTILE:
        response = await client.get("/api/v1/users/me", headers=bearer(token))
        bodies.append(assert_problem(response, 401, "invalid_token"))
    response = await client.get(
        "/api/v1/users/me", headers={b"Authorization": "Bearer ck-ключ".encode()}
    )
    bodies.append(assert_problem(response, 401, "invalid_token"))
    assert all(body == bodies[0] for body in bodies)


async def test_deactivated_owners_keys_stop_working(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    owner = await make_account(client)
    key = (await make_key(client, owner))["key"]
    assert (await client.get("/api/v1/projects", headers=bearer(key))).status_code == 200
    response = await client.patch(
        f"/api/v1/admin/users/{owner.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert_problem(await client.get("/api/v1/projects", headers=bearer(key)), 401, "invalid_token")


async def test_sending_a_message_follows_the_scopes(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    chat = (await client.post("/api/v1/chats", json={}, headers=owner.headers)).json()
    url = f"/api/v1/chats/{chat['id']}/messages"
    reader = (await make_key(client, owner, scopes=["read"]))["key"]
    writer = (await make_key(client, owner, scopes=["write"]))["key"]
    response = await client.post(url, json={"content": "hi"}, headers=bearer(reader))
    assert_problem(response, 403, "insufficient_scope")
    response = await client.post(url, json={"content": "hi"}, headers=bearer(writer))
    assert response.status_code == 201, response.text
