"""Fixtures: an account, its inference key, and OpenAI's SDK (async, and sync via a bridge)."""

from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import pytest
from fastapi import FastAPI

from tests.keys.support import make_key
from tests.openai_api.support import open_sdk, open_sync_sdk
from tests.support import Account, make_account


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await make_account(client)


@pytest.fixture
async def api_key(client: httpx.AsyncClient, account: Account) -> str:
    key: str = (await make_key(client, account, scopes=["inference"]))["key"]
    return key


@pytest.fixture
async def full_key(client: httpx.AsyncClient, account: Account) -> str:
    """A key that may read, write and call models: what the files and fine-tuning calls need."""
    key: str = (await make_key(client, account, scopes=["read", "write", "inference"]))["key"]
    return key


@pytest.fixture
async def writer(app: FastAPI, full_key: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with open_sdk(app, full_key) as client:
        yield client


@pytest.fixture
async def sdk(app: FastAPI, api_key: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with open_sdk(app, api_key) as client:
        yield client


@pytest.fixture
def sync_sdk(app: FastAPI, api_key: str) -> Iterator[openai.OpenAI]:
    """Call it from a worker thread (`anyio.to_thread.run_sync`): it waits on the test's loop."""
    with open_sync_sdk(app, api_key) as client:
        yield client


@pytest.fixture
def sync_writer(app: FastAPI, full_key: str) -> Iterator[openai.OpenAI]:
    with open_sync_sdk(app, full_key) as client:
        yield client
