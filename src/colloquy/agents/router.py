"""HTTP routes for agents."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from colloquy.accounts.dependencies import CurrentUser
from colloquy.accounts.errors import InvalidAccessToken
from colloquy.agents import service as agents
from colloquy.agents.dependencies import OwnedAgent
from colloquy.agents.errors import AgentNotFound
from colloquy.agents.models import AgentStatus
from colloquy.agents.schemas import AgentCreate, AgentDetail, AgentRead, AgentUpdate
from colloquy.core.dependencies import API_PREFIX, SessionDep, SettingsDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.llm.errors import ModelNotFound
from colloquy.projects.errors import ProjectNotFound

router = APIRouter(prefix=f"{API_PREFIX}/agents", tags=["agents"])
ERRORS = (InvalidAccessToken, AgentNotFound)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(InvalidAccessToken, ProjectNotFound, ModelNotFound),
)
async def create_agent(
    payload: AgentCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> AgentRead:
    """Create an agent (what the seeds call a character): a persona with instructions."""
    return AgentRead.model_validate(
        await agents.create_agent(session, owner=user, data=payload, settings=settings)
    )


@router.get("", responses=responses(InvalidAccessToken, ProjectNotFound, ValidationFailed))
async def list_agents(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    agent_status: Annotated[
        AgentStatus | None, Query(alias="status", description="Only agents with this status.")
    ] = None,
    project_id: Annotated[
        uuid.UUID | None, Query(description="Only agents in this project of yours.")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Search name and description.")
    ] = None,
    sort: Annotated[
        str | None,
        Query(max_length=40, description="name, created_at or updated_at; -key descends."),
    ] = None,
) -> Page[AgentRead]:
    """List your agents (characters), newest first unless `sort` says otherwise."""
    rows, total = await agents.list_agents(
        session,
        owner=user,
        status=agent_status,
        project_id=project_id,
        q=q,
        sort=sort,
        page=page,
    )
    items = [AgentRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{agent_id}", responses=responses(*ERRORS))
async def get_agent(agent: OwnedAgent, session: SessionDep) -> AgentDetail:
    """An agent (character), with how many chats and messages have used it and when last."""
    stats = await agents.agent_stats(session, agent=agent)
    return AgentDetail(**AgentRead.model_validate(agent).model_dump(), stats=stats)


@router.put("/{agent_id}", responses=responses(*ERRORS, ProjectNotFound, ModelNotFound))
async def replace_agent(
    payload: AgentCreate,
    agent: OwnedAgent,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> AgentRead:
    """Replace an agent's (character's) fields; fields left out return to their defaults."""
    return AgentRead.model_validate(
        await agents.replace_agent(
            session, owner=user, agent=agent, data=payload, settings=settings
        )
    )


@router.patch("/{agent_id}", responses=responses(*ERRORS, ProjectNotFound, ModelNotFound))
async def update_agent(
    payload: AgentUpdate,
    agent: OwnedAgent,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> AgentRead:
    """Change some of an agent's (character's) fields; null clears model, token limit, project."""
    return AgentRead.model_validate(
        await agents.update_agent(session, owner=user, agent=agent, data=payload, settings=settings)
    )


@router.delete(
    "/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ERRORS),
)
async def delete_agent(agent: OwnedAgent, session: SessionDep) -> None:
    """Delete an agent (character)."""
    await agents.delete_agent(session, agent=agent)
