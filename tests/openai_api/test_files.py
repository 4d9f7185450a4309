"""/v1/files through OpenAI's SDK: a fine-tuning file is a dataset, validated as it arrives."""

import uuid
from typing import Any

import anyio.to_thread
import httpx
import openai
import pytest
from fastapi import FastAPI

from tests.datasets.support import DATASETS, example, jsonl, valid_file
from tests.keys.support import make_key
from tests.openai_api.support import open_sdk
from tests.support import Account, make_account


async def test_an_uploaded_file_is_a_dataset(
    writer: openai.AsyncOpenAI, client: httpx.AsyncClient, account: Account
) -> None:
    content = valid_file(12)

    created = await writer.files.create(file=("train.jsonl", content), purpose="fine-tune")

    assert created.object == "file"
    assert created.id.startswith("file-")
    assert created.purpose == "fine-tune"
    assert created.status == "processed"
    assert created.bytes == len(content)
    assert created.filename == "train.jsonl"
    assert created.created_at > 0
    dataset_id = uuid.UUID(created.id.removeprefix("file-"))
    dataset = (await client.get(f"{DATASETS}/{dataset_id}", headers=account.headers)).json()
    assert dataset["name"] == "train.jsonl"
    assert dataset["n_examples"] == 12


async def test_list_retrieve_content_and_delete(app: FastAPI, sync_writer: openai.OpenAI) -> None:
    def run() -> dict[str, Any]:
        first = sync_writer.files.create(file=("a.jsonl", valid_file(tag="a")), purpose="fine-tune")
        second = sync_writer.files.create(
            file=("b.jsonl", valid_file(tag="b")), purpose="fine-tune"
        )
        listed = sync_writer.files.list()
        page = sync_writer.files.list(limit=1)
        following = sync_writer.files.list(limit=1, after=page.data[0].id)
        oldest_first = sync_writer.files.list(order="asc")
        other_purpose = sync_writer.files.list(purpose="assistants")
        retrieved = sync_writer.files.retrieve(first.id)
        content = sync_writer.files.content(first.id).read()
        deleted = sync_writer.files.delete(first.id)
        after_delete = sync_writer.files.list()
        return locals()

    seen = await anyio.to_thread.run_sync(run)

    first, second = seen["first"], seen["second"]
    assert [item.id for item in seen["listed"].data] == [second.id, first.id]
    assert seen["listed"].has_more is False
    assert [item.id for item in seen["page"].data] == [second.id]
    assert seen["page"].has_more is True
    assert [item.id for item in seen["following"].data] == [first.id]
    assert seen["following"].has_more is False
    assert [item.id for item in seen["oldest_first"].data] == [first.id, second.id]
    assert seen["other_purpose"].data == []
    assert seen["retrieved"].id == first.id
    assert seen["retrieved"].filename == "a.jsonl"
    assert seen["content"] == valid_file(tag="a")
    assert seen["deleted"].id == first.id
    assert seen["deleted"].deleted is True
    assert [item.id for item in seen["after_delete"].data] == [second.id]


async def test_our_own_ids_are_accepted_as_well(writer: openai.AsyncOpenAI) -> None:
    created = await writer.files.create(file=("t.jsonl", valid_file()), purpose="fine-tune")

    bare = created.id.removeprefix("file-")
    assert (await writer.files.retrieve(bare)).id == created.id
    assert (await writer.files.retrieve(str(uuid.UUID(bare)))).id == created.id


async def test_a_purpose_other_than_fine_tune_is_refused(writer: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await writer.files.create(file=("t.jsonl", valid_file()), purpose="assistants")

    assert caught.value.status_code == 400
    assert caught.value.param == "purpose"
    assert caught.value.type == "invalid_request_error"
    assert (await writer.files.list()).data == []


async def test_an_invalid_file_is_refused_naming_its_lines(writer: openai.AsyncOpenAI) -> None:
    lines = jsonl([example(f"q{index}") for index in range(12)]).splitlines(keepends=True)
    lines[1] = b'{"messages": [{"role": "user", "content": "no reply"}]}\n'
    lines[4] = b"not json\n"

    with pytest.raises(openai.BadRequestError) as caught:
        await writer.files.create(file=("bad.jsonl", b"".join(lines)), purpose="fine-tune")

    message = caught.value.message
    assert "2 problem(s)" in message
    assert "line 2:" in message
    assert "line 5:" in message
    assert caught.value.code == "invalid_dataset"
    assert (await writer.files.list()).data == []


@pytest.mark.parametrize("file_id", ["file-nope", f"file-{uuid.UUID(int=1).hex}"])
async def test_an_unknown_file_is_not_found(writer: openai.AsyncOpenAI, file_id: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await writer.files.retrieve(file_id)

    assert caught.value.code == "file_not_found"
    assert caught.value.type == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        await writer.files.delete(file_id)


async def test_another_users_file_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, writer: openai.AsyncOpenAI
) -> None:
    created = await writer.files.create(file=("t.jsonl", valid_file()), purpose="fine-tune")
    other = await make_account(client)

    async with open_sdk(app, other.access_token) as stranger:
        with pytest.raises(openai.NotFoundError) as caught:
            await stranger.files.retrieve(created.id)
        with pytest.raises(openai.NotFoundError):
            await stranger.files.content(created.id)
        with pytest.raises(openai.NotFoundError):
            await stranger.files.delete(created.id)
        assert (await stranger.files.list()).data == []

    assert caught.value.code == "file_not_found"
    assert (await writer.files.retrieve(created.id)).id == created.id


async def test_a_key_needs_write_to_upload_and_delete_and_read_to_list(
    app: FastAPI, client: httpx.AsyncClient, account: Account, writer: openai.AsyncOpenAI
) -> None:
    created = await writer.files.create(file=("t.jsonl", valid_file()), purpose="fine-tune")
    read_only = (await make_key(client, account, scopes=["read", "inference"]))["key"]
    inference_only = (await make_key(client, account, scopes=["inference"]))["key"]

    async with open_sdk(app, read_only) as reader:
        assert [item.id for item in (await reader.files.list()).data] == [created.id]
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await reader.files.create(file=("t.jsonl", valid_file()), purpose="fine-tune")
        with pytest.raises(openai.PermissionDeniedError):
            await reader.files.delete(created.id)
    async with open_sdk(app, inference_only) as caller:
        with pytest.raises(openai.PermissionDeniedError):
            await caller.files.list()

    assert caught.value.type == "permission_error"
    assert caught.value.code == "insufficient_scope"


async def test_an_access_token_works_too(app: FastAPI, account: Account) -> None:
    async with open_sdk(app, account.access_token) as sdk:
        created = await sdk.files.create(file=("t.jsonl", valid_file()), purpose="fine-tune")
        assert (await sdk.files.retrieve(created.id)).bytes == created.bytes
