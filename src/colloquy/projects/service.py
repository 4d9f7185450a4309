"""Projects: create, read with counts, update, delete (tasks go with it; agents are detached)."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.core.pagination import PageParams
from colloquy.core.sorting import order_by
from colloquy.projects import repository
from colloquy.projects.errors import ProjectNotFound
from colloquy.projects.models import Project
from colloquy.projects.schemas import (
    ProjectCounts,
    ProjectCreate,
    ProjectUpdate,
    TaskCounts,
)

SORT_KEYS = {
    "name": Project.name,
    "created_at": Project.created_at,
    "updated_at": Project.updated_at,
}


async def get_project(session: AsyncSession, *, owner: User, project_id: uuid.UUID) -> Project:
    """The caller's project; another user's, or none, is ProjectNotFound (404)."""
    project = await repository.get_project(session, project_id=project_id, owner_id=owner.id)
    if project is None:
        raise ProjectNotFound
    return project


async def require_project(
    session: AsyncSession, *, owner: User, project_id: uuid.UUID | None
) -> None:
    """Check a project id another resource refers to: absent is fine, foreign is a 404."""
    if project_id is not None:
        await get_project(session, owner=owner, project_id=project_id)


async def list_projects(
    session: AsyncSession, *, owner: User, q: str | None, sort: str | None, page: PageParams
) -> tuple[Sequence[Project], int]:
    ordering = order_by(sort, SORT_KEYS, default="-created_at", tie_breaker=Project.id)
    statement = repository.search(owner_id=owner.id, q=q).order_by(*ordering)
    return await repository.list_projects(session, statement, page)


async def count_contents(session: AsyncSession, *, project: Project) -> ProjectCounts:
    counts = await repository.count_contents(session, project.id)
    return ProjectCounts(
        agents=counts["agents"],
        chats=counts["chats"],
        tasks=TaskCounts(
            pending=counts["pending"],
            in_progress=counts["in_progress"],
            completed=counts["completed"],
        ),
    )


async def create_project(session: AsyncSession, *, owner: User, data: ProjectCreate) -> Project:
    project = Project(owner_id=owner.id, name=data.name, description=data.description)
    session.add(project)
    await session.flush()
    return project


async def replace_project(
    session: AsyncSession, *, project: Project, data: ProjectCreate
) -> Project:
    project.name = data.name
    project.description = data.description
    await session.flush()
    return project


async def update_project(
    session: AsyncSession, *, project: Project, data: ProjectUpdate
) -> Project:
    for field, value in data.changes().items():
        setattr(project, field, value)
    await session.flush()
    return project


async def delete_project(session: AsyncSession, *, project: Project) -> None:
    """The database deletes the project's tasks and detaches its agents and chats."""
    await session.delete(project)
    await session.flush()
