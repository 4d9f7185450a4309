"""Agents (the seeds' characters): create, list, read with usage stats, update, delete."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.agents import repository
from colloquy.agents.errors import AgentNotFound
from colloquy.agents.models import Agent, AgentStatus
from colloquy.agents.schemas import AgentCreate, AgentStats, AgentUpdate
from colloquy.core.pagination import PageParams
from colloquy.core.sorting import order_by
from colloquy.projects import service as projects

SORT_KEYS = {
    "name": Agent.name,
    "created_at": Agent.created_at,
    "updated_at": Agent.updated_at,
}


async def get_agent(session: AsyncSession, *, owner: User, agent_id: uuid.UUID) -> Agent:
    """The caller's agent; another user's, or none, is AgentNotFound (404)."""
    agent = await repository.get_agent(session, agent_id=agent_id, owner_id=owner.id)
    if agent is None:
        raise AgentNotFound
    return agent


async def list_agents(
    session: AsyncSession,
    *,
    owner: User,
    status: AgentStatus | None,
    project_id: uuid.UUID | None,
    q: str | None,
    sort: str | None,
    page: PageParams,
) -> tuple[Sequence[Agent], int]:
    """The caller's agents; filtering by a project that is not theirs is ProjectNotFound."""
    await projects.require_project(session, owner=owner, project_id=project_id)
    ordering = order_by(sort, SORT_KEYS, default="-created_at", tie_breaker=Agent.id)
    statement = repository.search(
        owner_id=owner.id, status=status, project_id=project_id, q=q
    ).order_by(*ordering)
    return await repository.list_agents(session, statement, page)


async def agent_stats(session: AsyncSession, *, agent: Agent) -> AgentStats:
    """How much the agent has been used.

    No chats exist yet, so every agent is unused; once they do, this becomes one query
    counting the agent's chats and messages and taking the latest message's time.
    """
    return AgentStats(chat_count=0, message_count=0, last_used_at=None)


async def create_agent(session: AsyncSession, *, owner: User, data: AgentCreate) -> Agent:
    await projects.require_project(session, owner=owner, project_id=data.project_id)
    agent = Agent(owner_id=owner.id, **data.model_dump())
    session.add(agent)
    await session.flush()
    return agent


async def replace_agent(
    session: AsyncSession, *, owner: User, agent: Agent, data: AgentCreate
) -> Agent:
    """Every field takes the body's value, or its default when the body leaves it out."""
    await projects.require_project(session, owner=owner, project_id=data.project_id)
    for field, value in data.model_dump().items():
        setattr(agent, field, value)
    await session.flush()
    return agent


async def update_agent(
    session: AsyncSession, *, owner: User, agent: Agent, data: AgentUpdate
) -> Agent:
    changes = data.changes()
    if "project_id" in changes:
        await projects.require_project(session, owner=owner, project_id=changes["project_id"])
    for field, value in changes.items():
        setattr(agent, field, value)
    await session.flush()
    return agent


async def delete_agent(session: AsyncSession, *, agent: Agent) -> None:
    await session.delete(agent)
    await session.flush()
