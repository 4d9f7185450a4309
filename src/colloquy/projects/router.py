"""HTTP routes for projects."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from colloquy.accounts.dependencies import CurrentUser
from colloquy.accounts.errors import InvalidAccessToken
from colloquy.core.dependencies import API_PREFIX, SessionDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.projects import service as projects
from colloquy.projects.dependencies import OwnedProject
from colloquy.projects.errors import ProjectNotFound
from colloquy.projects.schemas import ProjectCreate, ProjectDetail, ProjectRead, ProjectUpdate

router = APIRouter(prefix=f"{API_PREFIX}/projects", tags=["projects"])
ERRORS = (InvalidAccessToken, ProjectNotFound)


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(InvalidAccessToken))
async def create_project(
    payload: ProjectCreate, user: CurrentUser, session: SessionDep
) -> ProjectRead:
    """Create a project."""
    return ProjectRead.model_validate(
        await projects.create_project(session, owner=user, data=payload)
    )


@router.get("", responses=responses(InvalidAccessToken, ValidationFailed))
async def list_projects(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Search name and description.")
    ] = None,
    sort: Annotated[
        str | None,
        Query(max_length=40, description="name, created_at or updated_at; -key descends."),
    ] = None,
) -> Page[ProjectRead]:
    """List your projects, newest first unless `sort` says otherwise."""
    rows, total = await projects.list_projects(session, owner=user, q=q, sort=sort, page=page)
    items = [ProjectRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{project_id}", responses=responses(*ERRORS))
async def get_project(project: OwnedProject, session: SessionDep) -> ProjectDetail:
    """A project, with counts of its agents, chats and tasks by status."""
    counts = await projects.count_contents(session, project=project)
    return ProjectDetail(**ProjectRead.model_validate(project).model_dump(), counts=counts)


@router.put("/{project_id}", responses=responses(*ERRORS))
async def replace_project(
    payload: ProjectCreate, project: OwnedProject, session: SessionDep
) -> ProjectRead:
    """Replace a project's fields; fields left out return to their defaults."""
    return ProjectRead.model_validate(
        await projects.replace_project(session, project=project, data=payload)
    )


@router.patch("/{project_id}", responses=responses(*ERRORS))
async def update_project(
    payload: ProjectUpdate, project: OwnedProject, session: SessionDep
) -> ProjectRead:
    """Change some of a project's fields."""
    return ProjectRead.model_validate(
        await projects.update_project(session, project=project, data=payload)
    )


@router.delete(
    "/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(*ERRORS)
)
async def delete_project(project: OwnedProject, session: SessionDep) -> None:
    """Delete a project. Its tasks are deleted for good; its agents and chats are kept and
    detached (their `project_id` becomes null)."""
    await projects.delete_project(session, project=project)
