"""What the model is sent: the agent's instructions, then the newest turns that fit; and which
model answers."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.chats.context import MESSAGE_OVERHEAD
from colloquy.llm import tokens
from tests.chats.support import (
    RecordingProvider,
    chat_url,
    get_chat,
    insert_history,
    list_messages,
    make_chat,
    make_model,
    parse_sse,
    send,
)
from tests.support import Account, assert_problem, make_account

INSTRUCTIONS = "You are terse."


async def _agent(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/agents", json={"name": "Terse", **fields}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _turns(count: int) -> list[str]:
    history = []
    for index in range(count):
        history += [f"question number {index}", f"answer number {index}"]
    return history


async def test_a_long_history_is_cut_to_the_context_window(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    model = await make_model(app, context_window=64, max_output_tokens=16)
    account = await make_account(client)
    chat = await make_chat(client, account, model_id=model.name)
    for index in range(29):
        await send(client, account, chat["id"], f"question number {index}")

    response = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "question number 29", "stream": True},
        headers=account.headers,
    )

    done = parse_sse(response.text)[-1]
    assert done.type == "done"
    context = done.data["context"]
    assert context["dropped"] > 0
    assert context["included"] + context["dropped"] == 59
    saved = (await list_messages(client, account, chat["id"]))["items"][-1]
    assert saved["context"] == context


async def test_the_oldest_turns_are_left_out_and_instructions_come_first(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    provider = RecordingProvider()
    app.state.providers.register(provider)
    model = await make_model(app, provider=provider.name, context_window=64, max_output_tokens=16)
    account = await make_account(client)
    agent = await _agent(client, account, instructions=INSTRUCTIONS)
    chat = await make_chat(client, account, model_id=model.name, agent_id=agent["id"])
    history = _turns(30)
    await insert_history(app, chat["id"], history)

    exchange = await send(client, account, chat["id"], "question number 30")

    (request,) = provider.requests
    system, *turns = request.messages
    assert (system.role, system.content) == ("system", INSTRUCTIONS)
    sent = [message.content for message in turns]
    assert sent == [*history, "question number 30"][-len(sent) :]
    assert 1 < len(sent) < len(history)
    assert all(message.role != "system" for message in turns)
    assert exchange["assistant_message"]["context"] == {
        "included": len(sent),
        "dropped": len(history) + 1 - len(sent),
    }
    cost = sum(tokens.count_tokens(m.content) + MESSAGE_OVERHEAD for m in request.messages)
    assert cost <= 64 - 16
    left_out = history[-len(sent)]
    assert cost + tokens.count_tokens(left_out) + MESSAGE_OVERHEAD > 64 - 16


async def test_a_message_too_long_even_alone_is_refused_before_anything_happens(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    provider = RecordingProvider()
    app.state.providers.register(provider)
    model = await make_model(app, provider=provider.name, context_window=64, max_output_tokens=16)
    account = await make_account(client)
    chat = await make_chat(client, account, model_id=model.name)

    response = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "far too many words " * 20, "stream": True},
        headers=account.headers,
    )

    assert_problem(response, 422, "context_too_long")
    assert provider.requests == []
    summary = await get_chat(client, account, chat["id"])
    assert (summary["title"], summary["message_count"], summary["generating"]) == (None, 0, False)
    assert (await list_messages(client, account, chat["id"]))["items"] == []
    assert (await send(client, account, chat["id"], "short"))["assistant_message"]["content"]


async def test_instructions_leaving_no_room_refuse_the_message(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    model = await make_model(app, context_window=64, max_output_tokens=16)
    account = await make_account(client)
    agent = await _agent(client, account, instructions="Always be thorough. " * 12)
    chat = await make_chat(client, account, model_id=model.name, agent_id=agent["id"])

    response = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "hi"}, headers=account.headers
    )

    assert_problem(response, 422, "context_too_long")
    assert (await list_messages(client, account, chat["id"]))["items"] == []


async def test_model_is_the_messages_then_the_chats_then_the_agents_then_the_default(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    agents_model = await make_model(app, name="agents-model")
    chats_model = await make_model(app, name="chats-model")
    message_model = await make_model(app, name="message-model")
    account = await make_account(client)
    default_id = (await client.get("/api/v1/models/colloquy-dev", headers=account.headers)).json()[
        "id"
    ]
    agent = await _agent(client, account, model_id=agents_model.name)
    plain = await make_chat(client, account)
    with_agent = await make_chat(client, account, agent_id=agent["id"])
    with_both = await make_chat(client, account, agent_id=agent["id"], model_id=str(chats_model.id))

    async def answered_by(chat: dict[str, Any], **fields: Any) -> str:
        exchange = await send(client, account, chat["id"], "which model?", **fields)
        model_id: str = exchange["assistant_message"]["model_id"]
        return model_id

    assert await answered_by(plain) == default_id
    assert await answered_by(with_agent) == str(agents_model.id)
    assert await answered_by(with_both) == str(chats_model.id)
    assert await answered_by(with_both, model_id="message-model") == str(message_model.id)
    assert await answered_by(plain, model_id=str(message_model.id)) == str(message_model.id)


async def test_an_agents_instructions_and_max_output_reach_the_provider(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    provider = RecordingProvider()
    app.state.providers.register(provider)
    model = await make_model(app, provider=provider.name, max_output_tokens=300)
    account = await make_account(client)
    agent = await _agent(
        client, account, instructions=INSTRUCTIONS, model_id=model.name, max_output_tokens=100
    )
    chat = await make_chat(client, account, agent_id=agent["id"])

    await send(client, account, chat["id"], "hello", temperature=0.2)
    await send(client, account, chat["id"], "again", max_output_tokens=1000)

    first, second = provider.requests
    assert first.messages[0].content == INSTRUCTIONS
    assert (first.max_output_tokens, first.temperature) == (100, 0.2)
    assert (second.max_output_tokens, second.temperature) == (300, 0.7)
    assert first.model == second.model == model.provider_model


async def test_a_model_another_user_owns_cannot_answer(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await make_account(client)
    account = await make_account(client)
    model = await make_model(app, owner=owner)
    chat = await make_chat(client, account)

    response = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "hi", "model_id": model.name},
        headers=account.headers,
    )

    assert_problem(response, 404, "model_not_found")
    assert (await list_messages(client, account, chat["id"]))["items"] == []


@pytest.mark.parametrize("settings_overrides", [{"default_model": "house-model"}])
async def test_the_default_model_setting_answers_when_nothing_is_chosen(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    model = await make_model(app, name="house-model")
    account = await make_account(client)
    chat = await make_chat(client, account)

    exchange = await send(client, account, chat["id"], "hi")

    assert exchange["assistant_message"]["model_id"] == str(model.id)
