"""Request and response bodies for tasks, and the filters of the task list."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints

from colloquy.core.schemas import PartialUpdate, Strict
from colloquy.tasks.models import TaskPriority, TaskStatus

TaskTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
# A time with an offset, answered back in UTC like every other timestamp; a naive one is a 422.
UTCTime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]


class TaskCreate(Strict):
    title: TaskTitle
    description: Description = ""
    status: TaskStatus = TaskStatus.PENDING
    priority: TaskPriority = TaskPriority.MEDIUM
    due_at: UTCTime | None = None
    project_id: uuid.UUID | None = None


class TaskUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"due_at", "project_id"})

    title: TaskTitle | None = None
    description: Description | None = None
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    due_at: UTCTime | None = None
    project_id: uuid.UUID | None = None


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID | None
    title: str
    description: str
    status: TaskStatus
    priority: TaskPriority
    due_at: datetime | None
    completed_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFilters:
    """What the task list is narrowed to; empty means no restriction."""

    statuses: tuple[TaskStatus, ...] = ()
    priorities: tuple[TaskPriority, ...] = ()
    project_id: uuid.UUID | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    q: str | None = None
    deleted: bool = False
