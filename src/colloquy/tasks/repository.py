"""Queries for tasks: one owned task, the filtered list, and the purge of long-deleted rows."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams
from colloquy.core.repository import like_pattern, paginate
from colloquy.tasks.models import Task
from colloquy.tasks.schemas import TaskFilters


async def get_task(
    session: AsyncSession, *, task_id: uuid.UUID, owner_id: uuid.UUID, include_deleted: bool
) -> Task | None:
    statement = select(Task).where(Task.id == task_id, Task.owner_id == owner_id)
    if not include_deleted:
        statement = statement.where(Task.deleted_at.is_(None))
    return (await session.scalars(statement)).one_or_none()


def _conditions(filters: TaskFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Task.deleted_at.is_not(None) if filters.deleted else Task.deleted_at.is_(None)
    ]
    # One status is an equality, so (owner_id, status, created_at) serves filter and order.
    if len(filters.statuses) == 1:
        conditions.append(Task.status == filters.statuses[0])
    elif filters.statuses:
        conditions.append(Task.status.in_(filters.statuses))
    if filters.priorities:
        conditions.append(Task.priority.in_(filters.priorities))
    if filters.project_id is not None:
        conditions.append(Task.project_id == filters.project_id)
    if filters.due_before is not None:
        conditions.append(Task.due_at < filters.due_before)
    if filters.due_after is not None:
        conditions.append(Task.due_at > filters.due_after)
    if filters.q:
        pattern = like_pattern(filters.q.casefold())
        conditions.append(
            or_(
                func.lower(Task.title).like(pattern, escape="\\"),
                func.lower(Task.description).like(pattern, escape="\\"),
            )
        )
    return conditions


def search(*, owner_id: uuid.UUID, filters: TaskFilters) -> Select[Task]:
    return select(Task).where(Task.owner_id == owner_id, *_conditions(filters))


async def list_tasks(
    session: AsyncSession, statement: Select[Task], page: PageParams
) -> tuple[Sequence[Task], int]:
    return await paginate(session, statement, page)


async def purge_deleted(session: AsyncSession, *, deleted_before: datetime) -> int:
    """Delete for good the tasks soft-deleted before the cut-off; returns how many."""
    statement = (
        delete(Task)
        .where(Task.deleted_at < deleted_before)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return int(result.rowcount)
