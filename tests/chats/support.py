"""Helpers the chats tests share: chats and messages through the API, models and long histories
in the database, providers that record, fail or wait, and counting SQL statements."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, insert, select, update

from colloquy.chats.models import Chat, Message, MessageRole
from colloquy.core.database import Database, new_id, transaction, utcnow
from colloquy.llm import tokens
from colloquy.llm.models import Model
from colloquy.llm.providers.base import (
    Chunk,
    Finish,
    GenerationRequest,
    ProviderError,
    TextDelta,
    Usage,
)
from tests.support import Account

CHATS = "/api/v1/chats"
DEV_REPLY = "colloquy-dev (development model, not AI) heard: "


def chat_url(chat_id: str, *parts: str) -> str:
    return "/".join([CHATS, chat_id, *parts])


async def make_chat(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(CHATS, json=fields, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_chat(client: httpx.AsyncClient, account: Account, chat_id: str) -> dict[str, Any]:
    response = await client.get(chat_url(chat_id), headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def send(
    client: httpx.AsyncClient, account: Account, chat_id: str, content: str, **fields: Any
) -> dict[str, Any]:
    """Send a message without streaming; returns {user_message, assistant_message}."""
    response = await client.post(
        chat_url(chat_id, "messages"), json={"content": content, **fields}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_turn(
    client: httpx.AsyncClient,
    account: Account,
    chat_id: str,
    message_id: str,
    action: str,
    **fields: Any,
) -> dict[str, Any]:
    """Regenerate or edit a message without streaming."""
    response = await client.post(
        chat_url(chat_id, "messages", message_id, action), json=fields, headers=account.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_messages(
    client: httpx.AsyncClient, account: Account, chat_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        chat_url(chat_id, "messages"), params=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def contents(page: dict[str, Any]) -> list[str]:
    return [item["content"] for item in page["items"]]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@dataclass(frozen=True)
class SseEvent:
    id: int
    type: str
    data: dict[str, Any]


def parse_sse(text: str) -> list[SseEvent]:
    """The events of a whole (finished) server-sent event stream; comments are skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if fields:
            events.append(SseEvent(int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return events


async def make_model(
    app: FastAPI,
    *,
    name: str | None = None,
    provider: str = "dev",
    context_window: int = 8192,
    max_output_tokens: int = 512,
    owner: Account | None = None,
) -> Model:
    """A model row in the registry: global, or the owner's own when one is given."""
    model = Model(
        name=name or f"model-{uuid.uuid4().hex[:10]}",
        provider=provider,
        provider_model=f"{provider}-model",
        context_window=context_window,
        max_output_tokens=max_output_tokens,
        owner_id=uuid.UUID(owner.id) if owner else None,
    )
    async with transaction(app.state.database) as session:
        session.add(model)
    return model


async def insert_history(app: FastAPI, chat_id: str, contents: list[str]) -> list[uuid.UUID]:
    """Messages written straight to the database as one branch (user first, then alternating);
    the chat's active branch ends at the last. Returns their ids, oldest first."""
    rows: list[dict[str, Any]] = []
    start = utcnow() - timedelta(days=1)
    parent: uuid.UUID | None = None
    for depth, content in enumerate(contents):
        message_id = new_id()
        rows.append(
            {
                "id": message_id,
                "chat_id": uuid.UUID(chat_id),
                "parent_id": parent,
                "depth": depth,
                "role": MessageRole.USER if depth % 2 == 0 else MessageRole.ASSISTANT,
                "content": content,
                "content_tokens": tokens.count_tokens(content),
                "created_at": start + timedelta(milliseconds=depth),
            }
        )
        parent = message_id
    async with transaction(app.state.database) as session:
        await session.execute(insert(Message), rows)
        await session.execute(
            update(Chat).where(Chat.id == uuid.UUID(chat_id)).values(active_message_id=parent)
        )
    return [row["id"] for row in rows]


@contextmanager
def count_statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _last_user(request: GenerationRequest) -> str:
    return next((m.content for m in reversed(request.messages) if m.role == "user"), "")


@dataclass
class RecordingProvider:
    """Answers `reply: <last user message>` and keeps every request it was sent."""

    name: str = "recording"
    kind: str = "test"
    requests: list[GenerationRequest] = field(default_factory=list)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        yield TextDelta("reply: ")
        yield TextDelta(_last_user(request))
        yield Usage(input_tokens=10, output_tokens=2)
        yield Finish("stop")

    async def aclose(self) -> None:
        return None


@dataclass
class FailingProvider:
    """Streams its deltas, then raises `error` (a ProviderError by default). Given the database,
    it first notes which messages are already committed when it is called."""

    name: str = "failing"
    kind: str = "test"
    deltas: tuple[str, ...] = ("Hello ", "wor")
    error: Exception | None = None
    database: Database | None = None
    committed: list[tuple[str, str, str]] = field(default_factory=list)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        if self.database is not None:
            async with transaction(self.database, write=False) as session:
                rows = await session.execute(
                    select(Message.role, Message.status, Message.content).order_by(Message.depth)
                )
                self.committed.extend((str(r), str(s), c) for r, s, c in rows)
        for text in self.deltas:
            yield TextDelta(text)
        raise self.error or ProviderError(
            "the upstream model went away", provider=self.name, status=503
        )

    async def aclose(self) -> None:
        return None


@dataclass
class GatedProvider:
    """Streams `partial `, then waits until released: a reply that is running for sure."""

    name: str = "gated"
    kind: str = "test"
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        yield TextDelta("partial ")
        self.started.set()
        await self.release.wait()
        yield TextDelta("rest")
        yield Usage(input_tokens=5, output_tokens=2)
        yield Finish("stop")

    async def aclose(self) -> None:
        return None
