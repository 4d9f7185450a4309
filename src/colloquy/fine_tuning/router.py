"""HTTP routes for fine-tuning: datasets made from your chats, and fine-tuning jobs (their
events as a page or a live stream, checkpoints, cancel)."""

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import StreamingResponse

from colloquy.accounts.dependencies import BriefUser, CurrentUser
from colloquy.accounts.errors import InsufficientScope, InvalidAccessToken
from colloquy.chats.errors import ChatNotFound
from colloquy.chats.events import Event
from colloquy.chats.streaming import event_stream
from colloquy.core.database import Database
from colloquy.core.dependencies import API_PREFIX, DatabaseDep, SessionDep, SettingsDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.datasets.dependencies import StorageDep
from colloquy.datasets.errors import (
    DatasetFileMissing,
    DatasetInvalid,
    DatasetNotFound,
    DatasetTooLarge,
)
from colloquy.datasets.schemas import DatasetRead
from colloquy.fine_tuning import from_chats
from colloquy.fine_tuning import service as fine_tuning
from colloquy.fine_tuning.dependencies import OwnedJob, RunnerDep
from colloquy.fine_tuning.errors import JobFinished, JobNotFound, ModelNotTrainable, TooManyJobs
from colloquy.fine_tuning.models import JobStatus
from colloquy.fine_tuning.schemas import (
    CheckpointRead,
    DatasetFromChats,
    EventRead,
    JobCreate,
    JobRead,
)
from colloquy.llm.errors import ModelNotFound

router = APIRouter(prefix=API_PREFIX, tags=["datasets"])
jobs_router = APIRouter(prefix=f"{API_PREFIX}/fine-tuning/jobs", tags=["fine-tuning"])
AUTH_ERRORS = (InvalidAccessToken, InsufficientScope)
JOB_ERRORS = (*AUTH_ERRORS, JobNotFound, ValidationFailed)
EVENT_STREAM = "text/event-stream"


@router.post(
    "/datasets/from-chats",
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        InvalidAccessToken,
        InsufficientScope,
        ChatNotFound,
        DatasetTooLarge,
        DatasetInvalid,
        ValidationFailed,
    ),
)
async def create_dataset_from_chats(
    payload: DatasetFromChats,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> DatasetRead:
    """Make a dataset of your chats: each chat's active branch becomes one example."""
    dataset = await from_chats.create_dataset_from_chats(
        session, storage=storage, settings=settings, owner=user, data=payload
    )
    return DatasetRead.model_validate(dataset)


@jobs_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        *AUTH_ERRORS,
        ModelNotFound,
        DatasetNotFound,
        ModelNotTrainable,
        DatasetFileMissing,
        TooManyJobs,
        ValidationFailed,
    ),
)
async def create_job(
    payload: JobCreate,
    user: BriefUser,
    database: DatabaseDep,
    settings: SettingsDep,
    storage: StorageDep,
    runner: RunnerDep,
) -> JobRead:
    """Fine-tune a local model on one of your datasets; the job is queued and runs in turn."""
    job = await fine_tuning.submit_job(
        database,
        enqueue=runner.enqueue,
        owner=user,
        data=payload,
        settings=settings,
        storage=storage,
    )
    return JobRead.of(job)


@jobs_router.get("", responses=responses(*AUTH_ERRORS, ValidationFailed))
async def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this state.")] = None,
) -> Page[JobRead]:
    """Your fine-tuning jobs, newest first."""
    rows, total = await fine_tuning.list_jobs(session, owner=user, status=status, page=page)
    return Page(
        items=[JobRead.of(row) for row in rows], total=total, limit=page.limit, offset=page.offset
    )


@jobs_router.get("/{job_id}", responses=responses(*JOB_ERRORS))
async def get_job(job: OwnedJob) -> JobRead:
    """A job: its state, hyperparameters, progress, and the model it made."""
    return JobRead.of(job)


async def _follow(database: Database, job_id: uuid.UUID, after: int) -> AsyncIterator[Event]:
    """The job's events as SSE events: named by kind, numbered by their sequence."""
    async for row in fine_tuning.follow_events(database, job_id=job_id, after=after):
        event = EventRead.model_validate(row)
        yield Event(id=event.seq, type=event.kind, data=event.model_dump(mode="json"))


@jobs_router.get(
    "/{job_id}/events",
    response_model=Page[EventRead],
    responses={
        200: {
            "content": {EVENT_STREAM: {}},
            "description": f"A page of events; with `Accept: {EVENT_STREAM}`, the events after "
            "`Last-Event-ID` and then new ones live, until the job ends.",
        },
        **responses(*JOB_ERRORS),
    },
)
async def list_events(
    request: Request,
    job: OwnedJob,
    session: SessionDep,
    database: DatabaseDep,
    page: PageDep,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> Page[EventRead] | StreamingResponse:
    """The job's events, oldest first: created, validated, started, metrics, checkpoints,
    epochs and how it ended."""
    if EVENT_STREAM in request.headers.get("accept", ""):
        return event_stream(_follow(database, job.id, last_event_id or 0))
    rows, total = await fine_tuning.list_events(session, job=job, page=page)
    return Page(
        items=[EventRead.model_validate(row) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@jobs_router.get("/{job_id}/checkpoints", responses=responses(*JOB_ERRORS))
async def list_checkpoints(
    job: OwnedJob, session: SessionDep, page: PageDep
) -> Page[CheckpointRead]:
    """The checkpoints the job saved (one per epoch), with their metrics."""
    rows, total = await fine_tuning.list_checkpoints(session, job=job, page=page)
    return Page(
        items=[CheckpointRead.of(row) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@jobs_router.post("/{job_id}/cancel", responses=responses(*JOB_ERRORS, JobFinished))
async def cancel_job(
    job_id: uuid.UUID, user: BriefUser, database: DatabaseDep, runner: RunnerDep
) -> JobRead:
    """Cancel a job: a queued one at once, a running one within seconds (its files removed)."""
    job = await fine_tuning.request_cancel(
        database, signal=runner.cancel, owner=user, job_id=job_id
    )
    return JobRead.of(job)
