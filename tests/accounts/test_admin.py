import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support import PASSWORD, Account, assert_problem, login, make_account, make_admin

USERS = "/api/v1/admin/users"
ME = "/api/v1/users/me"


def user_url(user_id: str | uuid.UUID) -> str:
    return f"{USERS}/{user_id}"


async def list_users(client: httpx.AsyncClient, admin: Account, **params: Any) -> dict[str, Any]:
    response = await client.get(USERS, params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def patch_user(
    client: httpx.AsyncClient, admin: Account, user_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(user_url(user_id), json=body, headers=admin.headers)


def admin_requests(target_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", USERS, None),
        ("GET", user_url(target_id), None),
        ("PATCH", user_url(target_id), {"name": "Renamed"}),
        ("GET", "/api/v1/admin/audit-events", None),
    ]


async def test_admin_routes_refuse_a_non_admin_with_403(client: httpx.AsyncClient) -> None:
    user = await make_account(client)

    for method, url, body in admin_requests(user.id):
        response = await client.request(method, url, json=body, headers=user.headers)
        assert_problem(response, 403, "admin_required")

    me = await client.get(ME, headers=user.headers)
    assert me.json()["name"] == user.body["name"]


async def test_admin_routes_refuse_an_anonymous_caller_with_401(
    client: httpx.AsyncClient,
) -> None:
    user = await make_account(client)

    for method, url, body in admin_requests(user.id):
        response = await client.request(method, url, json=body)
        assert_problem(response, 401, "invalid_token")


async def test_list_users_returns_every_user_oldest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    first = await make_account(client)
    second = await make_account(client)

    body = await list_users(client, admin)

    assert body["total"] == 3
    assert body["limit"] == 20
    assert body["offset"] == 0
    assert [item["id"] for item in body["items"]] == [admin.id, first.id, second.id]
    assert "password_hash" not in body["items"][0]


async def test_list_users_honours_limit_and_offset(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    accounts = [await make_account(client) for _ in range(4)]
    everyone = [admin.id, *(account.id for account in accounts)]

    pages = [await list_users(client, admin, limit=2, offset=offset) for offset in (0, 2, 4)]

    assert [page["total"] for page in pages] == [5, 5, 5]
    assert [page["limit"] for page in pages] == [2, 2, 2]
    assert [page["offset"] for page in pages] == [0, 2, 4]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert [item["id"] for page in pages for item in page["items"]] == everyone


async def test_list_users_offset_past_the_end_is_empty(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    body = await list_users(client, admin, offset=10)

    assert body["items"] == []
    assert body["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"limit": "many"},
        {"q": "x" * 321},
        {"is_active": "maybe"},
    ],
)
async def test_list_users_rejects_invalid_query_parameters(
    app: FastAPI, client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    admin = await make_admin(app, client)

    response = await client.get(USERS, params=params, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


async def test_list_users_searches_email_case_insensitively(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    match = await make_account(client, email="findme.smith@example.com")
    await make_account(client, email="other.person@example.com")

    body = await list_users(client, admin, q="FINDME")

    assert body["total"] == 1
    assert [item["id"] for item in body["items"]] == [match.id]


async def test_list_users_searches_name_case_insensitively(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    match = await make_account(client, name="Grace Hopper")
    await make_account(client, name="Alan Turing")

    body = await list_users(client, admin, q="hOPPer")

    assert [item["id"] for item in body["items"]] == [match.id]


async def test_list_users_finds_a_name_with_a_sharp_s(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    match = await make_account(client, name="Jana Weiß")
    await make_account(client, name="Jana Weiss")

    exact = await list_users(client, admin, q="Weiß")
    lowered = await list_users(client, admin, q="weiß")

    assert [item["id"] for item in exact["items"]] == [match.id]
    assert [item["id"] for item in lowered["items"]] == [match.id]


async def test_list_users_treats_percent_literally(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    match = await make_account(client, name="Full 100% Effort")
    await make_account(client, name="Full 1000 Effort")

    body = await list_users(client, admin, q="100%")

    assert [item["id"] for item in body["items"]] == [match.id]


async def test_list_users_treats_underscore_literally(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    match = await make_account(client, email="snake_case@example.com")
    await make_account(client, email="snakexcase@example.com")

    body = await list_users(client, admin, q="snake_case")

    assert [item["id"] for item in body["items"]] == [match.id]


async def test_list_users_treats_backslash_literally(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    match = await make_account(client, name="Back\\slash")
    await make_account(client, name="Backslash")

    body = await list_users(client, admin, q="k\\s")

    assert [item["id"] for item in body["items"]] == [match.id]


async def test_list_users_search_without_match_is_empty(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    await make_account(client)

    body = await list_users(client, admin, q="no-such-person")

    assert body == {"items": [], "total": 0, "limit": 20, "offset": 0}


async def test_list_users_filters_by_is_active(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    active = await make_account(client)
    inactive = await make_account(client)
    deactivated = await patch_user(client, admin, inactive.id, {"is_active": False})
    assert deactivated.status_code == 200, deactivated.text

    only_inactive = await list_users(client, admin, is_active="false")
    only_active = await list_users(client, admin, is_active="true")

    assert [item["id"] for item in only_inactive["items"]] == [inactive.id]
    assert only_inactive["total"] == 1
    assert [item["id"] for item in only_active["items"]] == [admin.id, active.id]
    assert only_active["total"] == 2


async def test_list_users_combines_search_and_is_active(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    keep = await make_account(client, name="Team Blue")
    gone = await make_account(client, name="Team Red")
    await make_account(client, name="Solo")
    assert (await patch_user(client, admin, gone.id, {"is_active": False})).status_code == 200

    body = await list_users(client, admin, q="team", is_active="true")

    assert [item["id"] for item in body["items"]] == [keep.id]
    assert body["total"] == 1


async def test_get_user_returns_the_user(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client, name="Target")

    response = await client.get(user_url(user.id), headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == user.id
    assert body["email"] == user.email
    assert body["name"] == "Target"
    assert "password_hash" not in body


async def test_get_user_with_unknown_id_returns_404(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    response = await client.get(user_url(uuid.uuid4()), headers=admin.headers)

    assert_problem(response, 404, "user_not_found")


async def test_get_user_with_non_uuid_id_returns_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    response = await client.get(user_url("not-a-uuid"), headers=admin.headers)

    assert_problem(response, 422, "validation_error")


async def test_update_user_renames(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client, name="Before")

    response = await patch_user(client, admin, user.id, {"name": "After"})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "After"
    me = await client.get(ME, headers=user.headers)
    assert me.json()["name"] == "After"


async def test_update_user_with_unknown_id_returns_404(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    response = await patch_user(client, admin, str(uuid.uuid4()), {"name": "Ghost"})

    assert_problem(response, 404, "user_not_found")


async def test_deactivating_a_user_ends_their_access_on_the_next_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    assert (await client.get(ME, headers=user.headers)).status_code == 200

    response = await patch_user(client, admin, user.id, {"is_active": False})

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert_problem(await client.get(ME, headers=user.headers), 401, "invalid_token")
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}
    )
    assert_problem(refreshed, 401)


async def test_deactivated_user_cannot_log_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    assert (await patch_user(client, admin, user.id, {"is_active": False})).status_code == 200

    response = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )

    assert_problem(response, 403, "account_inactive")


async def test_reactivated_user_can_log_in_again(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    assert (await patch_user(client, admin, user.id, {"is_active": False})).status_code == 200

    response = await patch_user(client, admin, user.id, {"is_active": True})

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is True
    tokens = await login(client, user.email)
    me = await client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["is_active"] is True


async def test_promoted_user_reaches_admin_routes_with_the_same_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    assert_problem(await client.get(USERS, headers=user.headers), 403, "admin_required")

    response = await patch_user(client, admin, user.id, {"is_admin": True})

    assert response.status_code == 200, response.text
    assert response.json()["is_admin"] is True
    assert (await client.get(USERS, headers=user.headers)).status_code == 200


async def test_demoted_admin_loses_admin_routes_with_the_same_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    other = await make_admin(app, client)
    assert (await client.get(USERS, headers=other.headers)).status_code == 200

    response = await patch_user(client, admin, other.id, {"is_admin": False})

    assert response.status_code == 200, response.text
    assert response.json()["is_admin"] is False
    assert_problem(await client.get(USERS, headers=other.headers), 403, "admin_required")
    assert (await client.get(ME, headers=other.headers)).status_code == 200


async def test_last_admin_cannot_demote_themself(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)

    response = await patch_user(client, admin, admin.id, {"is_admin": False})

    assert_problem(response, 409, "last_admin")
    assert (await client.get(USERS, headers=admin.headers)).status_code == 200


async def test_last_admin_cannot_deactivate_themself(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    response = await patch_user(client, admin, admin.id, {"is_active": False})

    assert_problem(response, 409, "last_admin")
    me = await client.get(ME, headers=admin.headers)
    assert me.status_code == 200
    assert me.json()["is_active"] is True


async def test_inactive_admins_do_not_count_towards_the_last_admin(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    other = await make_admin(app, client)
    assert (await patch_user(client, admin, other.id, {"is_active": False})).status_code == 200

    response = await patch_user(client, admin, admin.id, {"is_admin": False})

    assert_problem(response, 409, "last_admin")


async def test_with_two_admins_one_can_demote_the_other(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    other = await make_admin(app, client)

    response = await patch_user(client, admin, other.id, {"is_admin": False})

    assert response.status_code == 200, response.text
    assert response.json()["is_admin"] is False


async def test_with_two_admins_one_can_demote_themself(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    await make_admin(app, client)

    response = await patch_user(client, admin, admin.id, {"is_admin": False})

    assert response.status_code == 200, response.text
    assert_problem(await client.get(USERS, headers=admin.headers), 403, "admin_required")


async def test_the_last_admin_can_rename_themself(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)

    response = await patch_user(
        client, admin, admin.id, {"name": "Still Admin", "is_admin": True, "is_active": True}
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Still Admin"
    assert response.json()["is_admin"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"email": "new@example.com"},
        {"password_hash": "x"},
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"name": "Fine", "role": "owner"},
    ],
)
async def test_update_user_refuses_unknown_fields(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client, name="Unchanged")

    response = await patch_user(client, admin, user.id, body)

    assert_problem(response, 422, "validation_error")
    me = await client.get(ME, headers=user.headers)
    assert me.json()["name"] == "Unchanged"
    assert me.json()["email"] == user.email


@pytest.mark.parametrize("field", ["name", "is_active", "is_admin"])
async def test_update_user_refuses_explicit_null(
    app: FastAPI, client: httpx.AsyncClient, field: str
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)

    response = await patch_user(client, admin, user.id, {field: None})

    assert_problem(response, 422, "validation_error")
    me = await client.get(ME, headers=user.headers)
    assert me.status_code == 200
    assert me.json()["is_admin"] is False


@pytest.mark.parametrize("name", ["", "   ", "n" * 101])
async def test_update_user_refuses_an_invalid_name(
    app: FastAPI, client: httpx.AsyncClient, name: str
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client, name="Unchanged")

    response = await patch_user(client, admin, user.id, {"name": name})

    assert_problem(response, 422, "validation_error")
    assert (await client.get(ME, headers=user.headers)).json()["name"] == "Unchanged"


async def test_update_user_refuses_a_non_boolean_flag(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)

    response = await patch_user(client, admin, user.id, {"is_admin": "definitely"})

    assert_problem(response, 422, "validation_error")
    assert (await client.get(ME, headers=user.headers)).json()["is_admin"] is False
