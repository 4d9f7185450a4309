"""Loading the caller's own fine-tuning job from the path, and reaching the job runner."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from colloquy.accounts.dependencies import CurrentUser
from colloquy.core.dependencies import SessionDep
from colloquy.fine_tuning import service as fine_tuning
from colloquy.fine_tuning.models import FineTuneJob
from colloquy.fine_tuning.queue import JobRunner


async def get_owned_job(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> FineTuneJob:
    return await fine_tuning.get_job(session, owner=user, job_id=job_id)


def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.fine_tuning_runner
    return runner


OwnedJob = Annotated[FineTuneJob, Depends(get_owned_job)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
