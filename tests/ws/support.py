"""A real uvicorn server in the test's event loop, and a WebSocket client for it."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from colloquy.app import create_app
from colloquy.core.settings import Settings
from tests.support import Account

Frame = dict[str, Any]
TIMEOUT = 10.0
MAX_FRAMES = 2000


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test run owns the process's signals; the fixture stops the server itself.
        yield


@dataclass
class Live:
    app: FastAPI
    port: int
    http: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[Live]:
    """The app served by uvicorn on a random port of 127.0.0.1, lifespan included."""
    app = create_app(settings)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        with anyio.fail_after(TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the server stopped while starting")
                await anyio.sleep(0.01)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=TIMEOUT) as http:
            yield Live(app=app, port=port, http=http)
    finally:
        server.should_exit = True
        with anyio.fail_after(TIMEOUT):
            await task
        listener.close()


@asynccontextmanager
async def open_socket(
    live: Live,
    *,
    token: str | None = None,
    origin: str | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[ClientConnection]:
    headers = headers or ({"Authorization": f"Bearer {token}"} if token else {})
    async with connect(
        live.ws_url,
        additional_headers=headers,
        origin=Origin(origin) if origin else None,
        proxy=None,
        open_timeout=TIMEOUT,
        close_timeout=2,
        max_size=None,
    ) as ws:
        yield ws


@asynccontextmanager
async def ready_socket(live: Live, account: Account) -> AsyncIterator[ClientConnection]:
    """A socket authenticated by header, past its `ready` frame."""
    async with open_socket(live, token=account.access_token) as ws:
        assert await receive(ws) == {"type": "ready"}
        yield ws


async def send(ws: ClientConnection, frame: Frame) -> None:
    await ws.send(json.dumps(frame))


async def receive(ws: ClientConnection, within: float = TIMEOUT) -> Frame:
    with anyio.fail_after(within):
        frame: Frame = json.loads(await ws.recv())
    return frame


async def receive_until(
    ws: ClientConnection, last: Callable[[Frame], bool], within: float = TIMEOUT
) -> list[Frame]:
    """Frames up to and including the first for which `last` is true."""
    frames: list[Frame] = []
    for _ in range(MAX_FRAMES):
        frames.append(await receive(ws, within))
        if last(frames[-1]):
            return frames
    raise AssertionError(f"no closing frame in {MAX_FRAMES} frames")


def is_end(frame: Frame) -> bool:
    """The last frame of a reply."""
    return frame["type"] == "done" or (frame["type"] == "error" and "event_id" in frame)


async def reply_frames(ws: ClientConnection) -> list[Frame]:
    return await receive_until(ws, is_end)


async def close_code(ws: ClientConnection, within: float = TIMEOUT) -> int | None:
    """The code the server closed the socket with (frames before the close are skipped)."""
    with anyio.fail_after(within):
        for _ in range(MAX_FRAMES):
            try:
                await ws.recv()
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
    raise AssertionError("the socket stayed open")


async def create_chat(live: Live, account: Account) -> str:
    response = await live.http.post("/api/v1/chats", json={}, headers=account.headers)
    assert response.status_code == 201, response.text
    chat_id: str = response.json()["id"]
    return chat_id


async def messages(live: Live, account: Account, chat_id: str) -> list[Frame]:
    response = await live.http.get(f"/api/v1/chats/{chat_id}/messages", headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[Frame] = response.json()["items"]
    return items


def event_ids(frames: list[Frame]) -> list[int]:
    return [frame["event_id"] for frame in frames]


def text_of(frames: list[Frame]) -> str:
    return "".join(frame["content"] for frame in frames if frame["type"] == "delta")


def words(count: int) -> str:
    return " ".join(f"w{index}" for index in range(count))
