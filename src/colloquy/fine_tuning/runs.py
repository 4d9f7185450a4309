"""A job's life while it runs, each step one short transaction the task opens: claim it, write
what the trainer reports, and settle the outcome (the new model and its usage, a failure, a
cancellation)."""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import admin as accounts
from colloquy.core.database import utcnow
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.datasets.models import Dataset
from colloquy.fine_tuning import repository
from colloquy.fine_tuning.errors import ModelNotTrainable
from colloquy.fine_tuning.models import (
    EventLevel,
    FineTuneCheckpoint,
    FineTuneJob,
    JobStatus,
)
from colloquy.fine_tuning.service import local_checkpoint, record_event
from colloquy.llm import service as llm
from colloquy.llm.errors import ModelNameTaken, ModelNotFound
from colloquy.llm.models import Model
from colloquy.llm.providers.base import Usage
from colloquy.usage import service as usage
from colloquy.usage.models import UsageSource

MAX_MODEL_NAME = 100
RUNNING = [FineTuneJob.status == JobStatus.RUNNING]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a claimed job trains: the base checkpoint and the datasets' stored objects."""

    job: FineTuneJob
    base_checkpoint: Path
    training: Dataset
    validation: Dataset | None
    resume: bool


async def claim(session: AsyncSession, job_id: uuid.UUID) -> FineTuneJob | None:
    """Take a queued job (queued → running, one more attempt); None if it is not queued, so
    a job delivered twice runs once."""
    now = utcnow()
    claimed = await repository.update_job(
        session,
        job_id,
        when=[FineTuneJob.status == JobStatus.QUEUED, FineTuneJob.cancel_requested_at.is_(None)],
        values={
            "status": JobStatus.RUNNING,
            "attempts": FineTuneJob.attempts + 1,
            "started_at": func.coalesce(FineTuneJob.started_at, now),
            "heartbeat_at": now,
        },
    )
    return await repository.find_job(session, job_id) if claimed else None


async def plan(session: AsyncSession, *, job: FineTuneJob, settings: Settings) -> Plan:
    """The inputs of a claimed job, checked again: the base model or a dataset may have gone
    while it waited (ModelNotTrainable, DatasetNotFound)."""
    owner = await accounts.get_user(session, job.owner_id)
    if job.base_model_id is None:
        raise ModelNotTrainable("The base model was deleted.")
    try:
        base = await llm.get_model(session, user=owner, ref=job.base_model_id, settings=settings)
    except ModelNotFound as exc:
        raise ModelNotTrainable("The base model is no longer available.") from exc
    if job.training_dataset_id is None:
        raise ModelNotTrainable("The training dataset was deleted.")
    training = await datasets.get_dataset(session, owner=owner, dataset_id=job.training_dataset_id)
    validation = None
    if job.validation_dataset_id is not None:
        validation = await datasets.get_dataset(
            session, owner=owner, dataset_id=job.validation_dataset_id
        )
    return Plan(
        job=job,
        base_checkpoint=local_checkpoint(base, settings),
        training=training,
        validation=validation,
        resume=await repository.has_checkpoint(session, job.id),
    )


