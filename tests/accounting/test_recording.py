"""Every model call is charged once: chats (JSON, SSE, regenerations), /v1 (JSON and streamed),
failures and cancels for what they used, and exactly under concurrency."""

import asyncio
import uuid

import anyio
import httpx
from fastapi import FastAPI

from colloquy.usage.models import UsageEvent
from tests.accounting.support import COMPLETIONS, completion, events, reservations, rollup_totals
from tests.chats.support import (
    FailingProvider,
    GatedProvider,
    chat_url,
    make_chat,
    make_model,
    parse_sse,
    post_turn,
    send,
)
from tests.keys.support import bearer, make_key
from tests.support import make_account
from tests.ws.conftest import Serve


def _charged(event: UsageEvent) -> tuple[int, int]:
    return event.input_tokens, event.output_tokens


async def test_a_chat_reply_is_charged_with_the_replys_usage(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    reply = (await send(client, account, chat["id"], "count these words"))["assistant_message"]

    [event] = await events(app, account.id)
    assert (event.source, event.status, event.chat_id) == (
        "chat",
        "complete",
        uuid.UUID(chat["id"]),
    )
    assert event.api_key_id is None
    assert event.model_id == uuid.UUID(reply["model_id"])
    assert _charged(event) == (reply["input_tokens"], reply["output_tokens"])
    assert reply["output_tokens"] > 0
    assert event.estimated is False
    assert await rollup_totals(app, account.id) == (1, *_charged(event))


async def test_streamed_replies_and_regenerations_are_each_charged_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    chat = await make_chat(client, account)

    streamed = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "stream this", "stream": True},
        headers=account.headers,
    )
    done = parse_sse(streamed.text)[-1]
    assert done.type == "done"
    reply = done.data["assistant_message"]
    await post_turn(client, account, chat["id"], reply["id"], "regenerate")

    charged = await events(app, account.id)
    assert len(charged) == 2
    assert {event.source for event in charged} == {"chat"}
    assert _charged(charged[0]) == (done.data["usage"]["input_tokens"], reply["output_tokens"])
    requests, input_tokens, output_tokens = await rollup_totals(app, account.id)
    assert requests == 2
    assert input_tokens == sum(event.input_tokens for event in charged)
    assert output_tokens == sum(event.output_tokens for event in charged)


async def test_a_chat_reply_sent_with_a_key_is_charged_to_the_key(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    key = await make_key(client, account, scopes=["read", "write"])
    chat = await make_chat(client, account)

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "hi"}, headers=bearer(key["key"])
    )

    assert response.status_code == 201, response.text
    [event] = await events(app, account.id)
    assert event.api_key_id == uuid.UUID(key["id"])


async def test_v1_completions_are_charged_to_the_key_as_api_usage(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    key = await make_key(client, account, scopes=["inference"])

    plain = await client.post(COMPLETIONS, json=completion(), headers=bearer(key["key"]))
    streamed = await client.post(
        COMPLETIONS,
        json=completion(stream=True, stream_options={"include_usage": True}),
        headers=bearer(key["key"]),
    )

    assert plain.status_code == streamed.status_code == 200
    usage = plain.json()["usage"]
    lines = [line for line in streamed.text.splitlines() if line.startswith("data: {")]
    streamed_usage = httpx.Response(200, content=lines[-1].removeprefix("data: ")).json()["usage"]
    charged = await events(app, account.id)
    assert [(e.source, e.status, e.api_key_id) for e in charged] == [
        ("api", "complete", uuid.UUID(key["id"])),
        ("api", "complete", uuid.UUID(key["id"])),
    ]
    assert _charged(charged[0]) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert _charged(charged[1]) == (
        streamed_usage["prompt_tokens"],
        streamed_usage["completion_tokens"],
    )
    assert charged[0].chat_id is None


async def test_a_failed_reply_is_charged_for_what_it_produced(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    partial = FailingProvider(name="failing-partial")
    silent = FailingProvider(name="failing-silent", deltas=())
    for provider in (partial, silent):
        app.state.providers.register(provider)
    for provider in (partial, silent):
        model = await make_model(app, provider=provider.name)
        chat = await make_chat(client, account, model_id=str(model.id))
        response = await client.post(
            chat_url(chat["id"], "messages"), json={"content": "Hi"}, headers=account.headers
        )
        assert response.status_code == 502

    with_text, without_text = await events(app, account.id)
    assert (with_text.status, with_text.estimated) == ("error", True)
    assert with_text.input_tokens > 0
    assert with_text.output_tokens > 0
    assert (without_text.status, _charged(without_text)) == ("error", (0, 0))
    assert await rollup_totals(app, account.id) == (2, *_charged(with_text))


async def test_a_cancelled_reply_is_charged_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await make_account(client)
    gated = GatedProvider()
    app.state.providers.register(gated)
    model = await make_model(app, provider=gated.name)
    chat = await make_chat(client, account, model_id=str(model.id))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(
            lambda: client.post(
                chat_url(chat["id"], "messages"), json={"content": "Hi"}, headers=account.headers
            )
        )
        await gated.started.wait()
        cancel = await client.post(chat_url(chat["id"], "cancel"), headers=account.headers)
        assert cancel.status_code == 204

    [event] = await events(app, account.id)
    assert (event.status, event.estimated) == ("cancelled", True)
    assert event.output_tokens > 0
    await anyio.sleep(0.05)
    assert len(await events(app, account.id)) == 1


async def test_a_client_leaving_a_v1_stream_is_charged_once(serve: Serve) -> None:
    async with serve() as live:
        gated = GatedProvider()
        live.app.state.providers.register(gated)
        model = await make_model(live.app, provider=gated.name)
        account = await make_account(live.http)
        key = await make_key(live.http, account, scopes=["inference"])

        async with live.http.stream(
            "POST",
            COMPLETIONS,
            json=completion(model=model.name, stream=True),
            headers=bearer(key["key"]),
        ) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if '"partial "' in line:
                    break
        # The client has gone; the reply is charged when the server notices.
        for _ in range(200):
            if charged := await events(live.app, account.id):
                break
            await anyio.sleep(0.05)
        gated.release.set()
        await anyio.sleep(0.2)
        assert len(await events(live.app, account.id)) == 1
        assert charged[0].status == "cancelled"
        assert charged[0].output_tokens > 0


async def test_fifty_simultaneous_calls_are_counted_exactly(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    key = await make_key(client, account, scopes=["inference", "read", "write"])
    chats = [await make_chat(client, account) for _ in range(25)]

    async def v1(index: int) -> tuple[int, int]:
        body = completion(" ".join(["word"] * (index + 1)))
        response = await client.post(COMPLETIONS, json=body, headers=bearer(key["key"]))
        assert response.status_code == 200, response.text
        usage = response.json()["usage"]
        return usage["prompt_tokens"], usage["completion_tokens"]

    async def turn(chat_id: str, index: int) -> tuple[int, int]:
        reply = (await send(client, account, chat_id, "say " * (index + 1)))["assistant_message"]
        return reply["input_tokens"], reply["output_tokens"]

    usages = await asyncio.gather(
        *(v1(index) for index in range(25)),
        *(turn(chat["id"], index) for index, chat in enumerate(chats)),
    )

    expected = (50, sum(u[0] for u in usages), sum(u[1] for u in usages))
    assert await rollup_totals(app, account.id) == expected
    charged = await events(app, account.id)
    assert len(charged) == 50
    assert (sum(e.input_tokens for e in charged), sum(e.output_tokens for e in charged)) == (
        expected[1],
        expected[2],
    )
    assert await reservations(app, account.id) == 0
