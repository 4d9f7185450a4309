"""Replies over the socket: send, errors, cancel, resume, and fan-out to every socket."""

import uuid

import anyio

from colloquy.llm.providers.base import ChatMessage
from colloquy.llm.providers.dev import compose_reply
from tests.support import make_account
from tests.ws.conftest import Serve
from tests.ws.support import (
    create_chat,
    event_ids,
    is_end,
    messages,
    ready_socket,
    receive,
    receive_until,
    reply_frames,
    send,
    text_of,
    words,
)

SLOW = {"dev_model_delay_ms": 50}


def full_reply(content: str) -> str:
    return compose_reply([ChatMessage(role="user", content=content)])


async def test_send_streams_message_deltas_done_and_saves_the_reply(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hello", "ref": "r1"})
            frames = await reply_frames(ws)
        kinds = [frame["type"] for frame in frames]
        assert kinds[0] == "message"
        assert kinds[-1] == "done"
        assert set(kinds[1:-1]) == {"delta"}
        assert event_ids(frames) == list(range(1, len(frames) + 1))
        assert {frame["chat_id"] for frame in frames} == {chat_id}
        assert frames[0]["message"]["content"] == "hello"
        done = frames[-1]["message"]
        assert done["status"] == "complete"
        assert done["content"] == text_of(frames) == full_reply("hello")
        saved = await messages(live, account, chat_id)
        assert [(m["role"], m["content"]) for m in saved] == [
            ("user", "hello"),
            ("assistant", full_reply("hello")),
        ]


async def test_send_to_another_users_chat_is_chat_not_found(serve: Serve) -> None:
    async with serve() as live:
        owner = await make_account(live.http)
        intruder = await make_account(live.http)
        chat_id = await create_chat(live, owner)
        async with ready_socket(live, intruder) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hi", "ref": "x"})
            error = await receive(ws)
            assert error == {
                "type": "error",
                "code": "chat_not_found",
                "detail": error["detail"],
                "ref": "x",
                "chat_id": chat_id,
            }
            for kind in ("cancel", "resume"):
                await send(ws, {"type": kind, "chat_id": chat_id, "ref": kind})
                error = await receive(ws)
                assert (error["code"], error["ref"]) == ("chat_not_found", kind)
        assert await messages(live, owner, chat_id) == []


async def test_send_to_missing_chat_is_chat_not_found(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "send", "chat_id": str(uuid.uuid4()), "content": "hi"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("chat_not_found", None)


async def test_second_send_while_generating_is_a_conflict(serve: Serve) -> None:
    async with serve(**SLOW) as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": words(20)})
            assert (await receive(ws))["type"] == "message"
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "b", "ref": 2})
            frames = await receive_until(ws, lambda frame: "event_id" not in frame)
            assert (frames[-1]["code"], frames[-1]["ref"]) == ("generation_in_progress", 2)
            await send(ws, {"type": "cancel", "chat_id": chat_id})
            await reply_frames(ws)


async def test_message_too_long_for_the_model_is_context_too_long(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as ws:
            content = "word " * 9000
            await send(ws, {"type": "send", "chat_id": chat_id, "content": content, "ref": "l"})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("context_too_long", "l")


async def test_cancel_mid_reply_keeps_the_partial_text(serve: Serve) -> None:
    async with serve(**SLOW) as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        content = words(40)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": content})
            frames = await receive_until(ws, lambda frame: frame["type"] == "delta")
            await send(ws, {"type": "cancel", "chat_id": chat_id})
            frames += await reply_frames(ws)
        done = frames[-1]
        assert done["type"] == "done"
        assert done["message"]["status"] == "cancelled"
        partial = text_of(frames)
        assert partial
        assert done["message"]["content"] == partial
        assert full_reply(content).startswith(partial)
        assert len(partial) < len(full_reply(content))
        saved = await messages(live, account, chat_id)
        assert (saved[-1]["status"], saved[-1]["content"]) == ("cancelled", partial)


async def test_resume_after_disconnect_delivers_the_rest_exactly_once(serve: Serve) -> None:
    async with serve(**SLOW) as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        content = words(40)
        async with ready_socket(live, account) as first:
            await send(first, {"type": "send", "chat_id": chat_id, "content": content})
            seen = [await receive(first) for _ in range(4)]
        await anyio.sleep(0.2)  # events go by while no socket is open
        async with ready_socket(live, account) as second:
            await anyio.sleep(0.2)  # and some reach the new socket before it resumes
            after = seen[-1]["event_id"]
            await send(second, {"type": "resume", "chat_id": chat_id, "after_event_id": after})
            rest = await reply_frames(second)
            await send(second, {"type": "ping"})
            assert await receive(second) == {"type": "pong"}  # nothing delivered twice
        assert event_ids(seen + rest) == list(range(1, len(seen) + len(rest) + 1))
        assert rest[-1]["type"] == "done"
        assert text_of(seen + rest) == full_reply(content) == rest[-1]["message"]["content"]


async def test_resume_of_a_finished_reply(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "send", "chat_id": chat_id, "content": "hello"})
            frames = await reply_frames(ws)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "resume", "chat_id": chat_id, "after_event_id": 2})
            rest = await reply_frames(ws)
            # Asking again on the same socket repeats nothing it has delivered.
            await send(ws, {"type": "resume", "chat_id": chat_id, "after_event_id": 0})
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}
        assert rest == frames[2:]


async def test_resume_without_a_reply(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "resume", "chat_id": chat_id, "after_event_id": 0, "ref": 1})
            error = await receive(ws)
            assert (error["code"], error["ref"]) == ("nothing_to_resume", 1)


async def test_socket_joining_mid_reply_gets_the_rest_in_order(serve: Serve) -> None:
    async with serve(**SLOW) as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as first:
            await send(first, {"type": "send", "chat_id": chat_id, "content": words(40)})
            await receive_until(first, lambda frame: frame["event_id"] >= 3)
            async with ready_socket(live, account) as second:
                rest = await reply_frames(second)
            all_frames = await reply_frames(first)
        ids = event_ids(rest)
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        assert ids[0] > 3
        assert rest[-1] == all_frames[-1]


async def test_every_socket_of_the_user_gets_a_reply_started_over_http(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        other = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with (
            ready_socket(live, account) as one,
            ready_socket(live, account) as two,
            ready_socket(live, other) as stranger,
        ):
            response = await live.http.post(
                f"/api/v1/chats/{chat_id}/messages",
                json={"content": "hello"},
                headers=account.headers,
            )
            assert response.status_code == 201, response.text
            first = await reply_frames(one)
            second = await reply_frames(two)
            await send(stranger, {"type": "ping"})
            assert await receive(stranger) == {"type": "pong"}
        assert first == second
        assert event_ids(first) == list(range(1, len(first) + 1))
        assert first[-1]["message"] == response.json()["assistant_message"]


async def test_every_socket_gets_a_reply_started_on_another_socket(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        chat_id = await create_chat(live, account)
        async with ready_socket(live, account) as one, ready_socket(live, account) as two:
            await send(one, {"type": "send", "chat_id": chat_id, "content": "hello"})
            first = await reply_frames(one)
            second = await reply_frames(two)
        assert first == second
        assert is_end(first[-1])
