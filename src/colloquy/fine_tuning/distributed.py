"""Distributed mode: SAQ carries fine-tuning job ids on PostgreSQL or Redis (`COLLOQUY_QUEUE_URL`)
and `colloquy worker` processes, on any number of machines, run them.

The jobs table stays the source of truth. SAQ delivers at least once; the task claims the job
before it trains, so a second delivery does nothing. A job whose worker died (no heartbeat for
`worker_lost_after` seconds) is taken back by whichever worker looks first: when SAQ's sweeper
redelivers it, at a worker's start-up, and once a minute by a SAQ cron job.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
import structlog
from saq import CronJob, Queue, Worker
from saq.job import Job, Status
from saq.types import Context, PartialTimersDict

from colloquy.core.database import Database, create_engine, transaction, utcnow
from colloquy.core.settings import Settings
from colloquy.fine_tuning import service as fine_tuning
from colloquy.fine_tuning.process import GRACE_SECONDS
from colloquy.fine_tuning.tasks import HEARTBEAT_SECONDS, run_fine_tune

log = structlog.get_logger("colloquy.fine_tuning")

TASK = "run_fine_tune"
# Redelivery after an error or a sweep; the jobs table's attempt count decides when a job whose
# worker keeps dying fails, so SAQ's own count only has to outlast it.
RETRIES = 10
RETRY_DELAY_SECONDS = HEARTBEAT_SECONDS
NOT_STARTED = frozenset({Status.NEW, Status.QUEUED})
# On SIGTERM a running task is cancelled at once: it stops its training child (which may take
# GRACE_SECONDS) and hands the job back; this bounds the whole of it.
HAND_BACK_SECONDS = GRACE_SECONDS + 20.0
# Connections beyond the running jobs': SAQ's listener, dequeue, sweep lock and bookkeeping.
SPARE_CONNECTIONS = 5


def make_queue(settings: Settings, *, connections: int) -> Queue:
    """SAQ's queue at `queue_url`: PostgresQueue (psycopg pool) or RedisQueue."""
    url = settings.queue_url
    if url is None:
        raise ValueError("COLLOQUY_QUEUE_URL is not set")
    if url.startswith("postgresql://"):
        from saq.queue.postgres import PostgresQueue

        return PostgresQueue.from_url(
            url, name=settings.queue_name, min_size=1, max_size=connections
        )
    from saq.queue.redis import RedisQueue

    return RedisQueue.from_url(url, name=settings.queue_name)


