"""Uploading a dataset: streamed, hashed, validated; an invalid or oversized file leaves nothing."""

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.datasets.support import DATASETS, example, make_dataset, upload, valid_file
from tests.support import assert_problem, make_account

READ_FIELDS = {
    "id",
    "name",
    "description",
    "filename",
    "bytes",
    "sha256",
    "n_examples",
    "n_messages",
    "total_tokens",
    "max_example_tokens",
    "created_at",
    "updated_at",
}


def stored_files(app: FastAPI) -> list[Path]:
    root: Path = app.state.dataset_storage.root
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def assert_nothing_kept(client: httpx.AsyncClient, app: FastAPI, headers: Any) -> None:
    listed = await client.get(DATASETS, headers=headers)
    assert listed.json()["total"] == 0
    assert stored_files(app) == []


async def test_upload_returns_201_with_the_counts_and_stores_the_file(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    content = valid_file(12)
    response = await upload(client, account, content, description="From the help desk")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == READ_FIELDS
    assert body["name"] == "Support replies"
    assert body["description"] == "From the help desk"
    assert body["filename"] == "train.jsonl"
    assert body["bytes"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["n_examples"] == 12
    assert body["n_messages"] == 36
    assert 0 < body["max_example_tokens"] < body["total_tokens"]
    files = stored_files(app)
    assert [path.name for path in files] == [body["sha256"]]
    assert files[0].read_bytes() == content


async def test_bom_crlf_blank_lines_and_weights_are_accepted(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    weighted = example()
    weighted["messages"].append({"role": "user", "content": "Again?"})
    weighted["messages"].append({"role": "assistant", "content": "Sure.", "weight": 0})
    lines = [json.dumps(item).encode() for item in [weighted] * 10]
    content = b"\xef\xbb\xbf" + b"\r\n\r\n".join(lines) + b"\r\n   \r\n"
    body = await make_dataset(client, account, content)
    assert body["n_examples"] == 10
    assert body["n_messages"] == 50


def _with_bad_line(bad: bytes) -> bytes:
    """Three good examples, the bad line (line 4), then ten more good ones."""
    return valid_file(3, tag="a") + bad + b"\n" + valid_file(10, tag="b")


def _messages(*messages: Any) -> bytes:
    return json.dumps({"messages": list(messages)}).encode()


USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}

BROKEN_LINES = {
    "not JSON": (b'{"messages": [', "not valid JSON"),
    "not an object": (b"[1, 2]", "must be a JSON object"),
    "missing messages": (b'{"prompt": "Hi"}', "unknown key 'prompt'"),
    "empty object": (b"{}", "missing 'messages'"),
    "messages not a list": (b'{"messages": "Hi"}', "'messages' must be a non-empty list"),
    "no messages": (b'{"messages": []}', "'messages' must be a non-empty list"),
    "no assistant": (_messages(USER), "at least one assistant message"),
    "no user": (_messages(ASSISTANT), "at least one user message"),
    "empty content": (
        _messages(USER, {"role": "assistant", "content": "  "}),
        "messages[1].content must be a non-empty string",
    ),
    "content not a string": (
        _messages({"role": "user", "content": ["Hi"]}, ASSISTANT),
        "messages[0].content must be a non-empty string",
    ),
    "bad role": (
        _messages({"role": "bot", "content": "Hi"}, USER, ASSISTANT),
        "messages[0].role must be",
    ),
    "bad weight": (
        _messages(USER, {**ASSISTANT, "weight": 2}),
        "messages[1].weight must be 0 or 1",
    ),
    "boolean weight": (
        _messages(USER, {**ASSISTANT, "weight": True}),
        "messages[1].weight must be 0 or 1",
    ),
    "weight on a user message": (
        _messages({**USER, "weight": 1}, ASSISTANT),
        "only allowed on assistant messages",
    ),
    "unknown key": (
        json.dumps({"messages": [USER, ASSISTANT], "extra": 1}).encode(),
        "unknown key 'extra'",
    ),
    "nested junk": (
        _messages(USER, {**ASSISTANT, "meta": {"deep": [1, {"x": None}]}}),
        "messages[1] has an unknown key 'meta'",
    ),
    "message not an object": (_messages(USER, ASSISTANT, "oops"), "messages[2] must be an object"),
    "binary": (b'{"messages": \x00\x01\x02}', "NUL byte"),
    "invalid UTF-8": (
        b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
        "not valid UTF-8",
    ),
}


@pytest.mark.parametrize(("bad", "message"), list(BROKEN_LINES.values()), ids=list(BROKEN_LINES))
async def test_broken_line_is_422_naming_the_line_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI, bad: bytes, message: str
) -> None:
    account = await make_account(client)
    response = await upload(client, account, _with_bad_line(bad))

    body = assert_problem(response, 422, "invalid_dataset")
    assert body["error_count"] == 1
    assert len(body["errors"]) == 1
    assert body["errors"][0]["line"] == 4
    assert message in body["errors"][0]["msg"], body["errors"]
    await assert_nothing_kept(client, app, account.headers)


async def test_too_few_examples_is_422(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    body = assert_problem(await upload(client, account, valid_file(9)), 422, "invalid_dataset")
    assert body["errors"] == [
        {"line": None, "msg": "the file has 9 valid examples; at least 10 are needed"}
    ]
    await assert_nothing_kept(client, app, account.headers)


async def test_empty_file_is_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    assert_problem(await upload(client, account, b""), 422, "invalid_dataset")


async def test_many_errors_list_the_first_twenty_and_count_all(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    content = valid_file(10) + b"nope\n" * 25
    body = assert_problem(await upload(client, account, content), 422, "invalid_dataset")
    assert body["error_count"] == 25
    assert [error["line"] for error in body["errors"]] == list(range(11, 31))


@pytest.mark.parametrize("settings_overrides", [{"dataset_max_line_bytes": 1024}])
async def test_line_over_the_line_limit_is_422_naming_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    long_line = json.dumps(example("word " * 400)).encode()
    body = assert_problem(
        await upload(client, account, _with_bad_line(long_line)), 422, "invalid_dataset"
    )
    assert body["errors"] == [{"line": 4, "msg": "the line is longer than 1024 bytes"}]
    await assert_nothing_kept(client, app, account.headers)


@pytest.mark.parametrize("settings_overrides", [{"dataset_max_bytes": 2048}])
async def test_file_over_the_size_limit_is_413_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    content = valid_file(40)
    assert len(content) > 2048
    assert_problem(await upload(client, account, content), 413, "dataset_too_large")
    await assert_nothing_kept(client, app, account.headers)


@pytest.mark.parametrize("settings_overrides", [{"max_body_size": 2048}])
async def test_the_upload_route_takes_bodies_over_the_global_limit(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    content = valid_file(40)
    assert len(content) > 2048
    body = await make_dataset(client, account, content)
    assert body["bytes"] == len(content)
    other = await client.post("/api/v1/tasks", json={"title": "x" * 3000}, headers=account.headers)
    assert_problem(other, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd.jsonl", "passwd.jsonl"),
        ("C:\\Users\\me\\train.jsonl", "train.jsonl"),
        ("evil\u202eldnoj.exe", "evilldnoj.exe"),
        ("..", "dataset.jsonl"),
    ],
)
async def test_file_name_is_reduced_to_a_clean_display_name(
    client: httpx.AsyncClient, app: FastAPI, filename: str, shown: str
) -> None:
    account = await make_account(client)
    body = await make_dataset(client, account, filename=filename)
    assert body["filename"] == shown
    assert [path.name for path in stored_files(app)] == [body["sha256"]]


async def test_missing_file_part_is_400(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    response = await client.post(DATASETS, data={"name": "x"}, headers=account.headers)
    # A form without a file part is sent urlencoded, which is not an upload at all.
    assert_problem(response, 400, "malformed_upload")
    response = await client.post(
        DATASETS,
        data={"name": "x"},
        files={"other": ("a.jsonl", valid_file(), "application/jsonl")},
        headers=account.headers,
    )
    assert_problem(response, 400, "malformed_upload")


async def test_json_body_is_400(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    response = await client.post(DATASETS, json={"name": "x"}, headers=account.headers)
    assert_problem(response, 400, "malformed_upload")


async def test_truncated_multipart_body_is_400_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n' + valid_file()
    )
    response = await client.post(
        DATASETS,
        content=body,
        headers={**account.headers, "Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert_problem(response, 400, "malformed_upload")
    await assert_nothing_kept(client, app, account.headers)


@pytest.mark.parametrize(
    ("fields", "loc"),
    [({"name": ""}, "name"), ({"name": "ok", "colour": "red"}, "colour"), ({}, "name")],
)
async def test_bad_form_fields_are_422_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI, fields: dict[str, str], loc: str
) -> None:
    account = await make_account(client)
    response = await client.post(
        DATASETS,
        data=fields,
        files={"file": ("a.jsonl", valid_file(), "application/jsonl")},
        headers=account.headers,
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", loc]
    await assert_nothing_kept(client, app, account.headers)


async def test_upload_without_authentication_is_401_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert_problem(await upload(client, None, valid_file()), 401)
    assert stored_files(app) == []
