"""Two app instances on one database and one Redis: sockets follow replies run elsewhere."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.support import make_account
from tests.ws.conftest import Serve
from tests.ws.support import (
    Live,
    create_chat,
    event_ids,
    messages,
    ready_socket,
    receive,
    receive_until,
    reply_frames,
    send,
    text_of,
    words,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (set TEST_REDIS_URL)"),
]


@asynccontextmanager
async def replicas(serve: Serve) -> AsyncIterator[tuple[Live, Live]]:
    settings = {"redis_url": TEST_REDIS_URL, "dev_model_delay_ms": 50, "generation_event_ttl": 60}
    async with serve(**settings) as a, serve(**settings) as b:
        yield a, b


async def test_socket_on_one_replica_gets_a_reply_started_on_another(serve: Serve) -> None:
    async with replicas(serve) as (a, b):
        account = await make_account(a.http)
        chat_id = await create_chat(b, account)
        async with ready_socket(a, account) as ws:
            response = await b.http.post(
                f"/api/v1/chats/{chat_id}/messages",
                json={"content": "hello"},
                headers=account.headers,
            )
            assert response.status_code == 201, response.text
            frames = await reply_frames(ws)
        assert event_ids(frames) == list(range(1, len(frames) + 1))
        assert frames[-1]["message"] == response.json()["assistant_message"]


async def test_resume_on_one_replica_of_a_reply_running_on_another(serve: Serve) -> None:
    async with replicas(serve) as (a, b):
        account = await make_account(a.http)
        chat_id = await create_chat(a, account)
        content = words(40)
        async with ready_socket(b, account) as on_b:
            await send(on_b, {"type": "send", "chat_id": chat_id, "content": content})
            seen = [await receive(on_b) for _ in range(4)]
        async with ready_socket(a, account) as on_a:
            after = seen[-1]["event_id"]
            await send(on_a, {"type": "resume", "chat_id": chat_id, "after_event_id": after})
            rest = await reply_frames(on_a)
            await send(on_a, {"type": "ping"})
            assert await receive(on_a) == {"type": "pong"}
        assert event_ids(seen + rest) == list(range(1, len(seen) + len(rest) + 1))
        assert rest[-1]["type"] == "done"
        assert text_of(seen + rest) == rest[-1]["message"]["content"]


async def test_cancel_on_one_replica_stops_a_reply_running_on_another(serve: Serve) -> None:
    async with replicas(serve) as (a, b):
        account = await make_account(a.http)
        chat_id = await create_chat(a, account)
        async with ready_socket(b, account) as on_b, ready_socket(a, account) as on_a:
            await send(on_b, {"type": "send", "chat_id": chat_id, "content": words(60)})
            await receive_until(on_a, lambda frame: frame["type"] == "delta")
            await send(on_a, {"type": "cancel", "chat_id": chat_id})
            seen_on_a = await reply_frames(on_a)
            seen_on_b = await reply_frames(on_b)
        assert seen_on_a[-1] == seen_on_b[-1]
        assert seen_on_b[-1]["message"]["status"] == "cancelled"
        saved = await messages(a, account, chat_id)
        assert saved[-1]["status"] == "cancelled"
        assert saved[-1]["content"] == text_of(seen_on_b)