def _progress(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The job's progress columns an event updates."""
    fields: dict[str, tuple[str, ...]] = {
        "started": ("total_steps",),
        "metrics": ("step", "total_steps", "epoch", "train_loss", "valid_loss"),
        "epoch": ("epoch", "train_loss", "valid_loss"),
        "checkpoint": ("valid_loss",),
    }
    values = {name: data[name] for name in fields.get(kind, ()) if data.get(name) is not None}
    if kind == "started" and data.get("resumed_from_step") is not None:
        values["step"] = data["resumed_from_step"]
    return values


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _message(kind: str, data: dict[str, Any]) -> str:
    if kind == "started":
        text = (
            f"Training started: {data.get('total_steps')} steps over "
            f"{data.get('n_examples')} examples on {data.get('device')}."
        )
        if data.get("resumed_from_step"):
            text += f" Resumed from step {data['resumed_from_step']}."
        return text
    if kind == "metrics":
        return (
            f"Step {data.get('step')}/{data.get('total_steps')}: "
            f"train loss {_number(data.get('train_loss'))}."
        )
    if kind == "checkpoint":
        return f"Checkpoint saved at step {data.get('step')}."
    if kind == "epoch":
        return (
            f"Epoch {data.get('epoch')} finished: train loss {_number(data.get('train_loss'))}, "
            f"validation loss {_number(data.get('valid_loss'))}."
        )
    return kind.replace("_", " ").capitalize() + "."


async def report(session: AsyncSession, job_id: uuid.UUID, kind: str, data: dict[str, Any]) -> bool:
    """Write one trainer event (and the progress it carries); whether the job should stop."""
    values = {**_progress(kind, data), "heartbeat_at": utcnow()}
    if not await repository.update_job(session, job_id, when=RUNNING, values=values):
        return True
    if kind == "checkpoint" and not await repository.has_checkpoint(
        session, job_id, step=int(data["step"])
    ):
        metrics = {name: data.get(name) for name in ("train_loss", "valid_loss", "token_accuracy")}
        repository.add(
            session,
            FineTuneCheckpoint(
                job_id=job_id,
                step=int(data["step"]),
                epoch=data.get("epoch"),
                metrics=metrics,
                path=str(data.get("path", "")),
                created_at=utcnow(),
            ),
        )
    public = {key: value for key, value in data.items() if key != "path"}
    await record_event(session, job_id, kind, _message(kind, data), data=public)
    return await stop_requested(session, job_id)


async def stop_requested(session: AsyncSession, job_id: uuid.UUID) -> bool:
    job = await repository.find_job(session, job_id)
    return job is None or job.status is not JobStatus.RUNNING or job.cancel_requested_at is not None


async def beat(session: AsyncSession, job_id: uuid.UUID) -> bool:
    """Say the job's worker is alive; whether the job should stop."""
    await repository.update_job(session, job_id, when=RUNNING, values={"heartbeat_at": utcnow()})
    return await stop_requested(session, job_id)


def model_name(base: str, *, suffix: str | None, job_id: uuid.UUID) -> str:
    """`ft:<base>[:<suffix>]:<8 hex>`, the base name shortened to fit."""
    tail = f":{suffix}:{job_id.hex[-8:]}" if suffix else f":{job_id.hex[-8:]}"
    return f"ft:{base[: MAX_MODEL_NAME - 3 - len(tail)]}{tail}"


async def succeed(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    trained_tokens: int,
    train_loss: float | None,
    valid_loss: float | None,
    checkpoint: Path,
    settings: Settings,
) -> Model | None:
    """Register the fine-tuned model, charge the trained tokens, and finish the job; None when
    the job was cancelled meanwhile (the caller removes the files)."""
    job = await repository.find_job(session, job_id)
    if job is None or job.status is not JobStatus.RUNNING or job.cancel_requested_at is not None:
        return None
    owner = await accounts.get_user(session, job.owner_id)
    if job.base_model_id is None:
        raise ModelNotTrainable("The base model was deleted during training.")
    base = await llm.get_model(session, user=owner, ref=job.base_model_id, settings=settings)
    description = f"Fine-tuned from {base.name} by job {job.id}."
    try:
        model = await llm.create_fine_tuned_model(
            session,
            owner_id=owner.id,
            base=base,
            name=model_name(base.name, suffix=job.suffix, job_id=job.id),
            checkpoint=str(checkpoint),
            description=description,
        )
    except ModelNameTaken:
        model = await llm.create_fine_tuned_model(
            session,
            owner_id=owner.id,
            base=base,
            name=f"ft:{job.id.hex}",
            checkpoint=str(checkpoint),
            description=description,
        )
    admission = usage.Admission(payer=usage.Payer.of(owner, settings), model_id=base.id, estimate=0)
    await usage.record(
        session,
        admission=admission,
        usage=Usage(input_tokens=trained_tokens, output_tokens=0),
        source=UsageSource.FINE_TUNING,
        status=JobStatus.SUCCEEDED.value,
    )
    now = utcnow()
    values: dict[str, Any] = {
        "status": JobStatus.SUCCEEDED,
        "trained_tokens": trained_tokens,
        "fine_tuned_model_id": model.id,
        "finished_at": now,
        "heartbeat_at": now,
    }
    if train_loss is not None:
        values["train_loss"] = train_loss
    if valid_loss is not None:
        values["valid_loss"] = valid_loss
    await repository.update_job(session, job_id, when=RUNNING, values=values)
    await record_event(
        session,
        job_id,
        "succeeded",
        f"Job succeeded: the model {model.name} is ready.",
        data={
            "fine_tuned_model_id": str(model.id),
            "model": model.name,
            "trained_tokens": trained_tokens,
        },
    )
    return model


async def fail(session: AsyncSession, job_id: uuid.UUID, *, code: str, message: str) -> None:
    now = utcnow()
    if await repository.update_job(
        session,
        job_id,
        when=RUNNING,
        values={
            "status": JobStatus.FAILED,
            "error_code": code,
            "error_message": message,
            "finished_at": now,
            "heartbeat_at": now,
        },
    ):
        await record_event(
            session, job_id, "failed", message, level=EventLevel.ERROR, data={"code": code}
        )


async def cancelled(session: AsyncSession, job_id: uuid.UUID) -> None:
    now = utcnow()
    if await repository.update_job(
        session,
        job_id,
        when=RUNNING,
        values={"status": JobStatus.CANCELLED, "finished_at": now, "heartbeat_at": now},
    ):
        await record_event(session, job_id, "cancelled", "Job cancelled.")


async def hand_back(session: AsyncSession, job_id: uuid.UUID) -> None:
    """The process is stopping: the job goes back to the queue, this run not counted."""
    if await repository.update_job(
        session,
        job_id,
        when=RUNNING,
        values={"status": JobStatus.QUEUED, "attempts": FineTuneJob.attempts - 1},
    ):
        await record_event(
            session,
            job_id,
            "requeued",
            "The server stopped; the job was queued again.",
            level=EventLevel.WARNING,
        )
