import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.accounts.models import AuditEvent
from colloquy.core.database import transaction
from tests.support import PASSWORD, Account, assert_problem, make_account, make_admin

EVENTS = "/api/v1/admin/audit-events"
EVENT_FIELDS = {
    "id",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "outcome",
    "data",
    "created_at",
}
AGENT = "colloquy-tests/1.0"


async def events(client: httpx.AsyncClient, admin: Account, **params: Any) -> dict[str, Any]:
    response = await client.get(EVENTS, params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def actions_of(
    client: httpx.AsyncClient, admin: Account, action: str, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await events(client, admin, action=action, **params))["items"]
    return items


async def only_event(
    client: httpx.AsyncClient, admin: Account, action: str, **params: Any
) -> dict[str, Any]:
    items = await actions_of(client, admin, action, **params)
    assert len(items) == 1, items
    return items[0]


async def add_events(app: FastAPI, *stamps: datetime, action: str = "test.event") -> list[str]:
    """Events at fixed times, so time filters are tested without waiting."""
    rows = [
        AuditEvent(action=action, actor_id=None, outcome="success", data={}, created_at=stamp)
        for stamp in stamps
    ]
    async with transaction(app.state.database) as session:
        session.add_all(rows)
    return [str(row.id) for row in rows]


async def test_audit_events_have_the_documented_fields(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    body = await events(client, admin)

    assert body["total"] >= 2
    for item in body["items"]:
        assert set(item) == EVENT_FIELDS
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
        assert item["outcome"] in {"success", "failure"}


async def test_audit_events_are_listed_newest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    ids = await add_events(
        app,
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
    )

    items = await actions_of(client, admin, "test.event")

    assert [item["id"] for item in items] == [ids[1], ids[2], ids[0]]


async def test_requests_are_listed_newest_first(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    await client.post("/api/v1/auth/logout", json={"refresh_token": account.refresh_token})

    body = await events(client, admin, actor_id=account.id)

    actions = [item["action"] for item in body["items"]]
    assert actions == ["auth.logout", "auth.login", "user.register"]
    stamps = [datetime.fromisoformat(item["created_at"]) for item in body["items"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_register_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    event = await only_event(client, admin, "user.register", actor_id=account.id)

    assert event["outcome"] == "success"
    assert event["target_type"] == "user"
    assert event["target_id"] == account.id
    assert event["ip"] == "127.0.0.1"


async def test_successful_login_is_recorded_with_client_details(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.post(
        "/api/v1/auth/login",
        json={"email": account.email, "password": PASSWORD},
        headers={"User-Agent": AGENT},
    )

    assert response.status_code == 200
    latest = (await actions_of(client, admin, "auth.login", actor_id=account.id))[0]
    assert latest["outcome"] == "success"
    assert latest["ip"] == "127.0.0.1"
    assert latest["user_agent"] == AGENT


async def test_login_with_wrong_password_is_recorded_as_failure(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "wrong password"}
    )

    assert_problem(response, 401, "invalid_credentials")
    failures = [
        item
        for item in await actions_of(client, admin, "auth.login", actor_id=account.id)
        if item["outcome"] == "failure"
    ]
    assert len(failures) == 1
    assert failures[0]["data"] == {"reason": "invalid_credentials"}


async def test_login_with_unknown_email_is_recorded_without_an_actor(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)

    response = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )

    assert_problem(response, 401, "invalid_credentials")
    failures = [
        item
        for item in await actions_of(client, admin, "auth.login")
        if item["outcome"] == "failure"
    ]
    assert len(failures) == 1
    assert failures[0]["actor_id"] is None
    assert failures[0]["data"] == {"reason": "invalid_credentials"}
    assert "nobody@example.com" not in str(failures[0])


async def test_login_to_a_deactivated_account_is_recorded_as_failure(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    deactivated = await client.patch(
        f"/api/v1/admin/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )
    assert deactivated.status_code == 200

    response = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )

    assert_problem(response, 403, "account_inactive")
    latest = (await actions_of(client, admin, "auth.login", actor_id=account.id))[0]
    assert latest["outcome"] == "failure"
    assert latest["data"] == {"reason": "account_inactive"}


async def test_logout_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": account.refresh_token}
    )

    assert response.status_code == 204
    event = await only_event(client, admin, "auth.logout", actor_id=account.id)
    assert event["outcome"] == "success"
    assert event["target_type"] == "session"


async def test_logout_all_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.post("/api/v1/auth/logout-all", headers=account.headers)

    assert response.status_code == 204
    event = await only_event(client, admin, "auth.logout_all", actor_id=account.id)
    assert event["target_id"] == account.id
    assert event["data"] == {"sessions_ended": 1}


async def test_password_change_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "another long one"},
        headers=account.headers,
    )

    assert response.status_code == 204
    event = await only_event(client, admin, "user.password_change", actor_id=account.id)
    assert event["outcome"] == "success"
    assert event["target_id"] == account.id


async def test_failed_password_change_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": "wrong password", "new_password": "another long one"},
        headers=account.headers,
    )

    assert_problem(response, 403, "invalid_password")
    event = await only_event(client, admin, "user.password_change", actor_id=account.id)
    assert event["outcome"] == "failure"
    assert event["data"] == {"reason": "invalid_password"}


async def test_account_deletion_is_recorded_and_survives_the_deletion(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=account.headers
    )

    assert response.status_code == 204
    event = await only_event(client, admin, "user.delete", actor_id=account.id)
    assert event["outcome"] == "success"
    assert event["target_id"] == account.id
    assert event["data"] == {"email": account.email}
    history = await events(client, admin, actor_id=account.id)
    assert {item["action"] for item in history["items"]} >= {"user.register", "auth.login"}


async def test_failed_account_deletion_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    response = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": "wrong password"}, headers=account.headers
    )

    assert_problem(response, 403, "invalid_password")
    event = await only_event(client, admin, "user.delete", actor_id=account.id)
    assert event["outcome"] == "failure"


