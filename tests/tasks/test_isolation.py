"""Another user's tasks and projects are invisible: every attempt reads as a 404."""

import httpx
import pytest

from tests.support import Account, assert_problem, make_account
from tests.tasks.support import TASKS, list_tasks, make_project, make_task, task_url


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Account:
    return await make_account(client, name="Alice")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Account:
    return await make_account(client, name="Bob")


async def test_another_users_task_is_404_everywhere(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    task = await make_task(client, alice, title="Alice's")
    url = task_url(task["id"])

    for response in (
        await client.get(url, headers=bob.headers),
        await client.put(url, json={"title": "Mine"}, headers=bob.headers),
        await client.patch(url, json={"title": "Mine"}, headers=bob.headers),
        await client.patch(task_url(task["id"], "complete"), headers=bob.headers),
        await client.post(task_url(task["id"], "restore"), headers=bob.headers),
        await client.delete(url, headers=bob.headers),
    ):
        assert_problem(response, 404, "task_not_found")

    unchanged = await client.get(url, headers=alice.headers)
    assert unchanged.json() == task


async def test_another_users_deleted_task_cannot_be_restored(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    task = await make_task(client, alice)
    await client.delete(task_url(task["id"]), headers=alice.headers)

    response = await client.post(task_url(task["id"], "restore"), headers=bob.headers)

    assert_problem(response, 404, "task_not_found")
    assert (await list_tasks(client, alice, deleted="true"))["total"] == 1


async def test_lists_show_only_your_own_tasks(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await make_task(client, alice, title="Alice's")
    gone = await make_task(client, alice, title="Alice's deleted")
    await client.delete(task_url(gone["id"]), headers=alice.headers)
    await make_task(client, bob, title="Bob's")

    assert [item["title"] for item in (await list_tasks(client, bob))["items"]] == ["Bob's"]
    assert (await list_tasks(client, bob, deleted="true"))["total"] == 0
    assert (await list_tasks(client, bob, q="Alice"))["total"] == 0


async def test_no_task_goes_into_another_users_project(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    project = await make_project(client, alice)
    own = await make_task(client, bob)

    for response in (
        await client.post(
            TASKS, json={"title": "x", "project_id": project["id"]}, headers=bob.headers
        ),
        await client.put(
            task_url(own["id"]),
            json={"title": "x", "project_id": project["id"]},
            headers=bob.headers,
        ),
        await client.patch(
            task_url(own["id"]), json={"project_id": project["id"]}, headers=bob.headers
        ),
        await client.get(TASKS, params={"project_id": project["id"]}, headers=bob.headers),
    ):
        assert_problem(response, 404, "project_not_found")

    assert (await client.get(task_url(own["id"]), headers=bob.headers)).json() == own
    assert (await list_tasks(client, bob))["total"] == 1
