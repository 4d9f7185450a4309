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
from colloquy.core.settings import Settings
from colloquy.core.sorting import order_by
from colloquy.llm import service as llm
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
    """How many chats and messages have used the agent, and when it was last used."""
    chat_count, message_count, last_used_at = await repository.usage(session, agent.id)
    return AgentStats(chat_count=chat_count, message_count=message_count, last_used_at=last_used_at)


async def _resolve_model(
    session: AsyncSession, *, owner: User, ref: str | None, settings: Settings
) -> uuid.UUID | None:
    """The id of the model the caller named; one they cannot use is ModelNotFound (404)."""
    if ref is None:
        return None
    model = await llm.get_model(session, user=owner, ref=ref, settings=settings)
    return model.id


async def create_agent(
    session: AsyncSession, *, owner: User, data: AgentCreate, settings: Settings
) -> Agent:
    await projects.require_project(session, owner=owner, project_id=data.project_id)
    model_id = await _resolve_model(session, owner=owner, ref=data.model_id, settings=settings)
    agent = Agent(owner_id=owner.id, **data.model_dump(exclude={"model_id"}), model_id=model_id)
    session.add(agent)
    await session.flush()
    return agent


async def replace_agent(
    session: AsyncSession, *, owner: User, agent: Agent, data: AgentCreate, settings: Settings
) -> Agent:
    """Every field takes the body's value, or its default when the body leaves it out."""
    await projects.require_project(session, owner=owner, project_id=data.project_id)
    fields = data.model_dump()
    fields["model_id"] = await _resolve_model(
        session, owner=owner, ref=data.model_id, settings=settings
    )
    for field, value in fields.items():
        setattr(agent, field, value)
    await session.flush()
    return agent


async def update_agent(
    session: AsyncSession, *, owner: User, agent: Agent, data: AgentUpdate, settings: Settings
) -> Agent:
    changes = data.changes()
    if "project_id" in changes:
        await projects.require_project(session, owner=owner, project_id=changes["project_id"])
    if "model_id" in changes:
        changes["model_id"] = await _resolve_model(
            session, owner=owner, ref=changes["model_id"], settings=settings
        )
    for field, value in changes.items():
        setattr(agent, field, value)
    await session.flush()
    return agent


async def delete_agent(session: AsyncSession, *, agent: Agent) -> None:
    await session.delete(agent)
    await session.flush()
