"""Request and response bodies for projects."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from colloquy.core.schemas import PartialUpdate, Strict

ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]


class ProjectCreate(Strict):
    name: ProjectName
    description: Description = ""


class ProjectUpdate(PartialUpdate):
    name: ProjectName | None = None
    description: Description | None = None


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class TaskCounts(BaseModel):
    pending: int = 0
    in_progress: int = 0
    completed: int = 0


class ProjectCounts(BaseModel):
    agents: int = 0
    chats: int = 0
    tasks: TaskCounts = TaskCounts()


class ProjectDetail(ProjectRead):
    counts: ProjectCounts
