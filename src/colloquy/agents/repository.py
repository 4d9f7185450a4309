"""Queries for agents."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.agents.models import Agent, AgentStatus
from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, like_pattern, paginate


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
