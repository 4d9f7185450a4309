"""Helpers the datasets tests share: example files, and uploads through the API."""

import json
from typing import Any

import httpx

from tests.support import Account

DATASETS = "/api/v1/datasets"


def example(user: str = "Hi there", assistant: str = "Hello! How can I help?") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }


def jsonl(examples: list[Any]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in examples)


def valid_file(count: int = 10, *, tag: str = "") -> bytes:
    return jsonl([example(f"Question {tag}{index}", f"Answer {index}") for index in range(count)])


async def upload(
    client: httpx.AsyncClient,
    account: Account | None,
    content: bytes,
    *,
    name: str = "Support replies",
    filename: str = "train.jsonl",
    description: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data = {"name": name}
    if description is not None:
        data["description"] = description
    return await client.post(
        DATASETS,
        data=data,
        files={"file": (filename, content, "application/jsonl")},
        headers=headers if headers is not None else account.headers if account else {},
    )


async def make_dataset(
    client: httpx.AsyncClient, account: Account, content: bytes | None = None, **fields: Any
) -> dict[str, Any]:
    response = await upload(client, account, content or valid_file(), **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
