"""Who runs fine-tuning jobs. The jobs table holds their state; a runner only carries the work.

`EmbeddedRunner` runs the task in this process (training itself in a child process), a few
jobs at a time. With `COLLOQUY_QUEUE_URL` set, `SaqRunner` (in `distributed`) sends them to SAQ
instead, for `colloquy worker` processes on other machines; `job_runner` picks one.
"""

import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from colloquy.core.database import Database, transaction
from colloquy.core.settings import Settings
from colloquy.fine_tuning import service as fine_tuning
from colloquy.fine_tuning.tasks import run_fine_tune

log = structlog.get_logger("colloquy.fine_tuning")

Task = Callable[..., Awaitable[None]]


class JobRunner(Protocol):
    async def enqueue(self, job_id: uuid.UUID) -> None:
        """Have a committed, queued job run."""
        ...

    async def cancel(self, job_id: uuid.UUID) -> None:
        """Tell the job's run, wherever it is, that the job was cancelled (the row says so)."""
        ...


class EmbeddedRunner:
    """Runs jobs in this process, `concurrency` at a time, in the order they were sent."""

    def __init__(self, database: Database, settings: Settings, *, task: Task = run_fine_tune):
        self.database = database
        self.settings = settings
        self.task = task
        self._send: MemoryObjectSendStream[uuid.UUID]
        self._receive: MemoryObjectReceiveStream[uuid.UUID]
        self._send, self._receive = anyio.create_memory_object_stream[uuid.UUID](math.inf)
        self._running: dict[uuid.UUID, anyio.Event] = {}

    async def enqueue(self, job_id: uuid.UUID) -> None:
        self._send.send_nowait(job_id)

    async def cancel(self, job_id: uuid.UUID) -> None:
        event = self._running.get(job_id)
        if event is not None:
            event.set()

    def close(self) -> None:
        self._send.close()
        self._receive.close()

    def is_running(self, job_id: uuid.UUID) -> bool:
        return job_id in self._running

    async def recover(self) -> None:
        """At start-up: jobs left running by the process before this one are queued again or
        failed, and every queued job is sent to run."""
        async with transaction(self.database) as session:
            await fine_tuning.recover_orphans(session, settings=self.settings)
            queued = await fine_tuning.queued_job_ids(session)
        for job_id in queued:
            await self.enqueue(job_id)

    async def work(self) -> None:
        async for job_id in self._receive:
            cancel = anyio.Event()
            self._running[job_id] = cancel
            try:
                await self.task(self.database, self.settings, job_id, cancel=cancel)
            except Exception:
                # One job's failure must not stop the jobs after it.
                log.exception("fine_tune_task_failed", job_id=str(job_id))
            finally:
                self._running.pop(job_id, None)


@asynccontextmanager
async def job_runner(database: Database, settings: Settings) -> AsyncIterator[JobRunner]:
    """The app's runner: SAQ when a queue is configured (no job runs in the API then),
    otherwise the embedded one."""
    if settings.queue_url is None:
        async with embedded_runner(database, settings) as embedded:
            yield embedded
        return
    # Imported here: SAQ comes with the postgres and redis extras, which embedded mode lacks.
    from colloquy.fine_tuning.distributed import saq_runner

    fine_tuning.register_dataset_check()
    async with saq_runner(settings) as distributed:
        yield distributed


@asynccontextmanager
async def embedded_runner(database: Database, settings: Settings) -> AsyncIterator[EmbeddedRunner]:
    """The in-process runner for the life of the app: it resumes what a previous process left,
    and on the way out hands running jobs back to the queue."""
    fine_tuning.register_dataset_check()
    runner = EmbeddedRunner(database, settings)
    try:
        async with anyio.create_task_group() as group:
            for index in range(settings.fine_tuning_concurrency):
                group.start_soon(runner.work, name=f"fine-tuning-{index}")
            try:
                await runner.recover()
            except Exception:
                log.exception("fine_tune_recovery_failed")
            try:
                yield runner
            finally:
                group.cancel_scope.cancel()
    finally:
        runner.close()
