"""Fine-tuning jobs: submit (checked and queued), read, follow, cancel; the dataset-in-use rule;
and finding the jobs a dead process left running."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.core.database import Database, transaction, utcnow
from colloquy.core.pagination import PageParams
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.datasets.errors import DatasetFileMissing, DatasetInUse
from colloquy.datasets.models import Dataset
from colloquy.datasets.storage import Storage
from colloquy.fine_tuning import repository
from colloquy.fine_tuning.errors import (
    CheckpointNotFound,
    EventNotFound,
    JobFinished,
    JobNotFound,
    ModelNotTrainable,
    TooManyJobs,
)
from colloquy.fine_tuning.models import (
    ACTIVE,
    EventLevel,
    FineTuneCheckpoint,
    FineTuneEvent,
    FineTuneJob,
    JobStatus,
)
from colloquy.fine_tuning.schemas import JobCreate
from colloquy.llm import service as llm
from colloquy.llm.config import ProviderKind, load_provider_configs
from colloquy.llm.models import Model
from colloquy.llm.providers.local import resolve_checkpoint

log = structlog.get_logger("colloquy.fine_tuning")

WORKER_LOST = "worker_lost"
FOLLOW_POLL_SECONDS = 0.5
FOLLOW_BATCH = 100


async def record_event(
    session: AsyncSession,
    job_id: uuid.UUID,
    kind: str,
    message: str,
    *,
    data: dict[str, Any] | None = None,
    level: EventLevel = EventLevel.INFO,
) -> FineTuneEvent:
    """Append the job's next numbered event."""
    event = FineTuneEvent(
        job_id=job_id,
        seq=await repository.next_event_seq(session, job_id),
        kind=kind,
        level=level,
        message=message,
        data=data or {},
        created_at=utcnow(),
    )
    repository.add(session, event)
    await session.flush()
    return event


def local_checkpoint(model: Model, settings: Settings) -> Path:
    """The checkpoint directory of a model served by a `local` provider; ModelNotTrainable
    (422) says why a model has none."""
    kinds = {config.name: config.kind for config in load_provider_configs(settings)}
    if kinds.get(model.provider) is not ProviderKind.LOCAL:
        raise ModelNotTrainable(
            f"The model {model.name!r} is served by the {model.provider!r} provider; "
            "only local checkpoints can be fine-tuned."
        )
    path = resolve_checkpoint(model.provider_model, settings.model_dirs)
    if path is None or not (path / "config.json").is_file():
        raise ModelNotTrainable(
            f"The model {model.name!r} has no checkpoint under the configured model directories."
        )
    return path


async def _own_dataset(
    session: AsyncSession, storage: Storage, *, owner: User, dataset_id: uuid.UUID
) -> Dataset:
    dataset = await datasets.get_dataset(session, owner=owner, dataset_id=dataset_id)
    if not await storage.exists(dataset.storage_key):
        raise DatasetFileMissing
    return dataset


async def create_job(
    session: AsyncSession,
    *,
    owner: User,
    data: JobCreate,
    settings: Settings,
    storage: Storage,
) -> FineTuneJob:
    """Check the base model and the datasets, then store the job as queued. The caller sends it
    to the runner once this transaction has committed."""
    await repository.lock_owner(session, owner.id)
    if (
        await repository.count_active(session, owner_id=owner.id)
        >= settings.fine_tuning_jobs_per_user
    ):
        raise TooManyJobs(
            f"You may have {settings.fine_tuning_jobs_per_user} queued or running "
            "fine-tuning jobs; wait for one to finish or cancel one."
        )
    model = await llm.get_model(session, user=owner, ref=data.model, settings=settings)
    local_checkpoint(model, settings)
    training = await _own_dataset(
        session, storage, owner=owner, dataset_id=data.training_dataset_id
    )
    validation = None
    if data.validation_dataset_id is not None:
        validation = await _own_dataset(
            session, storage, owner=owner, dataset_id=data.validation_dataset_id
        )
    job = FineTuneJob(
        owner_id=owner.id,
        base_model_id=model.id,
        training_dataset_id=training.id,
        validation_dataset_id=validation.id if validation else None,
        hyperparameters=data.hyperparameters.model_dump(),
        suffix=data.suffix,
        status=JobStatus.VALIDATING_FILES,
    )
    repository.add(session, job)
    await session.flush()
    await record_event(session, job.id, "created", f"Fine-tuning job {job.id} created.")
    await record_event(
        session,
        job.id,
        "validated",
        "Files validated.",
        data={
            "training_examples": training.n_examples,
            "validation_examples": validation.n_examples if validation else None,
        },
    )
    job.status = JobStatus.QUEUED
    await session.flush()
    await record_event(session, job.id, "queued", "Job queued.")
    return job


