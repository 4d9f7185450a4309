"""Loading the caller's own task from the path: live ones, or deleted ones too for restore."""

import uuid
from typing import Annotated

from fastapi import Depends

from colloquy.accounts.dependencies import CurrentUser
from colloquy.core.dependencies import SessionDep
from colloquy.tasks import service as tasks
from colloquy.tasks.models import Task


async def get_owned_task(task_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Task:
    return await tasks.get_task(session, owner=user, task_id=task_id)


async def get_owned_task_even_deleted(
    task_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Task:
    return await tasks.get_task(session, owner=user, task_id=task_id, include_deleted=True)


OwnedTask = Annotated[Task, Depends(get_owned_task)]
OwnedTaskEvenDeleted = Annotated[Task, Depends(get_owned_task_even_deleted)]