async def test_admin_user_update_is_recorded_with_the_changes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client, name="Before")

    response = await client.patch(
        f"/api/v1/admin/users/{account.id}",
        json={"name": "After", "is_active": False},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    event = await only_event(client, admin, "admin.user_update", actor_id=admin.id)
    assert event["target_type"] == "user"
    assert event["target_id"] == account.id
    assert event["data"] == {"changes": {"name": "After", "is_active": False}}


async def test_admin_user_update_records_only_real_changes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client, name="Same")

    response = await client.patch(
        f"/api/v1/admin/users/{account.id}",
        json={"name": "Same", "is_admin": True},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    event = await only_event(client, admin, "admin.user_update", actor_id=admin.id)
    assert event["data"] == {"changes": {"is_admin": True}}


async def test_refresh_token_reuse_is_recorded(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200

    reused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
    )

    assert_problem(reused, 401, "refresh_token_reused")
    event = await only_event(client, admin, "auth.refresh_reuse", actor_id=account.id)
    assert event["outcome"] == "failure"
    assert event["target_type"] == "session"


async def test_filter_by_actor_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    await make_account(client)

    body = await events(client, admin, actor_id=account.id)

    assert body["total"] == 2
    assert {item["actor_id"] for item in body["items"]} == {account.id}


async def test_filter_by_action(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    await make_account(client)
    await make_account(client)

    body = await events(client, admin, action="user.register")

    assert body["total"] == 3
    assert {item["action"] for item in body["items"]} == {"user.register"}


async def test_filter_by_unknown_action_is_empty(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)

    body = await events(client, admin, action="no.such_action")

    assert body["items"] == []
    assert body["total"] == 0


async def test_since_includes_events_at_or_after_the_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    _, boundary, late = await add_events(
        app,
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )

    items = await actions_of(client, admin, "test.event", since="2024-02-01T00:00:00+00:00")

    assert [item["id"] for item in items] == [late, boundary]


async def test_until_excludes_events_at_or_after_the_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    early, _, _ = await add_events(
        app,
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )

    items = await actions_of(client, admin, "test.event", until="2024-02-01T00:00:00Z")

    assert [item["id"] for item in items] == [early]


async def test_since_and_until_together_select_a_window(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    _, inside, _ = await add_events(
        app,
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )

    items = await actions_of(
        client, admin, "test.event", since="2024-01-15T00:00:00Z", until="2024-02-15T00:00:00Z"
    )

    assert [item["id"] for item in items] == [inside]


async def test_time_filters_respect_the_offset(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    before, after = await add_events(
        app,
        datetime(2024, 1, 1, 9, 30, tzinfo=UTC),
        datetime(2024, 1, 1, 10, 30, tzinfo=UTC),
    )
    ten_utc_in_berlin = datetime(2024, 1, 1, 11, tzinfo=timezone(timedelta(hours=1)))

    items = await actions_of(client, admin, "test.event", since=ten_utc_in_berlin.isoformat())

    assert [item["id"] for item in items] == [after]
    assert before not in [item["id"] for item in items]


async def test_recent_events_fall_inside_a_window_around_now(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    now = datetime.now(UTC)
    await add_events(app, now - timedelta(days=30))

    body = await events(
        client,
        admin,
        since=(now - timedelta(days=1)).isoformat(),
        until=(now + timedelta(days=1)).isoformat(),
    )

    assert body["total"] >= 2
    assert "test.event" not in {item["action"] for item in body["items"]}


@pytest.mark.parametrize("field", ["since", "until"])
async def test_naive_datetime_filter_returns_422(
    app: FastAPI, client: httpx.AsyncClient, field: str
) -> None:
    admin = await make_admin(app, client)

    response = await client.get(
        EVENTS, params={field: "2024-01-01T00:00:00"}, headers=admin.headers
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"actor_id": "not-a-uuid"},
        {"action": "a" * 65},
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
    ],
)
async def test_invalid_filters_return_422(
    app: FastAPI, client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    admin = await make_admin(app, client)

    response = await client.get(EVENTS, params=params, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


async def test_audit_events_are_paginated(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    ids = await add_events(app, *(datetime(2024, 1, day, tzinfo=UTC) for day in range(1, 6)))
    newest_first = list(reversed(ids))

    pages = [
        await events(client, admin, action="test.event", limit=2, offset=offset)
        for offset in (0, 2, 4)
    ]

    assert [page["total"] for page in pages] == [5, 5, 5]
    assert [(page["limit"], page["offset"]) for page in pages] == [(2, 0), (2, 2), (2, 4)]
    assert [item["id"] for page in pages for item in page["items"]] == newest_first


async def test_non_admin_cannot_read_the_audit_log(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(EVENTS, headers=account.headers)

    assert_problem(response, 403, "admin_required")


async def test_anonymous_caller_cannot_read_the_audit_log(client: httpx.AsyncClient) -> None:
    response = await client.get(EVENTS)

    assert_problem(response, 401, "invalid_token")


async def test_unknown_actor_id_filter_is_empty(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)

    body = await events(client, admin, actor_id=str(uuid.uuid4()))

    assert body["items"] == []
    assert body["total"] == 0
