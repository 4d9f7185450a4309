"""Queries for chats and messages; branches are walked by recursive queries, never loaded whole."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from colloquy.agents.models import Agent
from colloquy.chats.models import Chat, Message, MessageRole
from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, like_pattern
from colloquy.llm.models import Model

PREVIEW_CHARS = 200


@dataclass(frozen=True, slots=True)
class ChatRow:
    chat: Chat
    agent_name: str | None
    model_name: str | None
    last_role: MessageRole | None
    last_preview: str | None
    last_created_at: datetime | None
    message_count: int


async def get_chat(
    session: AsyncSession, *, chat_id: uuid.UUID, owner_id: uuid.UUID, for_update: bool = False
) -> Chat | None:
    return await get_owned(session, Chat, chat_id, owner_id, for_update=for_update)


def _chat_rows(
    owner_id: uuid.UUID,
) -> Select[
    tuple[Chat, str | None, str | None, MessageRole | None, str | None, datetime | None, int | None]
]:
    leaf = aliased(Message)
    return (
        select(
            Chat,
            Agent.name,
            Model.name,
            leaf.role,
            func.substr(leaf.content, 1, PREVIEW_CHARS),
            leaf.created_at,
            leaf.depth,
        )
        .outerjoin(Agent, Agent.id == Chat.agent_id)
        .outerjoin(Model, Model.id == Chat.model_id)
        .outerjoin(leaf, leaf.id == Chat.active_message_id)
        .where(Chat.owner_id == owner_id)
    )


def _row(values: Sequence[object]) -> ChatRow:
    chat, agent_name, model_name, role, preview, created_at, depth = values
    return ChatRow(
        chat=chat,  # type: ignore[arg-type]
        agent_name=agent_name,  # type: ignore[arg-type]
        model_name=model_name,  # type: ignore[arg-type]
        last_role=role,  # type: ignore[arg-type]
        last_preview=preview,  # type: ignore[arg-type]
        last_created_at=created_at,  # type: ignore[arg-type]
        message_count=0 if depth is None else int(depth) + 1,  # type: ignore[call-overload]
    )


async def list_chats(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    project_id: uuid.UUID | None,
    agent_id: uuid.UUID | None,
    archived: bool,
    q: str | None,
    page: PageParams,
) -> tuple[list[ChatRow], int]:
    """One query for the page with everything a list item shows, and one for the total."""
    conditions = [Chat.owner_id == owner_id, Chat.archived.is_(archived)]
    if project_id is not None:
        conditions.append(Chat.project_id == project_id)
    if agent_id is not None:
        conditions.append(Chat.agent_id == agent_id)
    if q:
        conditions.append(func.lower(Chat.title).like(like_pattern(q.casefold()), escape="\\"))
    total = await session.scalar(select(func.count()).select_from(Chat).where(*conditions))
    statement = (
        _chat_rows(owner_id)
        .where(*conditions)
        .order_by(Chat.pinned.desc(), Chat.last_activity_at.desc(), Chat.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    rows = (await session.execute(statement)).all()
    return [_row(row) for row in rows], int(total or 0)


async def get_chat_row(session: AsyncSession, *, chat: Chat) -> ChatRow:
    statement = _chat_rows(chat.owner_id).where(Chat.id == chat.id)
    return _row((await session.execute(statement)).one())


async def claim_generation(
    session: AsyncSession, *, chat_id: uuid.UUID, now: datetime, until: datetime
) -> bool:
    """Take the chat's one-reply-at-a-time lease, if nobody holds a live one."""
    result = await session.execute(
        update(Chat)
        .where(
            Chat.id == chat_id,
            or_(Chat.generation_lease_until.is_(None), Chat.generation_lease_until < now),
        )
        .values(generation_lease_until=until),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_lease(session: AsyncSession, *, chat_id: uuid.UUID, until: datetime | None) -> None:
    await session.execute(
        update(Chat).where(Chat.id == chat_id).values(generation_lease_until=until),
        execution_options={"synchronize_session": False},
    )


async def get_message(
    session: AsyncSession, *, chat_id: uuid.UUID, message_id: uuid.UUID
) -> Message | None:
    statement = select(Message).where(Message.id == message_id, Message.chat_id == chat_id)
    return (await session.scalars(statement)).one_or_none()


async def ancestors(
    session: AsyncSession, *, start_id: uuid.UUID, limit: int, above_depth: int = -1
) -> list[Message]:
    """`start_id` and its ancestors, newest first, at most `limit`, deeper than `above_depth`.

    The recursive query stops as soon as the limit is reached: a long chat costs the same as
    a short one.
    """
    first = select(Message.id, Message.parent_id, Message.depth).where(Message.id == start_id)
    branch = first.cte("branch", recursive=True)
    step = select(Message.id, Message.parent_id, Message.depth).join(
        branch, and_(Message.id == branch.c.parent_id, Message.depth > above_depth)
    )
    branch = branch.union_all(step)
    ids = select(branch.c.id).where(branch.c.depth > above_depth).limit(limit)
    statement = select(Message).where(Message.id.in_(ids)).order_by(Message.depth.desc())
    return list((await session.scalars(statement)).all())


async def sibling_ids(
    session: AsyncSession, *, chat_id: uuid.UUID, messages: Sequence[Message]
) -> dict[uuid.UUID | None, list[uuid.UUID]]:
    """For each parent among `messages`, all its children in creation order, in one query."""
    parents = {message.parent_id for message in messages}
    if not parents:
        return {}
    real = [parent for parent in parents if parent is not None]
    condition = Message.parent_id.in_(real) if real else literal_column("1") == 0
    if None in parents:
        condition = or_(condition, Message.parent_id.is_(None))
    statement = (
        select(Message.id, Message.parent_id)
        .where(Message.chat_id == chat_id, condition)
        .order_by(Message.created_at, Message.id)
    )
    children: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for child_id, parent_id in await session.execute(statement):
        children[parent_id].append(child_id)
    return children


async def newest_child(session: AsyncSession, *, message_id: uuid.UUID) -> uuid.UUID | None:
    statement = (
        select(Message.id)
        .where(Message.parent_id == message_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    return await session.scalar(statement)