def sweep_seconds(settings: Settings) -> int:
    return max(1, min(60, settings.worker_lost_after // 2))


def saq_heartbeat(settings: Settings) -> int:
    """How long SAQ lets an active job go untouched before its sweeper takes it back. The task
    touches it each time it beats the jobs table; the margin makes a job SAQ calls stuck always
    one the jobs table calls lost, so its redelivery takes it back rather than skipping it."""
    return settings.worker_lost_after + 2 * int(HEARTBEAT_SECONDS)


async def send(queue: Queue, settings: Settings, job_id: uuid.UUID) -> None:
    """Enqueue the job's run, keyed by the job id: while one is waiting or running, this is a
    no-op. Training runs as long as it needs (no timeout); a lost worker is found by heartbeat."""
    await queue.enqueue(
        TASK,
        key=str(job_id),
        job_id=str(job_id),
        timeout=0,
        heartbeat=saq_heartbeat(settings),
        retries=RETRIES,
        retry_delay=RETRY_DELAY_SECONDS,
    )


class SaqRunner:
    """The API's side in distributed mode: jobs go to SAQ, workers elsewhere run them."""

    def __init__(self, queue: Queue, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings

    async def enqueue(self, job_id: uuid.UUID) -> None:
        await send(self.queue, self.settings, job_id)

    async def cancel(self, job_id: uuid.UUID) -> None:
        """A run still waiting is aborted so no worker picks it up. A running one is not: its
        worker reads the cancel from the jobs table on its next heartbeat and settles it (an
        abort would cancel the task, which hands the job back instead)."""
        job = await self.queue.job(str(job_id))
        if job is not None and job.status in NOT_STARTED:
            await self.queue.abort(job, "cancelled")


@asynccontextmanager
async def saq_runner(settings: Settings) -> AsyncIterator[SaqRunner]:
    queue = make_queue(settings, connections=4)
    await queue.connect()
    try:
        yield SaqRunner(queue, settings)
    finally:
        await queue.disconnect()


async def recover_lost(database: Database, settings: Settings, queue: Queue) -> None:
    """Take back jobs whose worker went silent (queued again, or failed `worker_lost` after
    their last attempt), and make sure every queued job has a run waiting in SAQ, e.g. one
    whose enqueue was lost when the API stopped between commit and send."""
    stale_before = utcnow() - timedelta(seconds=settings.worker_lost_after)
    async with transaction(database) as session:
        requeued = await fine_tuning.recover_orphans(
            session, settings=settings, stale_before=stale_before
        )
        queued = await fine_tuning.queued_job_ids(session)
    if requeued:
        log.warning("fine_tune_jobs_recovered", job_ids=[str(job_id) for job_id in requeued])
    for job_id in queued:
        await send(queue, settings, job_id)


async def _touch(job: Job) -> None:
    """SAQ's heartbeat for the running job, so its sweeper leaves it alone while we live."""
    while True:
        await anyio.sleep(HEARTBEAT_SECONDS)
        await job.update()


class FineTuningWorker:
    """What one `colloquy worker` process registers with SAQ: the training task, the periodic
    recovery, and the database they share for the life of the worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("the worker has not started")
        return self._database

    async def startup(self, ctx: Context) -> None:
        self._database = Database(create_engine(self.settings))
        await recover_lost(self.database, self.settings, ctx["worker"].queue)
        log.info(
            "fine_tune_worker_started",
            queue=self.settings.queue_name,
            concurrency=self.settings.fine_tuning_concurrency,
        )

    async def shutdown(self, ctx: Context) -> None:
        if self._database is not None:
            await self._database.dispose()
        log.info("fine_tune_worker_stopped")

    async def run(self, ctx: Context, *, job_id: str) -> None:
        """One delivery of a job. A redelivery after its worker died finds the job still
        `running`: it is taken back first, then claimed as any queued job."""
        queue = ctx["worker"].queue
        await recover_lost(self.database, self.settings, queue)
        async with anyio.create_task_group() as group:
            job = ctx.get("job")
            if job is not None:
                group.start_soon(_touch, job)
            await run_fine_tune(self.database, self.settings, uuid.UUID(job_id))
            group.cancel_scope.cancel()

    async def recover(self, ctx: Context) -> None:
        await recover_lost(self.database, self.settings, ctx["worker"].queue)

    def build(self, queue: Queue) -> Worker[Context]:
        # SAQ's defaults but the sweep, which finds lost jobs sooner.
        timers: PartialTimersDict = {
            "schedule": 1,
            "worker_info": 10,
            "sweep": sweep_seconds(self.settings),
            "abort": 1,
        }
        return Worker(
            queue,
            functions=[(TASK, self.run)],
            concurrency=self.settings.fine_tuning_concurrency,
            cron_jobs=[CronJob(self.recover, cron="* * * * *", timeout=60)],
            startup=self.startup,
            shutdown=self.shutdown,
            timers=timers,
            shutdown_grace_period_s=None,
            cancellation_hard_deadline_s=HAND_BACK_SECONDS,
        )


async def run_worker(settings: Settings) -> None:
    """Run jobs until SIGINT or SIGTERM, then hand running ones back and stop."""
    queue = make_queue(settings, connections=settings.fine_tuning_concurrency + SPARE_CONNECTIONS)
    await queue.connect()
    try:
        await FineTuningWorker(settings).build(queue).start()
    finally:
        await queue.disconnect()