async def get_job(session: AsyncSession, *, owner: User, job_id: uuid.UUID) -> FineTuneJob:
    job = await repository.get_job(session, job_id=job_id, owner_id=owner.id)
    if job is None:
        raise JobNotFound
    return job


async def list_jobs(
    session: AsyncSession, *, owner: User, status: JobStatus | None, page: PageParams
) -> tuple[Sequence[FineTuneJob], int]:
    return await repository.list_jobs(session, owner_id=owner.id, status=status, page=page)


async def list_events(
    session: AsyncSession, *, job: FineTuneJob, page: PageParams
) -> tuple[Sequence[FineTuneEvent], int]:
    return await repository.list_events(session, job_id=job.id, page=page)


async def list_checkpoints(
    session: AsyncSession, *, job: FineTuneJob, page: PageParams
) -> tuple[Sequence[FineTuneCheckpoint], int]:
    return await repository.list_checkpoints(session, job_id=job.id, page=page)


async def list_jobs_after(
    session: AsyncSession, *, owner: User, after_id: uuid.UUID | None, limit: int
) -> tuple[list[FineTuneJob], bool]:
    """Up to `limit` of the caller's jobs, newest first, past the job `after_id` (which must be
    theirs); and whether more follow."""
    after = await get_job(session, owner=owner, job_id=after_id) if after_id else None
    return await repository.list_jobs_after(session, owner_id=owner.id, after=after, limit=limit)


async def list_events_before(
    session: AsyncSession, *, job: FineTuneJob, after_id: uuid.UUID | None, limit: int
) -> tuple[list[FineTuneEvent], bool]:
    """Up to `limit` of the job's events, newest first, older than the event `after_id`."""
    before = None
    if after_id is not None:
        event = await repository.get_event(session, job_id=job.id, event_id=after_id)
        if event is None:
            raise EventNotFound
        before = event.seq
    return await repository.list_events_before(session, job_id=job.id, before=before, limit=limit)


async def list_checkpoints_after(
    session: AsyncSession, *, job: FineTuneJob, after_id: uuid.UUID | None, limit: int
) -> tuple[list[FineTuneCheckpoint], bool]:
    """Up to `limit` of the job's checkpoints, latest step first, past the checkpoint
    `after_id`."""
    after = None
    if after_id is not None:
        after = await repository.get_checkpoint(session, job_id=job.id, checkpoint_id=after_id)
        if after is None:
            raise CheckpointNotFound
    return await repository.list_checkpoints_after(session, job_id=job.id, after=after, limit=limit)


