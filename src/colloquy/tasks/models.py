"""The task table, indexed for the list queries (owner with status, owner with creation time)."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column, str_enum


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Task(IdMixin, TimestampMixin, Base):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_owner_id_status_created_at", "owner_id", "status", "created_at"),
        Index("ix_task_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_task_deleted_at", "deleted_at"),
    )

    owner_id: Mapped[uuid.UUID] = owner_column()
    # Deleting the project deletes its tasks for good.
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus), default=TaskStatus.PENDING)
    priority: Mapped[TaskPriority] = mapped_column(
        str_enum(TaskPriority), default=TaskPriority.MEDIUM
    )
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
