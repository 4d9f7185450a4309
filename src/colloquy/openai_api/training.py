"""Files and fine-tuning jobs as OpenAI shows them: datasets are files, our jobs, events and
checkpoints become its objects, and its requests become ours. The rules stay in the datasets
and fine-tuning services."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.core.database import Database, transaction
from colloquy.core.errors import NotFound, ValidationFailed
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.datasets.errors import DatasetNotFound
from colloquy.datasets.models import Dataset
from colloquy.datasets.storage import Storage
from colloquy.fine_tuning import service as fine_tuning
from colloquy.fine_tuning.errors import CheckpointNotFound, EventNotFound, JobNotFound
from colloquy.fine_tuning.models import EventLevel, FineTuneCheckpoint, FineTuneEvent, FineTuneJob
from colloquy.fine_tuning.schemas import Hyperparameters, JobCreate
from colloquy.openai_api.errors import FileNotFound
from colloquy.openai_api.training_schemas import (
    CheckpointMetrics,
    FileObject,
    FineTuningJob,
    JobCheckpoint,
    JobCreateRequest,
    JobError,
    JobEvent,
    JobHyperparameters,
    JobMethod,
    SupervisedMethod,
)

Level = Literal["info", "warn", "error"]

FILE_PREFIX = "file-"
JOB_PREFIX = "ftjob-"
EVENT_PREFIX = "ftevent-"
CHECKPOINT_PREFIX = "ftckpt-"
DEFAULTS = Hyperparameters()
MAX_NAME_CHARS = 200
LEVELS: dict[EventLevel, Level] = {
    EventLevel.INFO: "info",
    EventLevel.WARNING: "warn",
    EventLevel.ERROR: "error",
}
# Where OpenAI's request carries what our hyperparameters call by another name.
REQUEST_FIELDS = {
    "learning_rate": ("hyperparameters", "learning_rate_multiplier"),
    "seed": ("seed",),
}


def public_id(prefix: str, value: uuid.UUID) -> str:
    return f"{prefix}{value.hex}"


def parse_id(value: str, prefix: str) -> uuid.UUID | None:
    """Our id from OpenAI's form (`file-<hex>`) or as it is; None when it is neither."""
    try:
        return uuid.UUID(value.removeprefix(prefix))
    except ValueError:
        return None


def unix_time(moment: datetime) -> int:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def file_object(dataset: Dataset) -> FileObject:
    return FileObject(
        id=public_id(FILE_PREFIX, dataset.id),
        bytes=dataset.bytes,
        created_at=unix_time(dataset.created_at),
        filename=dataset.filename,
    )


def dataset_name(filename: str | None) -> str:
    """An uploaded file's dataset is named after the file."""
    return datasets.clean_filename(filename)[:MAX_NAME_CHARS]


async def get_file(
    session: AsyncSession, *, owner: User, file_id: str, param: str | None = None
) -> Dataset:
    """The caller's dataset the file id names; anything else is FileNotFound (404)."""
    dataset_id = parse_id(file_id, FILE_PREFIX)
    if dataset_id is not None:
        try:
            return await datasets.get_dataset(session, owner=owner, dataset_id=dataset_id)
        except DatasetNotFound:
            pass
    raise FileNotFound(file_id, param=param)


async def list_files(
    session: AsyncSession, *, owner: User, after: str | None, limit: int, newest_first: bool
) -> tuple[list[Dataset], bool]:
    after_id = None
    if after is not None:
        after_id = (await get_file(session, owner=owner, file_id=after, param="after")).id
    return await datasets.list_datasets_after(
        session, owner=owner, after_id=after_id, limit=limit, newest_first=newest_first
    )


def _known_id(value: str, prefix: str, missing: type[NotFound]) -> uuid.UUID:
    parsed = parse_id(value, prefix)
    if parsed is None:
        raise missing
    return parsed