async def model_names(
    session: AsyncSession, model_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """The names of the models jobs refer to (their base and fine-tuned models), by id."""
    names: dict[uuid.UUID, str] = {}
    for model_id in model_ids:
        if model_id is not None and model_id not in names:
            names[model_id] = (await llm.get_any_model(session, str(model_id))).name
    return names


async def cancel_job(session: AsyncSession, *, job: FineTuneJob) -> FineTuneJob:
    """A job that has not started is cancelled at once; a running one is asked to stop (its
    runner finishes the cancel). A finished job is JobFinished (409)."""
    now = utcnow()
    if job.status.is_finished:
        raise JobFinished(f"The job has already {job.status.value}.")
    if job.status is JobStatus.RUNNING:
        if job.cancel_requested_at is None:
            await repository.update_job(
                session,
                job.id,
                when=[FineTuneJob.status == JobStatus.RUNNING],
                values={"cancel_requested_at": now},
            )
            await record_event(session, job.id, "cancel_requested", "Cancellation requested.")
    elif await repository.update_job(
        session,
        job.id,
        when=[FineTuneJob.status.in_(ACTIVE - {JobStatus.RUNNING})],
        values={"status": JobStatus.CANCELLED, "cancel_requested_at": now, "finished_at": now},
    ):
        await record_event(session, job.id, "cancelled", "Job cancelled.")
    refreshed = await repository.find_job(session, job.id)
    if refreshed is None:
        raise JobNotFound
    return refreshed


async def follow_events(
    database: Database, *, job_id: uuid.UUID, after: int = 0
) -> AsyncIterator[FineTuneEvent]:
    """The job's events after number `after`, then new ones as they are written, until the job
    has finished and every event is out. Each look is a short read of its own."""
    while True:
        async with transaction(database, write=False) as session:
            status = await repository.job_status(session, job_id)
            events = await repository.events_after(
                session, job_id=job_id, after=after, limit=FOLLOW_BATCH
            )
        for event in events:
            after = event.seq
            yield event
        if len(events) == FOLLOW_BATCH:
            continue
        # The status was read before the events: every event of a finished job was in the batch.
        if status is None or status.is_finished:
            return
        await anyio.sleep(FOLLOW_POLL_SECONDS)


async def check_dataset_unused(session: AsyncSession, dataset: Dataset) -> None:
    """Registered with datasets: a dataset a queued or running job needs cannot be deleted."""
    if await repository.dataset_in_use(session, dataset.id):
        raise DatasetInUse


def register_dataset_check() -> None:
    datasets.register_delete_check(check_dataset_unused)


async def recover_orphans(
    session: AsyncSession, *, settings: Settings, stale_before: datetime | None = None
) -> list[uuid.UUID]:
    """Jobs left running by a process that died: queued again (they resume from their last
    checkpoint) or, after `fine_tuning_max_attempts` runs, failed with `worker_lost`. Returns
    the ids queued again."""
    requeued: list[uuid.UUID] = []
    for job in await repository.stale_running(session, before=stale_before):
        if job.cancel_requested_at is not None:
            job.status = JobStatus.CANCELLED
            job.finished_at = utcnow()
            await session.flush()
            await record_event(session, job.id, "cancelled", "Job cancelled.")
        elif job.attempts >= settings.fine_tuning_max_attempts:
            message = (
                f"The worker running the job was lost {job.attempts} time(s); "
                "the job will not be retried."
            )
            job.status = JobStatus.FAILED
            job.error_code = WORKER_LOST
            job.error_message = message
            job.finished_at = utcnow()
            await session.flush()
            await record_event(
                session,
                job.id,
                "failed",
                message,
                level=EventLevel.ERROR,
                data={"code": WORKER_LOST},
            )
        else:
            job.status = JobStatus.QUEUED
            await session.flush()
            await record_event(
                session,
                job.id,
                "requeued",
                "The worker running the job was lost; the job was queued again.",
                level=EventLevel.WARNING,
                data={"attempts": job.attempts},
            )
            requeued.append(job.id)
    return requeued


async def queued_job_ids(session: AsyncSession) -> list[uuid.UUID]:
    return await repository.ids_with_status(session, JobStatus.QUEUED)


Enqueue = Callable[[uuid.UUID], Awaitable[None]]
Signal = Callable[[uuid.UUID], Awaitable[None]]


async def submit_job(
    database: Database,
    *,
    enqueue: Enqueue,
    owner: User,
    data: JobCreate,
    settings: Settings,
    storage: Storage,
) -> FineTuneJob:
    """`create_job` in a transaction of its own, sent to the runner only once it committed."""
    async with transaction(database) as session:
        job = await create_job(session, owner=owner, data=data, settings=settings, storage=storage)
    await _tell_runner(enqueue, job.id, "job_enqueue_failed")
    return job


async def _tell_runner(call: Enqueue | Signal, job_id: uuid.UUID, event: str) -> None:
    """The row is committed and is what counts: when the queue cannot be told now, the runner's
    recovery (at start-up, and every minute with workers) finds the job in the table."""
    try:
        await call(job_id)
    except Exception:
        log.warning(event, job_id=str(job_id), exc_info=True)


async def request_cancel(
    database: Database, *, signal: Signal, owner: User, job_id: uuid.UUID
) -> FineTuneJob:
    """`cancel_job` in a transaction of its own; the runner is told once the request is
    committed (to stop a running job, or drop a queued one it still holds)."""
    async with transaction(database) as session:
        job = await cancel_job(session, job=await get_job(session, owner=owner, job_id=job_id))
    await _tell_runner(signal, job.id, "job_cancel_signal_failed")
    return job
