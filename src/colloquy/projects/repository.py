"""Queries for projects, including the counts of what they hold."""

import uuid
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    TableClause,
    column,
    func,
    or_,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, like_pattern, paginate
from colloquy.projects.models import Project

# Other domains' tables named, not imported: they depend on projects, never the reverse.
_agent = table("agent", column("project_id"))
_chat = table("chat", column("project_id"))
_task = table("task", column("project_id"), column("status"), column("deleted_at"))
TASK_STATUSES = ("pending", "in_progress", "completed")


async def get_project(
    session: AsyncSession, *, project_id: uuid.UUID, owner_id: uuid.UUID
) -> Project | None:
    return await get_owned(session, Project, project_id, owner_id)


def search(*, owner_id: uuid.UUID, q: str | None) -> Select[Project]:
    statement = select(Project).where(Project.owner_id == owner_id)
    if q:
        pattern = like_pattern(q.casefold())
        statement = statement.where(
            or_(
                func.lower(Project.name).like(pattern, escape="\\"),
                func.lower(Project.description).like(pattern, escape="\\"),
            )
        )
    return statement


async def list_projects(
    session: AsyncSession, statement: Select[Project], page: PageParams
) -> tuple[Sequence[Project], int]:
    return await paginate(session, statement, page)


def _count(source: TableClause, *conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    return select(func.count()).select_from(source).where(*conditions).scalar_subquery()


async def count_contents(session: AsyncSession, project_id: uuid.UUID) -> dict[str, int]:
    """Agents, chats, and live tasks by status, in one query."""
    live_task = (_task.c.project_id == project_id, _task.c.deleted_at.is_(None))
    statement = select(
        _count(_agent, _agent.c.project_id == project_id).label("agents"),
        _count(_chat, _chat.c.project_id == project_id).label("chats"),
        *(
            _count(_task, *live_task, _task.c.status == status).label(status)
            for status in TASK_STATUSES
        ),
    )
    row = (await session.execute(statement)).one()
    return {key: int(value) for key, value in row._mapping.items()}
