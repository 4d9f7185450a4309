"""HTTP routes for tasks."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from colloquy.accounts.dependencies import CurrentUser
from colloquy.accounts.errors import InvalidAccessToken
from colloquy.core.dependencies import API_PREFIX, SessionDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.projects.errors import ProjectNotFound
from colloquy.tasks import service as tasks
from colloquy.tasks.dependencies import OwnedTask, OwnedTaskEvenDeleted
from colloquy.tasks.errors import TaskNotFound
from colloquy.tasks.models import TaskPriority, TaskStatus
from colloquy.tasks.schemas import TaskCreate, TaskFilters, TaskRead, TaskUpdate, UTCTime

router = APIRouter(prefix=f"{API_PREFIX}/tasks", tags=["tasks"])
ERRORS = (InvalidAccessToken, TaskNotFound, ValidationFailed)
WRITE_ERRORS = (*ERRORS, ProjectNotFound)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(InvalidAccessToken, ProjectNotFound, ValidationFailed),
)
async def create_task(payload: TaskCreate, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Create a task, optionally in one of your projects."""
    return TaskRead.model_validate(await tasks.create_task(session, owner=user, data=payload))


@router.get("", responses=responses(InvalidAccessToken, ProjectNotFound, ValidationFailed))
async def list_tasks(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    statuses: Annotated[
        list[TaskStatus] | None,
        Query(alias="status", description="Only these statuses; repeat for several."),
    ] = None,
    priorities: Annotated[
        list[TaskPriority] | None,
        Query(alias="priority", description="Only these priorities; repeat for several."),
    ] = None,
    project_id: Annotated[uuid.UUID | None, Query(description="Only this project's.")] = None,
    due_before: Annotated[
        UTCTime | None, Query(description="Due strictly before this time (with offset).")
    ] = None,
    due_after: Annotated[
        UTCTime | None, Query(description="Due strictly after this time (with offset).")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Search title and description.")
    ] = None,
    deleted: Annotated[
        bool, Query(description="List deleted tasks (restorable until purged) instead.")
    ] = False,
    sort: Annotated[
        str | None,
        Query(max_length=40, description="created_at, due_at, priority or status; -key descends."),
    ] = None,
) -> Page[TaskRead]:
    """List your tasks, newest first unless `sort` says otherwise."""
    filters = TaskFilters(
        statuses=tuple(statuses or ()),
        priorities=tuple(priorities or ()),
        project_id=project_id,
        due_before=due_before,
        due_after=due_after,
        q=q,
        deleted=deleted,
    )
    rows, total = await tasks.list_tasks(session, owner=user, filters=filters, sort=sort, page=page)
    items = [TaskRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{task_id}", responses=responses(*ERRORS))
async def get_task(task: OwnedTask) -> TaskRead:
    """A task."""
    return TaskRead.model_validate(task)


@router.put("/{task_id}", responses=responses(*WRITE_ERRORS))
async def replace_task(
    payload: TaskCreate, task: OwnedTask, user: CurrentUser, session: SessionDep
) -> TaskRead:
    """Replace a task's fields; fields left out return to their defaults."""
    return TaskRead.model_validate(
        await tasks.replace_task(session, owner=user, task=task, data=payload)
    )


@router.patch("/{task_id}", responses=responses(*WRITE_ERRORS))
async def update_task(
    payload: TaskUpdate, task: OwnedTask, user: CurrentUser, session: SessionDep
) -> TaskRead:
    """Change some of a task's fields; `due_at` and `project_id` may be set to null."""
    return TaskRead.model_validate(
        await tasks.update_task(session, owner=user, task=task, data=payload)
    )


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ERRORS),
)
async def delete_task(task: OwnedTask, session: SessionDep) -> None:
    """Delete a task. It can be restored until it is purged after the retention period."""
    await tasks.delete_task(session, task=task)


@router.patch("/{task_id}/complete", responses=responses(*ERRORS))
async def complete_task(task: OwnedTask, session: SessionDep) -> TaskRead:
    """Mark a task completed; completing it again keeps the first `completed_at`."""
    return TaskRead.model_validate(await tasks.complete_task(session, task=task))


@router.post("/{task_id}/restore", responses=responses(*ERRORS))
async def restore_task(task: OwnedTaskEvenDeleted, session: SessionDep) -> TaskRead:
    """Bring back a deleted task; restoring a task that is not deleted changes nothing."""
    return TaskRead.model_validate(await tasks.restore_task(session, task=task))