def job_id(value: str) -> uuid.UUID:
    """A job's id in either form; anything else is JobNotFound (404)."""
    return _known_id(value, JOB_PREFIX, JobNotFound)


async def get_job(session: AsyncSession, *, owner: User, job: str) -> FineTuneJob:
    return await fine_tuning.get_job(session, owner=owner, job_id=job_id(job))


def hyperparameters(data: JobCreateRequest) -> Hyperparameters:
    """OpenAI's hyperparameters as ours: `auto` is our default, and the learning rate is the
    multiplier times ours. Out of our range is a 400 naming OpenAI's field."""
    chosen = data.chosen_hyperparameters
    values: dict[str, float | int] = {}
    if chosen.n_epochs != "auto":
        values["n_epochs"] = chosen.n_epochs
    if chosen.batch_size != "auto":
        values["batch_size"] = chosen.batch_size
    if chosen.learning_rate_multiplier != "auto":
        values["learning_rate"] = chosen.learning_rate_multiplier * DEFAULTS.learning_rate
    if data.seed is not None:
        values["seed"] = data.seed
    try:
        return Hyperparameters.model_validate(values)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *_request_field(error["loc"])], "msg": error["msg"]}
            for error in exc.errors()
        ]
        raise ValidationFailed(errors=errors) from exc


