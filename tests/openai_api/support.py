"""Helpers the OpenAI API tests share: OpenAI's SDK clients pointed at the app."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio.from_thread
import httpx
import openai
from fastapi import FastAPI

BASE_URL = "http://testserver/v1"


class LoopBridge(httpx.BaseTransport):
    """Sends a sync client's requests to the app on the test's event loop, from a worker thread."""

    def __init__(self, app: FastAPI) -> None:
        self._transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._transport.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return anyio.from_thread.run(send)


@asynccontextmanager
async def open_sdk(app: FastAPI, api_key: str) -> AsyncIterator[openai.AsyncOpenAI]:
    """An async client of OpenAI's SDK for the app, with this key."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        httpx.AsyncClient(transport=transport) as http,
        openai.AsyncOpenAI(
            base_url=BASE_URL,
            api_key=api_key,
            # The SDK types its client as httpx2's, and takes httpx's as well.
            http_client=http,  # type: ignore[arg-type]
            max_retries=0,
        ) as client,
    ):
        yield client


@contextmanager
def open_sync_sdk(app: FastAPI, api_key: str) -> Iterator[openai.OpenAI]:
    """A sync client of OpenAI's SDK for the app; call it from a worker thread
    (`anyio.to_thread.run_sync`), as it waits on the test's loop."""
    with (
        httpx.Client(transport=LoopBridge(app)) as http,
        openai.OpenAI(
            base_url=BASE_URL,
            api_key=api_key,
            http_client=http,  # type: ignore[arg-type]
            max_retries=0,
        ) as client,
    ):
        yield client
