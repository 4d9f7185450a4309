"""Request and response bodies for fine-tuning: datasets from chats, jobs, events, checkpoints."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from colloquy.core.schemas import Strict
from colloquy.datasets.schemas import DatasetName, Description
from colloquy.fine_tuning.models import EventLevel, FineTuneCheckpoint, FineTuneJob, JobStatus


class DatasetFromChats(Strict):
    name: DatasetName
    description: Description = ""
    chat_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)] = Field(
        description="Your chats; each one's active branch becomes one example, in this order."
    )
    include_system: bool = Field(
        default=False, description="Start each example with the chat agent's instructions."
    )
    only_rated: bool = Field(
        default=False,
        description="Learn only the replies you rated 1: the others stay as context with "
        "weight 0, each example ends at its last such reply, and a chat without one is left out.",
    )


Suffix = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$"),
    Field(description="Up to 40 of a-z, 0-9, '-' and '_'; becomes part of the model's name."),
]


class Hyperparameters(Strict):
    """What the trainer uses; anything left out takes its default, stored with the job."""

    n_epochs: Annotated[int, Field(ge=1, le=50)] = 3
    batch_size: Annotated[int, Field(ge=1, le=256)] = 4
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 2e-4
    lora_rank: Annotated[int, Field(ge=1, le=256)] = 8
    lora_alpha: Annotated[int, Field(ge=1, le=1024)] = 16
    max_seq_length: Annotated[int, Field(ge=16, le=32768)] = 1024
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 42


class JobCreate(Strict):
    model: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The base model, by id or name: a local checkpoint you can use."
    )
    training_dataset_id: uuid.UUID
    validation_dataset_id: uuid.UUID | None = None
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    suffix: Suffix | None = None


class JobProgress(BaseModel):
    step: int
    total_steps: int | None
    epoch: float | None
    train_loss: float | None
    valid_loss: float | None


class JobError(BaseModel):
    code: str
    message: str


class JobRead(BaseModel):
    id: uuid.UUID
    status: JobStatus
    model: uuid.UUID | None = Field(description="The base model's id.")
    training_dataset_id: uuid.UUID | None
    validation_dataset_id: uuid.UUID | None
    hyperparameters: dict[str, Any]
    suffix: str | None
    progress: JobProgress
    trained_tokens: int | None
    error: JobError | None
    fine_tuned_model_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: FineTuneJob) -> "JobRead":
        error = None
        if job.error_code is not None:
            error = JobError(code=job.error_code, message=job.error_message or "")
        return cls(
            id=job.id,
            status=job.status,
            model=job.base_model_id,
            training_dataset_id=job.training_dataset_id,
            validation_dataset_id=job.validation_dataset_id,
            hyperparameters=job.hyperparameters,
            suffix=job.suffix,
            progress=JobProgress(
                step=job.step,
                total_steps=job.total_steps,
                epoch=job.epoch,
                train_loss=job.train_loss,
                valid_loss=job.valid_loss,
            ),
            trained_tokens=job.trained_tokens,
            error=error,
            fine_tuned_model_id=job.fine_tuned_model_id,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int = Field(description="1, 2, ... per job; the SSE event id.")
    level: EventLevel
    kind: str
    message: str
    data: dict[str, Any]
    created_at: datetime


class CheckpointMetrics(BaseModel):
    train_loss: float | None = None
    valid_loss: float | None = None
    token_accuracy: float | None = None


class CheckpointRead(BaseModel):
    id: uuid.UUID
    step: int
    epoch: float | None
    metrics: CheckpointMetrics
    created_at: datetime

    @classmethod
    def of(cls, checkpoint: FineTuneCheckpoint) -> "CheckpointRead":
        return cls(
            id=checkpoint.id,
            step=checkpoint.step,
            epoch=checkpoint.epoch,
            metrics=CheckpointMetrics.model_validate(checkpoint.metrics),
            created_at=checkpoint.created_at,
        )
