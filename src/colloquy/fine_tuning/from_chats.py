"""Datasets made from conversations: each chat's active branch becomes one training example."""

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.agents import service as agents
from colloquy.chats import service as chats
from colloquy.chats.models import Chat, MessageRole, MessageStatus
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.datasets.errors import DatasetInvalid
from colloquy.datasets.models import Dataset
from colloquy.datasets.storage import Storage
from colloquy.fine_tuning.schemas import DatasetFromChats


async def _instructions(session: AsyncSession, *, owner: User, chat: Chat) -> str:
    if chat.agent_id is None:
        return ""
    agent = await agents.get_agent(session, owner=owner, agent_id=chat.agent_id)
    return agent.instructions.strip()


GOOD = 1


async def chat_example(
    session: AsyncSession, *, owner: User, chat: Chat, include_system: bool, only_rated: bool
) -> dict[str, Any] | None:
    """The finished user and assistant turns of the active branch, in order; the agent's
    instructions first when asked. Failed or interrupted replies are left out. With
    `only_rated`, replies not rated good are kept as context with weight 0, and the example
    ends at the last good one (None when there is none)."""
    messages: list[dict[str, Any]] = []
    if include_system and (instructions := await _instructions(session, owner=owner, chat=chat)):
        messages.append({"role": "system", "content": instructions})
    for message in await chats.branch_messages(session, chat=chat):
        if message.role is MessageRole.SYSTEM or message.status is not MessageStatus.COMPLETE:
            continue
        if message.content.strip():
            entry: dict[str, Any] = {"role": message.role.value, "content": message.content}
            if only_rated and message.role is MessageRole.ASSISTANT:
                entry["weight"] = 1 if message.rating == GOOD else 0
            messages.append(entry)
    # A question left without an answer (or, with only_rated, without a good one) teaches nothing.
    while messages and not _learned(messages[-1], only_rated=only_rated):
        messages.pop()
    if only_rated and not messages:
        return None
    return {"messages": messages}


def _learned(message: dict[str, Any], *, only_rated: bool) -> bool:
    if message["role"] != MessageRole.ASSISTANT.value:
        return False
    return not only_rated or message.get("weight") == 1


def _naming_chats(exc: DatasetInvalid, chat_ids: list[uuid.UUID]) -> DatasetInvalid:
    """The validator counts lines; the caller knows the chats, one per line."""
    errors = []
    for error in exc.extra["errors"]:
        line = error.get("line")
        chat_id = chat_ids[line - 1] if isinstance(line, int) and line <= len(chat_ids) else None
        errors.append({**error, "chat_id": str(chat_id) if chat_id else None})
    return DatasetInvalid(errors=errors, error_count=exc.extra["error_count"])


async def create_dataset_from_chats(
    session: AsyncSession,
    *,
    storage: Storage,
    settings: Settings,
    owner: User,
    data: DatasetFromChats,
) -> Dataset:
    """A dataset of the caller's chats, validated and stored exactly like an upload."""
    chat_ids = list(dict.fromkeys(data.chat_ids))
    # Every chat must be the caller's (404 otherwise) before anything is written.
    owned = [await chats.get_chat(session, owner=owner, chat_id=chat_id) for chat_id in chat_ids]
    async with datasets.ingest(storage, settings) as ingestion:
        for chat in owned:
            example = await chat_example(
                session,
                owner=owner,
                chat=chat,
                include_system=data.include_system,
                only_rated=data.only_rated,
            )
            # A chat left out still takes its line (a blank one), so errors name the right chat.
            line = json.dumps(example, ensure_ascii=False) if example is not None else ""
            await ingestion.write(f"{line}\n".encode())
        try:
            await ingestion.finish()
        except DatasetInvalid as exc:
            raise _naming_chats(exc, chat_ids) from exc
        return await datasets.create_dataset(
            session,
            storage=storage,
            owner_id=owner.id,
            name=data.name,
            description=data.description,
            filename=f"{data.name}.jsonl",
            ingestion=ingestion,
        )
