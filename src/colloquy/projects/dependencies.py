"""Loading the caller's own project from the path."""

import uuid
from typing import Annotated

from fastapi import Depends

from colloquy.accounts.dependencies import CurrentUser
from colloquy.core.dependencies import SessionDep
from colloquy.projects import service as projects
from colloquy.projects.models import Project


async def get_owned_project(
    project_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Project:
    return await projects.get_project(session, owner=user, project_id=project_id)


OwnedProject = Annotated[Project, Depends(get_owned_project)]
