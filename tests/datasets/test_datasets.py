"""Reading, renaming and deleting datasets; isolation between users; API key scopes."""

import uuid

import httpx
import pytest
from fastapi import FastAPI

from colloquy.core.database import transaction
from colloquy.datasets import service as datasets
from colloquy.datasets.errors import DatasetInUse
from colloquy.datasets.models import Dataset
from tests.datasets.support import DATASETS, make_dataset, valid_file
from tests.datasets.test_upload import stored_files
from tests.keys.support import bearer, make_key
from tests.support import assert_problem, make_account


def url(dataset_id: str, *parts: str) -> str:
    return "/".join([DATASETS, dataset_id, *parts])


async def test_list_is_newest_first_and_paginated(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    made = [await make_dataset(client, account, name=f"set {index}") for index in range(3)]

    response = await client.get(DATASETS, params={"limit": 2}, headers=account.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [item["id"] for item in body["items"]] == [made[2]["id"], made[1]["id"]]
    second = await client.get(DATASETS, params={"limit": 2, "offset": 2}, headers=account.headers)
    assert [item["id"] for item in second.json()["items"]] == [made[0]["id"]]


async def test_get_returns_the_dataset(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)
    response = await client.get(url(made["id"]), headers=account.headers)
    assert response.status_code == 200
    assert response.json() == made


async def test_preview_shows_the_first_examples_parsed(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    content = b"\n" + valid_file(12)
    made = await make_dataset(client, account, content)

    response = await client.get(url(made["id"], "preview"), headers=account.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["limit"] == 5
    assert body["n_examples"] == 12
    assert [item["line"] for item in body["items"]] == [2, 3, 4, 5, 6]
    assert body["items"][0]["messages"][1] == {
        "role": "user",
        "content": "Question 0",
        "weight": None,
    }

    more = await client.get(
        url(made["id"], "preview"), params={"limit": 50}, headers=account.headers
    )
    assert len(more.json()["items"]) == 12


@pytest.mark.parametrize("limit", [0, 51])
async def test_preview_limit_is_1_to_50(client: httpx.AsyncClient, limit: int) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)
    response = await client.get(
        url(made["id"], "preview"), params={"limit": limit}, headers=account.headers
    )
    assert_problem(response, 422, "validation_error")


async def test_content_streams_the_file_back(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    content = valid_file(11)
    made = await make_dataset(client, account, content, filename="données d'été.jsonl")

    response = await client.get(url(made["id"], "content"), headers=account.headers)
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"].startswith("application/jsonl")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="donn_es d\'_t_.jsonl"')
    assert "filename*=UTF-8''donn%C3%A9es%20d%27%C3%A9t%C3%A9.jsonl" in disposition


async def test_patch_changes_name_and_description(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)

    response = await client.patch(
        url(made["id"]), json={"description": "Cleaned"}, headers=account.headers
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Cleaned"
    assert response.json()["name"] == made["name"]
    renamed = await client.patch(url(made["id"]), json={"name": "v2"}, headers=account.headers)
    assert renamed.json()["name"] == "v2"


@pytest.mark.parametrize(
    "body", [{"name": None}, {"name": ""}, {"sha256": "0" * 64}, {"name": "x" * 201}]
)
async def test_patch_refuses_bad_fields(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)
    assert_problem(
        await client.patch(url(made["id"]), json=body, headers=account.headers),
        422,
        "validation_error",
    )


async def test_delete_removes_the_row_and_the_file(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)

    response = await client.delete(url(made["id"]), headers=account.headers)
    assert response.status_code == 204
    assert_problem(await client.get(url(made["id"]), headers=account.headers), 404)
    assert stored_files(app) == []


async def test_shared_content_is_stored_once_and_kept_until_its_last_dataset_goes(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first_owner = await make_account(client)
    second_owner = await make_account(client)
    content = valid_file(10)
    first = await make_dataset(client, first_owner, content)
    second = await make_dataset(client, second_owner, content)
    assert first["sha256"] == second["sha256"]
    assert len(stored_files(app)) == 1

    await client.delete(url(first["id"]), headers=first_owner.headers)
    assert len(stored_files(app)) == 1
    kept = await client.get(url(second["id"], "content"), headers=second_owner.headers)
    assert kept.content == content

    await client.delete(url(second["id"]), headers=second_owner.headers)
    assert stored_files(app) == []


async def test_a_registered_check_can_refuse_a_deletion(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)
    seen: list[uuid.UUID] = []

    async def in_use(session: object, dataset: Dataset) -> None:
        seen.append(dataset.id)
        raise DatasetInUse

    monkeypatch.setattr(datasets, "_delete_checks", [])
    datasets.register_delete_check(in_use)

    assert_problem(await client.delete(url(made["id"]), headers=account.headers), 409)
    assert seen == [uuid.UUID(made["id"])]
    assert (await client.get(url(made["id"]), headers=account.headers)).status_code == 200
    assert len(stored_files(app)) == 1


async def test_missing_file_is_a_clear_error(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)
    for path in stored_files(app):
        path.unlink()
    assert_problem(
        await client.get(url(made["id"], "content"), headers=account.headers),
        500,
        "dataset_file_missing",
    )


async def test_without_authentication_every_route_is_401(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    made = await make_dataset(client, account)
    for method, path in [
        ("GET", DATASETS),
        ("GET", url(made["id"])),
        ("GET", url(made["id"], "preview")),
        ("GET", url(made["id"], "content")),
        ("PATCH", url(made["id"])),
        ("DELETE", url(made["id"])),
    ]:
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert_problem(response, 401)


async def test_another_users_dataset_is_404_everywhere(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    made = await make_dataset(client, owner)

    for method, path in [
        ("GET", url(made["id"])),
        ("GET", url(made["id"], "preview")),
        ("GET", url(made["id"], "content")),
        ("PATCH", url(made["id"])),
        ("DELETE", url(made["id"])),
    ]:
        body = {"name": "mine"} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=other.headers)
        assert_problem(response, 404, "dataset_not_found")
    assert (await client.get(DATASETS, headers=other.headers)).json()["total"] == 0
    assert len(stored_files(app)) == 1
    async with transaction(app.state.database, write=False) as session:
        assert await session.get(Dataset, uuid.UUID(made["id"])) is not None


async def test_read_key_reads_but_cannot_upload_or_change(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    made = await make_dataset(client, owner)
    key = (await make_key(client, owner, scopes=["read"]))["key"]

    assert (await client.get(DATASETS, headers=bearer(key))).status_code == 200
    assert (await client.get(url(made["id"], "content"), headers=bearer(key))).status_code == 200
    response = await client.post(
        DATASETS,
        data={"name": "x"},
        files={"file": ("a.jsonl", valid_file(), "application/jsonl")},
        headers=bearer(key),
    )
    assert_problem(response, 403, "insufficient_scope")
    patched = await client.patch(url(made["id"]), json={"name": "y"}, headers=bearer(key))
    assert_problem(patched, 403, "insufficient_scope")
    assert_problem(await client.delete(url(made["id"]), headers=bearer(key)), 403)


async def test_write_key_uploads(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    key = (await make_key(client, owner, scopes=["read", "write"]))["key"]
    response = await client.post(
        DATASETS,
        data={"name": "by key"},
        files={"file": ("a.jsonl", valid_file(), "application/jsonl")},
        headers=bearer(key),
    )
    assert response.status_code == 201, response.text
    listed = await client.get(DATASETS, headers=owner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [response.json()["id"]]
