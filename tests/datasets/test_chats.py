"""Chats may name one of the caller's datasets."""

import httpx

from tests.chats.support import CHATS, chat_url, get_chat, make_chat
from tests.datasets.support import DATASETS, make_dataset
from tests.support import assert_problem, make_account


async def test_chat_created_with_own_dataset_shows_it(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    dataset = await make_dataset(client, account)
    chat = await make_chat(client, account, dataset_id=dataset["id"])
    assert chat["dataset_id"] == dataset["id"]
    assert (await get_chat(client, account, chat["id"]))["dataset_id"] == dataset["id"]


async def test_chat_without_dataset_has_null(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)
    assert chat["dataset_id"] is None


async def test_another_users_dataset_is_404(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    dataset = await make_dataset(client, owner)

    created = await client.post(CHATS, json={"dataset_id": dataset["id"]}, headers=other.headers)
    assert_problem(created, 404, "dataset_not_found")
    chat = await make_chat(client, other)
    updated = await client.patch(
        chat_url(chat["id"]), json={"dataset_id": dataset["id"]}, headers=other.headers
    )
    assert_problem(updated, 404, "dataset_not_found")


async def test_update_sets_and_clears_the_dataset(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    dataset = await make_dataset(client, account)
    chat = await make_chat(client, account)

    updated = await client.patch(
        chat_url(chat["id"]), json={"dataset_id": dataset["id"]}, headers=account.headers
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["dataset_id"] == dataset["id"]
    cleared = await client.patch(
        chat_url(chat["id"]), json={"dataset_id": None}, headers=account.headers
    )
    assert cleared.json()["dataset_id"] is None


async def test_deleting_the_dataset_leaves_the_chat_without_one(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    dataset = await make_dataset(client, account)
    chat = await make_chat(client, account, dataset_id=dataset["id"])

    deleted = await client.delete(f"{DATASETS}/{dataset['id']}", headers=account.headers)
    assert deleted.status_code == 204
    assert (await get_chat(client, account, chat["id"]))["dataset_id"] is None