def _request_field(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """Where in OpenAI's request the value at our hyperparameters' `loc` came from."""
    name = str(loc[0])
    return REQUEST_FIELDS.get(name, ("hyperparameters", name))


async def job_create(session: AsyncSession, *, owner: User, data: JobCreateRequest) -> JobCreate:
    """Our job request for OpenAI's: its file ids checked to be the caller's files."""
    training = await get_file(
        session, owner=owner, file_id=data.training_file, param="training_file"
    )
    validation = None
    if data.validation_file is not None:
        validation = await get_file(
            session, owner=owner, file_id=data.validation_file, param="validation_file"
        )
    return JobCreate(
        model=data.model,
        training_dataset_id=training.id,
        validation_dataset_id=validation.id if validation else None,
        hyperparameters=hyperparameters(data),
        suffix=data.suffix,
    )


async def submit_job(
    database: Database,
    *,
    enqueue: fine_tuning.Enqueue,
    owner: User,
    data: JobCreateRequest,
    settings: Settings,
    storage: Storage,
) -> FineTuningJob:
    async with transaction(database, write=False) as session:
        request = await job_create(session, owner=owner, data=data)
    job = await fine_tuning.submit_job(
        database, enqueue=enqueue, owner=owner, data=request, settings=settings, storage=storage
    )
    async with transaction(database, write=False) as session:
        return (await job_objects(session, [job]))[0]


async def cancel_job(
    database: Database, *, signal: fine_tuning.Signal, owner: User, job: str
) -> FineTuningJob:
    cancelled = await fine_tuning.request_cancel(
        database, signal=signal, owner=owner, job_id=job_id(job)
    )
    async with transaction(database, write=False) as session:
        return (await job_objects(session, [cancelled]))[0]


def _job_hyperparameters(job: FineTuneJob) -> JobHyperparameters:
    used = Hyperparameters.model_validate(job.hyperparameters)
    return JobHyperparameters(
        n_epochs=used.n_epochs,
        batch_size=used.batch_size,
        learning_rate_multiplier=used.learning_rate / DEFAULTS.learning_rate,
    )


def _file_id(dataset_id: uuid.UUID | None) -> str | None:
    return public_id(FILE_PREFIX, dataset_id) if dataset_id else None


def job_object(job: FineTuneJob, names: dict[uuid.UUID, str]) -> FineTuningJob:
    chosen = _job_hyperparameters(job)
    error = None
    if job.error_code is not None:
        error = JobError(code=job.error_code, message=job.error_message or "")
    return FineTuningJob(
        id=public_id(JOB_PREFIX, job.id),
        model=names.get(job.base_model_id, "") if job.base_model_id else "",
        created_at=unix_time(job.created_at),
        finished_at=unix_time(job.finished_at) if job.finished_at else None,
        fine_tuned_model=names.get(job.fine_tuned_model_id) if job.fine_tuned_model_id else None,
        organization_id=f"user-{job.owner_id.hex}",
        status=job.status.value,
        training_file=_file_id(job.training_dataset_id),
        validation_file=_file_id(job.validation_dataset_id),
        hyperparameters=chosen,
        method=JobMethod(supervised=SupervisedMethod(hyperparameters=chosen)),
        trained_tokens=job.trained_tokens,
        error=error,
        seed=int(job.hyperparameters.get("seed", DEFAULTS.seed)),
        user_provided_suffix=job.suffix,
    )


async def job_objects(session: AsyncSession, jobs: Sequence[FineTuneJob]) -> list[FineTuningJob]:
    """The jobs as OpenAI shows them, with their base and fine-tuned models by name."""
    names = await fine_tuning.model_names(
        session, [model for job in jobs for model in (job.base_model_id, job.fine_tuned_model_id)]
    )
    return [job_object(job, names) for job in jobs]


async def list_jobs(
    session: AsyncSession, *, owner: User, after: str | None, limit: int
) -> tuple[list[FineTuningJob], bool]:
    after_id = job_id(after) if after is not None else None
    jobs, has_more = await fine_tuning.list_jobs_after(
        session, owner=owner, after_id=after_id, limit=limit
    )
    return await job_objects(session, jobs), has_more


def event_object(event: FineTuneEvent) -> JobEvent:
    return JobEvent(
        id=public_id(EVENT_PREFIX, event.id),
        created_at=unix_time(event.created_at),
        level=LEVELS[event.level],
        message=event.message,
        type="metrics" if event.kind == "metrics" else "message",
        data=event.data,
    )


async def list_events(
    session: AsyncSession, *, job: FineTuneJob, after: str | None, limit: int
) -> tuple[list[JobEvent], bool]:
    """Newest first, as OpenAI lists them."""
    after_id = _known_id(after, EVENT_PREFIX, EventNotFound) if after is not None else None
    events, has_more = await fine_tuning.list_events_before(
        session, job=job, after_id=after_id, limit=limit
    )
    return [event_object(event) for event in events], has_more


def checkpoint_object(
    checkpoint: FineTuneCheckpoint, *, job: FineTuneJob, model_name: str | None
) -> JobCheckpoint:
    metrics = checkpoint.metrics
    return JobCheckpoint(
        id=public_id(CHECKPOINT_PREFIX, checkpoint.id),
        created_at=unix_time(checkpoint.created_at),
        fine_tuned_model_checkpoint=(
            f"{model_name or public_id(JOB_PREFIX, job.id)}:ckpt-step-{checkpoint.step}"
        ),
        step_number=checkpoint.step,
        metrics=CheckpointMetrics(
            step=checkpoint.step,
            train_loss=metrics.get("train_loss"),
            valid_loss=metrics.get("valid_loss"),
            train_mean_token_accuracy=metrics.get("token_accuracy"),
        ),
        fine_tuning_job_id=public_id(JOB_PREFIX, job.id),
    )


async def list_checkpoints(
    session: AsyncSession, *, job: FineTuneJob, after: str | None, limit: int
) -> tuple[list[JobCheckpoint], bool]:
    """The latest step first, as OpenAI lists them."""
    after_id = None
    if after is not None:
        after_id = _known_id(after, CHECKPOINT_PREFIX, CheckpointNotFound)
    checkpoints, has_more = await fine_tuning.list_checkpoints_after(
        session, job=job, after_id=after_id, limit=limit
    )
    names = await fine_tuning.model_names(session, [job.fine_tuned_model_id])
    name = names.get(job.fine_tuned_model_id) if job.fine_tuned_model_id else None
    return [
        checkpoint_object(checkpoint, job=job, model_name=name) for checkpoint in checkpoints
    ], has_more
