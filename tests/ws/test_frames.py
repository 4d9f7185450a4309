"""Client frames that are malformed, unknown, invalid or too large; ping."""

import pytest

from colloquy.chats.ws import MAX_FRAME_BYTES
from tests.support import make_account
from tests.ws.conftest import Serve
from tests.ws.support import close_code, ready_socket, receive, send


async def test_ping_gets_pong(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}
            await send(ws, {"type": "ping", "ref": "p1"})
            assert await receive(ws) == {"type": "pong", "ref": "p1"}


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '"just a string"',
        '{"no": "type"}',
        '{"type": "dance", "ref": "r1"}',
        '{"type": "send", "chat_id": "not-a-uuid", "content": "hi", "ref": "r1"}',
        '{"type": "send", "chat_id": "0190d5e4-8c6b-7c3e-9f1a-2b3c4d5e6f70", "content": ""}',
        '{"type": "resume", "chat_id": "0190d5e4-8c6b-7c3e-9f1a-2b3c4d5e6f70", '
        '"after_event_id": -1}',
        '{"type": "ping", "extra": true}',
    ],
)
async def test_bad_frame_gets_error_and_socket_stays_usable(serve: Serve, raw: str) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await ws.send(raw)
            error = await receive(ws)
            assert error["type"] == "error"
            assert error["code"] == "invalid_frame"
            assert error["detail"]
            assert error["ref"] == ("r1" if '"ref": "r1"' in raw else None)
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}


async def test_unknown_type_names_the_problem(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "dance"})
            error = await receive(ws)
            assert error["code"] == "invalid_frame"
            assert "dance" in error["detail"]


@pytest.mark.parametrize("binary", [False, True])
async def test_oversize_frame_closes_1009(serve: Serve, binary: bool) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            payload = "x" * (MAX_FRAME_BYTES + 1)
            await ws.send(payload.encode() if binary else payload)
            assert await close_code(ws) == 1009


async def test_frame_at_the_limit_is_read(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await ws.send(" " * (MAX_FRAME_BYTES - 16) + '{"type":"ping"}')
            assert await receive(ws) == {"type": "pong"}


async def test_binary_frame_is_read_as_json(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await ws.send(b'{"type": "ping"}')
            assert await receive(ws) == {"type": "pong"}
