"""OpenAI's `/v1/fine_tuning/jobs`: your fine-tuning jobs, their events and checkpoints, in
OpenAI's shapes and cursor pages."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from colloquy.accounts.dependencies import BriefUser, CurrentUser
from colloquy.core.dependencies import DatabaseDep, SessionDep, SettingsDep
from colloquy.datasets.dependencies import StorageDep
from colloquy.fine_tuning.dependencies import RunnerDep
from colloquy.fine_tuning.models import FineTuneJob
from colloquy.openai_api import training
from colloquy.openai_api.training_schemas import (
    CheckpointList,
    EventList,
    FineTuningJob,
    JobCreateRequest,
    JobList,
)

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["openai"])

After = Annotated[str | None, Query(description="The id the previous page ended with.")]


async def get_owned_job(
    fine_tuning_job_id: str, user: CurrentUser, session: SessionDep
) -> FineTuneJob:
    return await training.get_job(session, owner=user, job=fine_tuning_job_id)


OwnedJob = Annotated[FineTuneJob, Depends(get_owned_job)]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1-100).")]


@router.post("")
async def create_job(
    payload: JobCreateRequest,
    user: BriefUser,
    database: DatabaseDep,
    settings: SettingsDep,
    storage: StorageDep,
    runner: RunnerDep,
) -> FineTuningJob:
    """Fine-tune a local model on one of your files; the job is queued and runs in turn."""
    return await training.submit_job(
        database,
        enqueue=runner.enqueue,
        owner=user,
        data=payload,
        settings=settings,
        storage=storage,
    )


@router.get("")
async def list_jobs(
    user: CurrentUser, session: SessionDep, after: After = None, limit: Limit = 20
) -> JobList:
    """Your fine-tuning jobs, newest first."""
    jobs, has_more = await training.list_jobs(session, owner=user, after=after, limit=limit)
    return JobList(data=jobs, has_more=has_more)


@router.get("/{fine_tuning_job_id}")
async def get_job(job: OwnedJob, session: SessionDep) -> FineTuningJob:
    """A job: its state, hyperparameters, and the model it made."""
    return (await training.job_objects(session, [job]))[0]


@router.post("/{fine_tuning_job_id}/cancel")
async def cancel_job(
    fine_tuning_job_id: str, user: BriefUser, database: DatabaseDep, runner: RunnerDep
) -> FineTuningJob:
    """Cancel a job: a queued one at once, a running one within seconds."""
    return await training.cancel_job(
        database, signal=runner.cancel, owner=user, job=fine_tuning_job_id
    )


@router.get("/{fine_tuning_job_id}/events")
async def list_events(
    job: OwnedJob, session: SessionDep, after: After = None, limit: Limit = 20
) -> EventList:
    """The job's events, newest first."""
    events, has_more = await training.list_events(session, job=job, after=after, limit=limit)
    return EventList(data=events, has_more=has_more)


@router.get("/{fine_tuning_job_id}/checkpoints")
async def list_checkpoints(
    job: OwnedJob, session: SessionDep, after: After = None, limit: Limit = 10
) -> CheckpointList:
    """The checkpoints the job saved, the latest step first."""
    checkpoints, has_more = await training.list_checkpoints(
        session, job=job, after=after, limit=limit
    )
    return CheckpointList(
        data=checkpoints,
        has_more=has_more,
        first_id=checkpoints[0].id if checkpoints else None,
        last_id=checkpoints[-1].id if checkpoints else None,
    )
