"""A task's life after creation: completing, reopening, deleting softly and restoring."""

import uuid

import httpx

from tests.support import assert_problem, make_account
from tests.tasks.support import list_tasks, make_task, parse_time, task_url, titles


async def test_complete_stamps_completed_at(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)

    response = await client.patch(task_url(task["id"], "complete"), headers=account.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert parse_time(body["completed_at"]) >= parse_time(task["created_at"])


async def test_completing_twice_keeps_the_first_completed_at(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)
    first = (await client.patch(task_url(task["id"], "complete"), headers=account.headers)).json()

    again = await client.patch(task_url(task["id"], "complete"), headers=account.headers)
    via_patch = await client.patch(
        task_url(task["id"]), json={"status": "completed"}, headers=account.headers
    )
    via_put = await client.put(
        task_url(task["id"]),
        json={"title": task["title"], "status": "completed"},
        headers=account.headers,
    )

    for response in (again, via_patch, via_put):
        assert response.status_code == 200, response.text
        assert response.json()["completed_at"] == first["completed_at"]
    assert again.json()["updated_at"] == first["updated_at"]


async def test_patch_to_completed_stamps_and_reopening_clears(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)

    completed = await client.patch(
        task_url(task["id"]), json={"status": "completed"}, headers=account.headers
    )
    reopened = await client.patch(
        task_url(task["id"]), json={"status": "in_progress"}, headers=account.headers
    )

    assert completed.json()["completed_at"] is not None
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "in_progress"
    assert reopened.json()["completed_at"] is None


async def test_put_leaving_completed_clears_completed_at(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account, status="completed")

    response = await client.put(
        task_url(task["id"]), json={"title": "Again"}, headers=account.headers
    )

    assert response.json()["status"] == "pending"
    assert response.json()["completed_at"] is None


async def test_recompleting_after_reopen_stamps_a_new_time(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account, status="completed")
    await client.patch(task_url(task["id"]), json={"status": "pending"}, headers=account.headers)

    response = await client.patch(task_url(task["id"], "complete"), headers=account.headers)

    assert parse_time(response.json()["completed_at"]) > parse_time(task["completed_at"])


async def test_delete_hides_the_task(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)
    url = task_url(task["id"])

    response = await client.delete(url, headers=account.headers)

    assert response.status_code == 204
    assert response.content == b""
    for attempt in (
        client.get(url, headers=account.headers),
        client.patch(url, json={"title": "x"}, headers=account.headers),
        client.put(url, json={"title": "x"}, headers=account.headers),
        client.delete(url, headers=account.headers),
        client.patch(task_url(task["id"], "complete"), headers=account.headers),
    ):
        assert_problem(await attempt, 404, "task_not_found")
    assert (await list_tasks(client, account))["total"] == 0


async def test_deleted_tasks_are_listed_on_request(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_task(client, account, title="Live")
    gone = await make_task(client, account, title="Gone")
    await client.delete(task_url(gone["id"]), headers=account.headers)

    live = await list_tasks(client, account)
    deleted = await list_tasks(client, account, deleted="true")

    assert titles(live) == ["Live"]
    assert titles(deleted) == ["Gone"]
    assert deleted["total"] == 1
    assert deleted["items"][0]["deleted_at"] is not None


async def test_restore_brings_a_deleted_task_back(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account, status="completed")
    await client.delete(task_url(task["id"]), headers=account.headers)

    response = await client.post(task_url(task["id"], "restore"), headers=account.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deleted_at"] is None
    assert body["status"] == "completed"
    assert body["completed_at"] == task["completed_at"]
    fetched = await client.get(task_url(task["id"]), headers=account.headers)
    assert fetched.status_code == 200
    assert titles(await list_tasks(client, account)) == [task["title"]]
    assert (await list_tasks(client, account, deleted="true"))["total"] == 0


async def test_restoring_a_live_task_changes_nothing(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)

    response = await client.post(task_url(task["id"], "restore"), headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json() == task


async def test_restoring_a_missing_task_is_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.post(task_url(str(uuid.uuid4()), "restore"), headers=account.headers)

    assert_problem(response, 404, "task_not_found")
