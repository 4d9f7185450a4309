"""Chats and their history: create, list with summaries, update, switch branch, page messages."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.agents import service as agents
from colloquy.chats import repository
from colloquy.chats.errors import ChatNotFound, MessageNotFound, NotAnAssistantMessage
from colloquy.chats.models import Chat, Message, MessageRole
from colloquy.chats.repository import ChatRow
from colloquy.chats.schemas import (
    ChatCreate,
    ChatRead,
    ChatUpdate,
    LastMessage,
    MessageRead,
    NamedRef,
    message_payload,
)
from colloquy.core.database import utcnow
from colloquy.core.pagination import PageParams
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.llm import service as llm
from colloquy.projects import service as projects

MAX_BRANCH_DESCENT = 10_000


async def get_chat(
    session: AsyncSession, *, owner: User, chat_id: uuid.UUID, for_update: bool = False
) -> Chat:
    """The caller's chat; another user's, or none, is ChatNotFound (404)."""
    chat = await repository.get_chat(
        session, chat_id=chat_id, owner_id=owner.id, for_update=for_update
    )
    if chat is None:
        raise ChatNotFound
    return chat


async def _check_references(
    session: AsyncSession, *, owner: User, settings: Settings, fields: dict[str, object]
) -> dict[str, object]:
    """Every id in the body must be the caller's own (404 otherwise); models by id or name."""
    resolved = dict(fields)
    if fields.get("agent_id") is not None:
        await agents.get_agent(session, owner=owner, agent_id=fields["agent_id"])  # type: ignore[arg-type]
    if fields.get("project_id") is not None:
        await projects.require_project(session, owner=owner, project_id=fields["project_id"])  # type: ignore[arg-type]
    if fields.get("dataset_id") is not None:
        await datasets.get_dataset(session, owner=owner, dataset_id=fields["dataset_id"])  # type: ignore[arg-type]
    if fields.get("model_id") is not None:
        model = await llm.get_model(
            session, user=owner, ref=str(fields["model_id"]), settings=settings
        )
        resolved["model_id"] = model.id
    return resolved


def to_read(row: ChatRow) -> ChatRead:
    chat = row.chat
    return ChatRead(
        id=chat.id,
        title=chat.title,
        agent=NamedRef(id=chat.agent_id, name=row.agent_name)
        if chat.agent_id and row.agent_name is not None
        else None,
        model=NamedRef(id=chat.model_id, name=row.model_name)
        if chat.model_id and row.model_name is not None
        else None,
        project_id=chat.project_id,
        dataset_id=chat.dataset_id,
        active_message_id=chat.active_message_id,
        message_count=row.message_count,
        last_message=LastMessage(
            role=row.last_role, preview=row.last_preview or "", created_at=row.last_created_at
        )
        if row.last_role is not None and row.last_created_at is not None
        else None,
        pinned=chat.pinned,
        archived=chat.archived,
        generating=chat.generation_lease_until is not None
        and chat.generation_lease_until > utcnow(),
        created_at=chat.created_at,
        updated_at=chat.updated_at,
    )


async def read_chat(session: AsyncSession, *, chat: Chat) -> ChatRead:
    return to_read(await repository.get_chat_row(session, chat=chat))


async def create_chat(
    session: AsyncSession, *, owner: User, data: ChatCreate, settings: Settings
) -> Chat:
    fields = await _check_references(
        session, owner=owner, settings=settings, fields=data.model_dump()
    )
    chat = Chat(owner_id=owner.id, **fields)
    session.add(chat)
    await session.flush()
    return chat


async def list_chats(
    session: AsyncSession,
    *,
    owner: User,
    project_id: uuid.UUID | None,
    agent_id: uuid.UUID | None,
    archived: bool,
    q: str | None,
    page: PageParams,
) -> tuple[list[ChatRead], int]:
    rows, total = await repository.list_chats(
        session,
        owner_id=owner.id,
        project_id=project_id,
        agent_id=agent_id,
        archived=archived,
        q=q,
        page=page,
    )
    return [to_read(row) for row in rows], total


async def update_chat(
    session: AsyncSession, *, owner: User, chat: Chat, data: ChatUpdate, settings: Settings
) -> Chat:
    changes = await _check_references(
        session, owner=owner, settings=settings, fields=data.changes()
    )
    if "active_message_id" in changes:
        target = changes.pop("active_message_id")
        if target is not None:
            changes["active_message_id"] = await _branch_leaf(
                session,
                chat=chat,
                message_id=target,  # type: ignore[arg-type]
            )
    for field, value in changes.items():
        setattr(chat, field, value)
    await session.flush()
    return chat


