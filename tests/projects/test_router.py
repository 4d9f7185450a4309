import uuid
from typing import Any

import httpx

from tests.support import Account, assert_problem, make_account

PROJECTS = "/api/v1/projects"


async def make_project(client: httpx.AsyncClient, owner: Account, **fields: Any) -> dict[str, Any]:
    body = {"name": "Project", **fields}
    response = await client.post(PROJECTS, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def test_create_returns_the_project(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.post(
        PROJECTS, json={"name": "  Launch  ", "description": "Q3"}, headers=owner.headers
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Launch"
    assert body["description"] == "Q3"
    assert set(body) == {"id", "name", "description", "created_at", "updated_at"}


async def test_get_includes_zero_counts(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    project = await make_project(client, owner)
    response = await client.get(f"{PROJECTS}/{project['id']}", headers=owner.headers)
    assert response.status_code == 200
    assert response.json()["counts"] == {
        "agents": 0,
        "chats": 0,
        "tasks": {"pending": 0, "in_progress": 0, "completed": 0},
    }


async def test_create_rejects_bad_names(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for name in ("", "   ", "x" * 101):
        response = await client.post(PROJECTS, json={"name": name}, headers=owner.headers)
        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "name"]


async def test_create_rejects_unknown_fields(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.post(
        PROJECTS, json={"name": "P", "owner_id": str(uuid.uuid4())}, headers=owner.headers
    )
    assert_problem(response, 422, "validation_error")


async def test_create_needs_authentication(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(PROJECTS, json={"name": "P"}), 401, "invalid_token")


async def test_list_pages_and_counts_the_total(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for index in range(3):
        await make_project(client, owner, name=f"P{index}")
    first = (await client.get(PROJECTS, params={"limit": 2}, headers=owner.headers)).json()
    rest = (
        await client.get(PROJECTS, params={"limit": 2, "offset": 2}, headers=owner.headers)
    ).json()
    assert (first["total"], len(first["items"]), first["limit"], first["offset"]) == (3, 2, 2, 0)
    assert (rest["total"], len(rest["items"])) == (3, 1)


async def test_list_defaults_to_newest_first(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for name in ("first", "second", "third"):
        await make_project(client, owner, name=name)
    items = (await client.get(PROJECTS, headers=owner.headers)).json()["items"]
    assert [item["name"] for item in items] == ["third", "second", "first"]


async def test_list_sorts_by_name_both_ways(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for name in ("b", "c", "a"):
        await make_project(client, owner, name=name)
    ascending = await client.get(PROJECTS, params={"sort": "name"}, headers=owner.headers)
    descending = await client.get(PROJECTS, params={"sort": "-name"}, headers=owner.headers)
    assert [item["name"] for item in ascending.json()["items"]] == ["a", "b", "c"]
    assert [item["name"] for item in descending.json()["items"]] == ["c", "b", "a"]


async def test_list_rejects_an_unknown_sort_key(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.get(PROJECTS, params={"sort": "owner_id"}, headers=owner.headers)
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["query", "sort"]


async def test_list_searches_name_and_description_literally(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    await make_project(client, owner, name="Alpha")
    await make_project(client, owner, name="Beta", description="about ALPHA too")
    await make_project(client, owner, name="100% done")
    await make_project(client, owner, name="Gamma")
    alpha = await client.get(PROJECTS, params={"q": "alpha"}, headers=owner.headers)
    percent = await client.get(PROJECTS, params={"q": "%"}, headers=owner.headers)
    assert {item["name"] for item in alpha.json()["items"]} == {"Alpha", "Beta"}
    assert [item["name"] for item in percent.json()["items"]] == ["100% done"]


async def test_list_rejects_limits_out_of_range(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for limit in (0, 101):
        response = await client.get(PROJECTS, params={"limit": limit}, headers=owner.headers)
        assert_problem(response, 422, "validation_error")


async def test_put_replaces_every_field(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    project = await make_project(client, owner, description="old")
    response = await client.put(
        f"{PROJECTS}/{project['id']}", json={"name": "Renamed"}, headers=owner.headers
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "")


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    project = await make_project(client, owner, description="kept")
    response = await client.patch(
        f"{PROJECTS}/{project['id']}", json={"name": "New"}, headers=owner.headers
    )
    assert (response.json()["name"], response.json()["description"]) == ("New", "kept")


async def test_patch_refuses_null_naming_the_field(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    project = await make_project(client, owner)
    response = await client.patch(
        f"{PROJECTS}/{project['id']}", json={"name": None}, headers=owner.headers
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "name"]


async def test_delete_removes_the_project(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    project = await make_project(client, owner)
    deleted = await client.delete(f"{PROJECTS}/{project['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    again = await client.get(f"{PROJECTS}/{project['id']}", headers=owner.headers)
    assert_problem(again, 404, "project_not_found")


async def test_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.get(f"{PROJECTS}/not-a-uuid", headers=owner.headers)
    assert_problem(response, 422, "validation_error")


async def test_another_users_project_is_404_everywhere(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    stranger = await make_account(client)
    project = await make_project(client, owner)
    url = f"{PROJECTS}/{project['id']}"
    attempts = [
        await client.get(url, headers=stranger.headers),
        await client.put(url, json={"name": "x"}, headers=stranger.headers),
        await client.patch(url, json={"name": "x"}, headers=stranger.headers),
        await client.delete(url, headers=stranger.headers),
    ]
    for response in attempts:
        assert_problem(response, 404, "project_not_found")
    listed = (await client.get(PROJECTS, headers=stranger.headers)).json()
    assert listed["total"] == 0
    still_there = await client.get(url, headers=owner.headers)
    assert still_there.json()["name"] == "Project"


async def test_nul_characters_are_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.post(PROJECTS, json={"name": "a\x00b"}, headers=owner.headers)
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "name"]


async def test_a_nul_in_a_search_is_a_client_error(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    await make_project(client, owner)
    response = await client.get(PROJECTS, params={"q": "a\x00b"}, headers=owner.headers)
    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert_problem(response, 400, "invalid_value")
