"""Queries for agents."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, Uuid, column, distinct, func, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.agents.models import Agent, AgentStatus
from colloquy.core.database import UTCDateTime
from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, like_pattern, paginate

# The chats domain's tables named, not imported: chats depend on agents, never the reverse.
_chat = table("chat", column("id", Uuid), column("agent_id", Uuid))
_message = table("message", column("chat_id", Uuid), column("created_at", UTCDateTime))


async def get_agent(
    session: AsyncSession, *, agent_id: uuid.UUID, owner_id: uuid.UUID
) -> Agent | None:
    return await get_owned(session, Agent, agent_id, owner_id)


def search(
    *,
    owner_id: uuid.UUID,
    status: AgentStatus | None,
    project_id: uuid.UUID | None,
    q: str | None,
) -> Select[Agent]:
    statement = select(Agent).where(Agent.owner_id == owner_id)
    if status is not None:
        statement = statement.where(Agent.status == status)
    if project_id is not None:
        statement = statement.where(Agent.project_id == project_id)
    if q:
        pattern = like_pattern(q.casefold())
        statement = statement.where(
            or_(
                func.lower(Agent.name).like(pattern, escape="\\"),
                func.lower(Agent.description).like(pattern, escape="\\"),
            )
        )
    return statement


async def list_agents(
    session: AsyncSession, statement: Select[Agent], page: PageParams
) -> tuple[Sequence[Agent], int]:
    return await paginate(session, statement, page)


async def usage(session: AsyncSession, agent_id: uuid.UUID) -> tuple[int, int, datetime | None]:
    """The agent's chats, their messages and the newest message's time, in one query."""
    statement = (
        select(
            func.count(distinct(_chat.c.id)),
            func.count(_message.c.chat_id),
            func.max(_message.c.created_at),
        )
        .select_from(_chat.outerjoin(_message, _message.c.chat_id == _chat.c.id))
        .where(_chat.c.agent_id == agent_id)
    )
    chats, messages, last_used_at = (await session.execute(statement)).one()
    return int(chats), int(messages), last_used_at
