"""Tasks: create, list, change, complete, soft delete and restore, and purge after retention."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.core.database import utcnow
from colloquy.core.pagination import PageParams
from colloquy.core.sorting import order_by
from colloquy.projects import service as projects
from colloquy.tasks import repository
from colloquy.tasks.errors import TaskNotFound
from colloquy.tasks.models import Task, TaskPriority, TaskStatus
from colloquy.tasks.schemas import TaskCreate, TaskFilters, TaskUpdate


def _rank(column: ColumnElement[Any], members: type[StrEnum]) -> ColumnElement[int]:
    """Order an enum column by its members' declared order rather than alphabetically."""
    return case({member: rank for rank, member in enumerate(members)}, value=column)


SORT_KEYS: dict[str, ColumnElement[Any]] = {
    "created_at": Task.created_at.expression,
    "due_at": Task.due_at.expression,
    "priority": _rank(Task.priority.expression, TaskPriority),
    "status": _rank(Task.status.expression, TaskStatus),
}


async def get_task(
    session: AsyncSession, *, owner: User, task_id: uuid.UUID, include_deleted: bool = False
) -> Task:
    """The caller's task; another user's, a deleted one (unless asked for), or none is a 404."""
    task = await repository.get_task(
        session, task_id=task_id, owner_id=owner.id, include_deleted=include_deleted
    )
    if task is None:
        raise TaskNotFound
    return task


async def list_tasks(
    session: AsyncSession,
    *,
    owner: User,
    filters: TaskFilters,
    sort: str | None,
    page: PageParams,
) -> tuple[Sequence[Task], int]:
    await projects.require_project(session, owner=owner, project_id=filters.project_id)
    ordering = order_by(sort, SORT_KEYS, default="-created_at", tie_breaker=Task.id)
    if sort is not None and sort.removeprefix("-") == "due_at":
        # Databases disagree on where NULLs sort; tasks without a due date go last.
        ordering[0] = ordering[0].nulls_last()
    statement = repository.search(owner_id=owner.id, filters=filters).order_by(*ordering)
    return await repository.list_tasks(session, statement, page)


def _set_status(task: Task, status: TaskStatus, *, now: datetime) -> None:
    """Completing stamps `completed_at` once; leaving completed clears it."""
    if status == TaskStatus.COMPLETED:
        if task.status != TaskStatus.COMPLETED or task.completed_at is None:
            task.completed_at = now
    else:
        task.completed_at = None
    task.status = status


async def create_task(session: AsyncSession, *, owner: User, data: TaskCreate) -> Task:
    await projects.require_project(session, owner=owner, project_id=data.project_id)
    now = utcnow()
    task = Task(
        created_at=now,
        updated_at=now,
        owner_id=owner.id,
        project_id=data.project_id,
        title=data.title,
        description=data.description,
        priority=data.priority,
        due_at=data.due_at,
        completed_at=now if data.status == TaskStatus.COMPLETED else None,
        status=data.status,
    )
    session.add(task)
    await session.flush()
    return task


async def replace_task(session: AsyncSession, *, owner: User, task: Task, data: TaskCreate) -> Task:
    await projects.require_project(session, owner=owner, project_id=data.project_id)
    task.project_id = data.project_id
    task.title = data.title
    task.description = data.description
    task.priority = data.priority
    task.due_at = data.due_at
    _set_status(task, data.status, now=utcnow())
    await session.flush()
    return task


async def update_task(session: AsyncSession, *, owner: User, task: Task, data: TaskUpdate) -> Task:
    changes = data.changes()
    if "project_id" in changes:
        await projects.require_project(session, owner=owner, project_id=changes["project_id"])
    status = changes.pop("status", None)
    if status is not None:
        _set_status(task, status, now=utcnow())
    for field, value in changes.items():
        setattr(task, field, value)
    await session.flush()
    return task


async def complete_task(session: AsyncSession, *, task: Task) -> Task:
    """Idempotent: completing a completed task keeps its `completed_at`."""
    _set_status(task, TaskStatus.COMPLETED, now=utcnow())
    await session.flush()
    return task


async def delete_task(session: AsyncSession, *, task: Task) -> None:
    """Soft delete: the task is hidden until restored, and purged after the retention period."""
    if task.deleted_at is None:
        task.deleted_at = utcnow()
    await session.flush()


async def restore_task(session: AsyncSession, *, task: Task) -> Task:
    """Bring back a deleted task; restoring a live one changes nothing."""
    task.deleted_at = None
    await session.flush()
    return task


async def purge_deleted_tasks(
    session: AsyncSession, *, retention: timedelta, now: datetime | None = None
) -> int:
    """Delete for good the tasks deleted longer ago than `retention`; returns how many."""
    cutoff = (now or utcnow()) - retention
    return await repository.purge_deleted(session, deleted_before=cutoff)
