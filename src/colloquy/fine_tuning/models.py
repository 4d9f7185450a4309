"""Fine-tuning tables: the jobs (the one source of truth for a job's state, whatever runs it),
their numbered events and the checkpoints they saved."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column, str_enum, utcnow


class JobStatus(StrEnum):
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED


ACTIVE = frozenset({JobStatus.VALIDATING_FILES, JobStatus.QUEUED, JobStatus.RUNNING})
FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class EventLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _dataset_column() -> Mapped[uuid.UUID | None]:
    # Datasets a queued or running job needs cannot be deleted (a delete check refuses it);
    # a finished job forgets its dataset instead of keeping it from being deleted.
    return mapped_column(ForeignKey("dataset.id", ondelete="SET NULL"), index=True)


class FineTuneJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "fine_tune_job"
    __table_args__ = (
        Index("ix_fine_tune_job_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_fine_tune_job_status", "status"),
    )

    owner_id: Mapped[uuid.UUID] = owner_column()
    base_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model.id", ondelete="SET NULL")
    )
    training_dataset_id: Mapped[uuid.UUID | None] = _dataset_column()
    validation_dataset_id: Mapped[uuid.UUID | None] = _dataset_column()
    # Every hyperparameter, defaults resolved: what the job really trains with.
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    suffix: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus), default=JobStatus.VALIDATING_FILES
    )
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int | None] = mapped_column(Integer)
    epoch: Mapped[float | None] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    valid_loss: Mapped[float | None] = mapped_column(Float)
    trained_tokens: Mapped[int | None] = mapped_column(BigInteger)
    # Runs started; a run lost with its process counts, so a job that keeps killing its
    # worker ends failed instead of forever requeued.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    fine_tuned_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model.id", ondelete="SET NULL")
    )
    cancel_requested_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    # The last event's number; events are numbered 1, 2, ... per job.
    event_seq: Mapped[int] = mapped_column(Integer, default=0)


class FineTuneEvent(IdMixin, Base):
    __tablename__ = "fine_tune_event"
    __table_args__ = (Index("ix_fine_tune_event_job_id_seq", "job_id", "seq", unique=True),)

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fine_tune_job.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    level: Mapped[EventLevel] = mapped_column(str_enum(EventLevel), default=EventLevel.INFO)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FineTuneCheckpoint(IdMixin, Base):
    __tablename__ = "fine_tune_checkpoint"
    __table_args__ = (Index("ix_fine_tune_checkpoint_job_id_step", "job_id", "step"),)

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fine_tune_job.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
