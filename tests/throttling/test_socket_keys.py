"""The WebSocket with API keys: scopes on connect and on each frame, revocation, and the limits a
send over the socket is held to."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from colloquy.chats import ws as chat_ws
from tests.keys.support import make_key
from tests.support import Account, make_account, make_admin
from tests.ws.conftest import Serve
from tests.ws.support import (
    Live,
    close_code,
    create_chat,
    messages,
    open_socket,
    ready_socket,
    receive,
    reply_frames,
    send,
    text_of,
)

UNAUTHORIZED = 4401


async def socket_key(live: Live, owner: Account, scopes: list[str], **fields: Any) -> Any:
    return await make_key(live.http, owner, scopes=scopes, **fields)


@asynccontextmanager
async def key_socket(live: Live, key: str) -> AsyncIterator[ClientConnection]:
    """A socket opened with an API key in the Authorization header, past its `ready` frame."""
    async with open_socket(live, token=key) as ws:
        assert await receive(ws) == {"type": "ready"}
        yield ws


async def test_write_key_sends_and_gets_the_reply(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["read", "write"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hi", "ref": "r1"})
            frames = await reply_frames(ws)
        assert frames[0]["type"] == "message"
        assert frames[0]["message"]["content"] == "hi"
        done = frames[-1]
        assert done["type"] == "done"
        assert done["message"]["status"] == "complete"
        assert done["message"]["content"] == text_of(frames)
        saved = await messages(live, owner, chat_id)
        assert [m["role"] for m in saved] == ["user", "assistant"]


async def test_key_socket_replies_reach_the_user_s_other_sockets(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["write"])
        chat_id = await create_chat(live, owner)
        async with ready_socket(live, owner) as watcher, key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "shared"})
            sent = await reply_frames(ws)
            seen = await reply_frames(watcher)
        assert seen == sent


async def test_read_key_connects_but_may_not_send_or_cancel(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["read"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hi", "ref": "s"})
            error = await receive(ws)
            assert error["type"] == "error"
            assert (error["code"], error["ref"], error["chat_id"]) == (
                "insufficient_scope",
                "s",
                chat_id,
            )
            await send(ws, {"type": "cancel", "chat_id": chat_id, "ref": "c"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("insufficient_scope", "c")
            # Reading is what the key is for: a resume is let through (there is nothing to resume).
            await send(ws, {"type": "resume", "chat_id": chat_id, "ref": "r"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("nothing_to_resume", "r")
            await send(ws, {"type": "ping", "ref": "p"})
            assert await receive(ws) == {"type": "pong", "ref": "p"}
        assert await messages(live, owner, chat_id) == []


async def test_write_key_may_not_resume(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["write"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "resume", "chat_id": chat_id, "ref": "r"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("insufficient_scope", "r")


async def test_inference_only_key_is_closed_4401(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["inference"])
        async with open_socket(live, token=key["key"]) as ws:
            assert await close_code(ws) == UNAUTHORIZED


async def test_key_in_the_auth_frame_is_accepted(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["read"])
        async with open_socket(live) as ws:
            await send(ws, {"type": "auth", "token": key["key"]})
            assert await receive(ws) == {"type": "ready"}


async def test_send_after_the_key_is_revoked_closes_4401(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["read", "write"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            revoked = await live.http.delete(f"/api/v1/api-keys/{key['id']}", headers=owner.headers)
            assert revoked.status_code == 204, revoked.text

            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hi"})

            assert await close_code(ws) == UNAUTHORIZED
        assert await messages(live, owner, chat_id) == []


async def test_revoked_key_is_closed_by_its_recheck(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_ws, "RECHECK_SECONDS", 0.2)
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["read"])
        async with key_socket(live, key["key"]) as ws:
            revoked = await live.http.delete(f"/api/v1/api-keys/{key['id']}", headers=owner.headers)
            assert revoked.status_code == 204, revoked.text

            assert await close_code(ws) == UNAUTHORIZED


async def test_send_over_the_monthly_quota_is_an_error_frame(serve: Serve) -> None:
    async with serve() as live:
        admin = await make_admin(live.app, live.http)
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["read", "write"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "first"})
            assert (await reply_frames(ws))[-1]["type"] == "done"
            response = await live.http.patch(
                f"/api/v1/admin/users/{owner.id}",
                json={"monthly_token_quota": 1},
                headers=admin.headers,
            )
            assert response.status_code == 200, response.text

            await send(ws, {"type": "send", "chat_id": chat_id, "content": "more", "ref": "q"})

            error = await receive(ws)
            assert error["type"] == "error"
            assert (error["code"], error["ref"], error["chat_id"]) == (
                "quota_exceeded",
                "q",
                chat_id,
            )
            assert "quota" in error["detail"]
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}
        assert len(await messages(live, owner, chat_id)) == 2


async def test_send_over_the_key_s_budget_is_an_error_frame(serve: Serve) -> None:
    async with serve(monthly_token_quota=None) as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["write"], monthly_token_budget=0)
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hi", "ref": "b"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("quota_exceeded", "b")
            assert "budget" in error["detail"]
        assert await messages(live, owner, chat_id) == []


async def test_send_over_the_rate_limit_is_an_error_frame(serve: Serve) -> None:
    async with serve(user_requests_per_minute=1) as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["write"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "one"})
            assert (await reply_frames(ws))[-1]["type"] == "done"
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "two", "ref": "t"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("rate_limited", "t")
        assert len(await messages(live, owner, chat_id)) == 2


async def test_send_with_a_key_not_allowed_the_model_is_an_error_frame(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        key = await socket_key(live, owner, ["write"], allowed_models=["another-model"])
        chat_id = await create_chat(live, owner)
        async with key_socket(live, key["key"]) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hi", "ref": "m"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("model_not_allowed", "m")
        assert await messages(live, owner, chat_id) == []