async def _branch_leaf(session: AsyncSession, *, chat: Chat, message_id: uuid.UUID) -> uuid.UUID:
    """Switching to a message shows its branch down to its newest reply."""
    message = await repository.get_message(session, chat_id=chat.id, message_id=message_id)
    if message is None:
        raise MessageNotFound
    leaf = message.id
    for _ in range(MAX_BRANCH_DESCENT):
        child = await repository.newest_child(session, message_id=leaf)
        if child is None:
            break
        leaf = child
    return leaf


async def branch_messages(session: AsyncSession, *, chat: Chat) -> list[Message]:
    """Every message on the chat's active branch, oldest first."""
    if chat.active_message_id is None:
        return []
    newest_first = await repository.ancestors(
        session, start_id=chat.active_message_id, limit=MAX_BRANCH_DESCENT * 100
    )
    return list(reversed(newest_first))


async def delete_chat(session: AsyncSession, *, chat: Chat) -> None:
    await session.delete(chat)
    await session.flush()


@dataclass(frozen=True, slots=True)
class MessagePageResult:
    items: list[MessageRead]
    next_cursor: uuid.UUID | None


async def _with_siblings(
    session: AsyncSession, *, chat: Chat, messages: Sequence[Message]
) -> list[MessageRead]:
    siblings = await repository.sibling_ids(session, chat_id=chat.id, messages=messages)
    return [
        message_payload(message, sibling_ids=siblings.get(message.parent_id, [message.id]))
        for message in messages
    ]


async def list_messages(
    session: AsyncSession,
    *,
    chat: Chat,
    limit: int,
    before: uuid.UUID | None,
    after: uuid.UUID | None,
) -> MessagePageResult:
    """A page of the active branch, oldest first. `next_cursor` continues in the same direction:
    older messages without a cursor or with `before`, newer ones with `after`."""
    if chat.active_message_id is None:
        return MessagePageResult(items=[], next_cursor=None)
    if after is not None:
        return await _newer(session, chat=chat, after=after, limit=limit)
    start: uuid.UUID | None = chat.active_message_id
    if before is not None:
        anchor = await repository.get_message(session, chat_id=chat.id, message_id=before)
        if anchor is None:
            raise MessageNotFound
        start = anchor.parent_id
    if start is None:
        return MessagePageResult(items=[], next_cursor=None)
    newest_first = await repository.ancestors(session, start_id=start, limit=limit)
    page = list(reversed(newest_first))
    cursor = page[0].id if page and page[0].parent_id is not None else None
    return MessagePageResult(
        items=await _with_siblings(session, chat=chat, messages=page), next_cursor=cursor
    )


async def _newer(
    session: AsyncSession, *, chat: Chat, after: uuid.UUID, limit: int
) -> MessagePageResult:
    anchor = await repository.get_message(session, chat_id=chat.id, message_id=after)
    if anchor is None:
        raise MessageNotFound
    leaf = chat.active_message_id
    if leaf is None:
        return MessagePageResult(items=[], next_cursor=None)
    branch = await repository.ancestors(
        session, start_id=leaf, limit=10_000_000, above_depth=anchor.depth
    )
    page = list(reversed(branch))[:limit]
    more = len(branch) > limit
    return MessagePageResult(
        items=await _with_siblings(session, chat=chat, messages=page),
        next_cursor=page[-1].id if page and more else None,
    )


async def get_message(session: AsyncSession, *, chat: Chat, message_id: uuid.UUID) -> MessageRead:
    message = await repository.get_message(session, chat_id=chat.id, message_id=message_id)
    if message is None:
        raise MessageNotFound
    return (await _with_siblings(session, chat=chat, messages=[message]))[0]


async def rate_message(
    session: AsyncSession, *, chat: Chat, message_id: uuid.UUID, rating: int | None
) -> MessageRead:
    """Record the user's verdict on a reply (1 good, -1 bad, None unrated)."""
    message = await repository.get_message(session, chat_id=chat.id, message_id=message_id)
    if message is None:
        raise MessageNotFound
    if message.role is not MessageRole.ASSISTANT:
        raise NotAnAssistantMessage
    message.rating = rating
    await session.flush()
    return (await _with_siblings(session, chat=chat, messages=[message]))[0]


async def delete_message(session: AsyncSession, *, chat: Chat, message_id: uuid.UUID) -> None:
    """Remove a message and its descendants; if the active branch ran through it, the branch
    now ends at its parent."""
    message = await repository.get_message(session, chat_id=chat.id, message_id=message_id)
    if message is None:
        raise MessageNotFound
    if chat.active_message_id is not None:
        on_branch = await repository.ancestors(
            session,
            start_id=chat.active_message_id,
            limit=10_000_000,
            above_depth=message.depth - 1,
        )
        if any(item.id == message.id for item in on_branch):
            chat.active_message_id = message.parent_id
    await session.flush()
    await session.delete(message)
    await session.flush()
