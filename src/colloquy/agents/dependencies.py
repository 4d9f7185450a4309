"""Loading the caller's own agent from the path."""

import uuid
from typing import Annotated

from fastapi import Depends

from colloquy.accounts.dependencies import CurrentUser
from colloquy.agents import service as agents
from colloquy.agents.models import Agent
from colloquy.core.dependencies import SessionDep


async def get_owned_agent(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Agent:
    return await agents.get_agent(session, owner=user, agent_id=agent_id)


OwnedAgent = Annotated[Agent, Depends(get_owned_agent)]
