"""Creating, reading, replacing and updating tasks; validation; tasks inside projects."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support import assert_problem, make_account
from tests.tasks.support import (
    PROJECTS,
    TASKS,
    list_tasks,
    make_project,
    make_task,
    parse_time,
    task_url,
    titles,
)

TASK_FIELDS = {
    "id",
    "project_id",
    "title",
    "description",
    "status",
    "priority",
    "due_at",
    "completed_at",
    "deleted_at",
    "created_at",
    "updated_at",
}


async def test_create_task_returns_201_with_defaults(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(TASKS, json={"title": "Buy milk"}, headers=account.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert uuid.UUID(body["id"])
    assert body["title"] == "Buy milk"
    assert body["description"] == ""
    assert body["status"] == "pending"
    assert body["priority"] == "medium"
    for field in ("due_at", "completed_at", "deleted_at", "project_id"):
        assert body[field] is None, field
    assert body["updated_at"] == body["created_at"]


async def test_create_task_stores_every_field(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    fields = {
        "title": "  Ship it  ",
        "description": "All of it.",
        "status": "in_progress",
        "priority": "high",
        "due_at": "2031-05-01T12:00:00+02:00",
        "project_id": project["id"],
    }

    created = await make_task(client, account, **fields)

    fetched = (await client.get(task_url(created["id"]), headers=account.headers)).json()
    assert fetched == created
    assert fetched["title"] == "Ship it"
    assert fetched["description"] == "All of it."
    assert fetched["status"] == "in_progress"
    assert fetched["priority"] == "high"
    assert fetched["project_id"] == project["id"]
    assert parse_time(fetched["due_at"]) == datetime(2031, 5, 1, 10, 0, tzinfo=UTC)
    assert fetched["completed_at"] is None


async def test_creating_a_completed_task_stamps_completed_at(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    task = await make_task(client, account, status="completed")

    assert task["completed_at"] is not None
    assert task["completed_at"] == task["created_at"]


async def test_get_missing_task_is_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(task_url(str(uuid.uuid4())), headers=account.headers)

    assert_problem(response, 404, "task_not_found")


async def test_tasks_require_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(TASKS)

    assert_problem(response, 401)


async def test_replace_task_resets_omitted_fields(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    task = await make_task(
        client,
        account,
        description="Old",
        priority="high",
        due_at="2030-01-01T00:00:00Z",
        project_id=project["id"],
    )

    response = await client.put(
        task_url(task["id"]), json={"title": "Renamed"}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Renamed"
    assert body["description"] == ""
    assert body["priority"] == "medium"
    assert body["status"] == "pending"
    assert body["due_at"] is None
    assert body["project_id"] is None
    assert body["created_at"] == task["created_at"]
    assert parse_time(body["updated_at"]) > parse_time(task["updated_at"])


async def test_replace_requires_a_title(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)

    response = await client.put(
        task_url(task["id"]), json={"description": "x"}, headers=account.headers
    )

    assert_problem(response, 422, "validation_error")


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account, description="Keep me", priority="low")

    response = await client.patch(
        task_url(task["id"]), json={"title": "New title"}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "New title"
    assert body["description"] == "Keep me"
    assert body["priority"] == "low"
    assert body["status"] == "pending"


async def test_patch_null_clears_due_at_and_project(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    task = await make_task(client, account, due_at="2030-01-01T00:00:00Z", project_id=project["id"])

    response = await client.patch(
        task_url(task["id"]), json={"due_at": None, "project_id": None}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["due_at"] is None
    assert response.json()["project_id"] is None


async def test_patch_moves_a_task_into_a_project(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    task = await make_task(client, account)

    response = await client.patch(
        task_url(task["id"]), json={"project_id": project["id"]}, headers=account.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["project_id"] == project["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": None},
        {"description": None},
        {"status": None},
        {"priority": None},
        {"title": ""},
        {"status": "done"},
        {"owner_id": str(uuid.uuid4())},
        {"completed_at": "2030-01-01T00:00:00Z"},
        {"due_at": "2030-01-01T00:00:00"},
    ],
)
async def test_patch_rejects_invalid_bodies(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    account = await make_account(client)
    task = await make_task(client, account)

    response = await client.patch(task_url(task["id"]), json=body, headers=account.headers)

    assert_problem(response, 422, "validation_error")
    unchanged = (await client.get(task_url(task["id"]), headers=account.headers)).json()
    assert unchanged == task


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "ok", "description": "x" * 10_001},
        {"title": "ok", "status": "done"},
        {"title": "ok", "status": "PENDING"},
        {"title": "ok", "priority": "urgent"},
        {"title": "ok", "due_at": "2030-01-01T12:00:00"},
        {"title": "ok", "due_at": "next tuesday"},
        {"title": "ok", "project_id": "not-a-uuid"},
        {"title": "ok", "owner_id": str(uuid.uuid4())},
        {"title": "ok", "completed_at": "2030-01-01T00:00:00Z"},
        {"title": "ok", "deleted_at": None},
    ],
)
async def test_create_rejects_invalid_bodies(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    account = await make_account(client)

    response = await client.post(TASKS, json=body, headers=account.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]
    assert (await list_tasks(client, account))["total"] == 0


async def test_longest_title_and_description_are_accepted(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    task = await make_task(client, account, title="x" * 200, description="y" * 10_000)

    assert len(task["title"]) == 200
    assert len(task["description"]) == 10_000


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PUT", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("PATCH", "/complete"),
        ("POST", "/restore"),
    ],
)
async def test_malformed_task_id_is_422(
    client: httpx.AsyncClient, method: str, suffix: str
) -> None:
    account = await make_account(client)
    body = {"title": "x"} if method in {"PUT", "PATCH"} and not suffix else None

    response = await client.request(
        method, f"{TASKS}/not-a-uuid{suffix}", json=body, headers=account.headers
    )

    assert_problem(response, 422, "validation_error")


async def test_unknown_project_is_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(
        TASKS, json={"title": "x", "project_id": str(uuid.uuid4())}, headers=account.headers
    )

    assert_problem(response, 404, "project_not_found")


async def test_deleting_a_project_deletes_its_tasks_for_good(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    live = await make_task(client, account, title="In project", project_id=project["id"])
    deleted = await make_task(client, account, title="Deleted", project_id=project["id"])
    await client.delete(task_url(deleted["id"]), headers=account.headers)
    await make_task(client, account, title="Elsewhere")

    response = await client.delete(f"{PROJECTS}/{project['id']}", headers=account.headers)

    assert response.status_code == 204
    assert titles(await list_tasks(client, account)) == ["Elsewhere"]
    assert (await list_tasks(client, account, deleted="true"))["total"] == 0
    for task in (live, deleted):
        restored = await client.post(task_url(task["id"], "restore"), headers=account.headers)
        assert_problem(restored, 404, "task_not_found")


async def test_project_counts_live_tasks_by_status(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    for status in ("pending", "pending", "in_progress", "completed"):
        await make_task(client, account, status=status, project_id=project["id"])
    deleted = await make_task(client, account, status="pending", project_id=project["id"])
    await client.delete(task_url(deleted["id"]), headers=account.headers)
    moved = await make_task(client, account, status="in_progress")
    await client.patch(
        task_url(moved["id"]), json={"project_id": project["id"]}, headers=account.headers
    )
    completed = await make_task(client, account, project_id=project["id"])
    await client.patch(task_url(completed["id"], "complete"), headers=account.headers)

    response = await client.get(f"{PROJECTS}/{project['id']}", headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["counts"]["tasks"] == {
        "pending": 2,
        "in_progress": 2,
        "completed": 2,
    }
