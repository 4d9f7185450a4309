"""Distributed mode: the API only queues jobs on SAQ, and real `colloquy worker` processes run
them: to success, through a cancel, after a worker killed with SIGKILL (resumed, or failed after
its last attempt), after a worker stopped with SIGTERM, and on the Redis-backed queue."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from colloquy.app import create_app
from colloquy.core.database import transaction
from colloquy.core.settings import Settings
from colloquy.fine_tuning.models import FineTuneJob
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, empty_tables
from tests.fine_tuning.test_jobs import job_url
from tests.fine_tuning.test_queue import FINISHED, prepare, start_job, wait_for
from tests.support import Account

pytestmark = [
    pytest.mark.training,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (set TEST_DATABASE_URL)"),
]

LOST_AFTER = 10
QUICK = {"n_epochs": 1, "batch_size": 4, "learning_rate": 1e-2, "max_seq_length": 128}
# Five steps an epoch, a checkpoint after each: long enough to stop a worker in the middle.
LONG = {"n_epochs": 5, "batch_size": 4, "learning_rate": 1e-3, "max_seq_length": 128}
SLOW = {"n_epochs": 50, "batch_size": 1, "learning_rate": 1e-4, "max_seq_length": 128}
WORKER = [sys.executable, "-c", "from colloquy.cli import app; app()", "worker"]


class WorkerProcess:
    """One `colloquy worker` in a process group of its own, its output kept in a file."""

    def __init__(self, settings: Settings, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self._output: IO[bytes] = log.open("ab")
        self.process = subprocess.Popen(
            WORKER,
            env=_worker_env(settings, env),
            cwd=log.parent,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def exited(self, within: float) -> int:
        return await anyio.to_thread.run_sync(lambda: self.process.wait(within))

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    async def close(self) -> None:
        if self.process.poll() is None:
            self.send(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                await self.exited(40)
        # The group holds what the worker started, a training child a SIGKILL left behind too.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._output.close()


def _worker_env(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("COLLOQUY_") and name not in {"DATABASE_URL", "REDIS_URL"}
    }
    assert settings.queue_url is not None
    return {
        **inherited,
        "COLLOQUY_DATABASE_URL": settings.database_url,
        "COLLOQUY_QUEUE_URL": settings.queue_url,
        "COLLOQUY_QUEUE_NAME": settings.queue_name,
        "COLLOQUY_VAR_DIR": str(settings.var_dir),
        "COLLOQUY_MODEL_DIRS": ",".join(settings.model_dirs),
        "COLLOQUY_WORKER_LOST_AFTER": str(settings.worker_lost_after),
        "COLLOQUY_LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


@pytest.fixture
def settings_overrides(database_url: str, model_root: Path, tmp_path: Path) -> dict[str, Any]:
    if database_url.startswith("sqlite"):
        pytest.skip("SAQ's PostgreSQL queue needs this run's database to be PostgreSQL")
    return {
        "model_dirs": [str(model_root), str(tmp_path / "var" / "models")],
        "queue_url": database_url,
        "queue_name": f"test-{uuid.uuid4().hex[:12]}",
        "worker_lost_after": LOST_AFTER,
    }


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield app, http
    finally:
        await empty_tables(settings.database_url)


@pytest.fixture
async def workers(settings: Settings, tmp_path: Path) -> AsyncIterator[Any]:
    """Starts workers for the test (`workers(**env)`) and stops them all at its end."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log", env)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            await worker.close()


async def kinds(http: httpx.AsyncClient, account: Account, job_id: str) -> list[dict[str, Any]]:
    response = await http.get(
        job_url(job_id, "events"), params={"limit": 100}, headers=account.headers
    )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_for_event(
    http: httpx.AsyncClient, account: Account, job_id: str, kind: str, *, within: float
) -> None:
    with anyio.fail_after(within):
        while True:
            if any(event["kind"] == kind for event in await kinds(http, account, job_id)):
                return
            await anyio.sleep(0.1)


async def attempts(app: FastAPI, job_id: str) -> int:
    async with transaction(app.state.database, write=False) as session:
        job = await session.get(FineTuneJob, uuid.UUID(job_id))
    assert job is not None
    return job.attempts


async def test_the_api_queues_and_a_worker_trains(settings: Settings, workers: Any) -> None:
    async with serving(settings) as (app, http):
        account, model_id, dataset_id = await prepare(app, http)
        job = await start_job(http, account, model_id, dataset_id, hyperparameters=QUICK)
        # No job runs in the API in this mode: it waits on the queue for a worker.
        await anyio.sleep(1)
        assert (await http.get(job_url(job["id"]), headers=account.headers)).json()[
            "status"
        ] == "queued"

        worker = workers()
        done = await wait_for(http, account, job["id"], FINISHED, within=90)
        assert done["status"] == "succeeded", worker.output()
        assert done["fine_tuned_model_id"] is not None
        assert (settings.var_dir / "models" / job["id"] / "config.json").is_file()
        assert [event["kind"] for event in await kinds(http, account, job["id"])][-1] == (
            "succeeded"
        )
        assert await attempts(app, job["id"]) == 1


async def test_cancel_reaches_the_worker_mid_run(settings: Settings, workers: Any) -> None:
    async with serving(settings) as (app, http):
        worker = workers()
        account, model_id, dataset_id = await prepare(app, http)
        job = await start_job(http, account, model_id, dataset_id, hyperparameters=SLOW)
        await wait_for_event(http, account, job["id"], "metrics", within=60)

        response = await http.post(job_url(job["id"], "cancel"), headers=account.headers)
        assert response.status_code == 200, response.text
        cancelled = await wait_for(http, account, job["id"], FINISHED, within=30)
        assert cancelled["status"] == "cancelled", worker.output()
        assert cancelled["progress"]["step"] < cancelled["progress"]["total_steps"]
        assert not (settings.var_dir / "models" / job["id"]).exists()
        assert not (settings.var_dir / "fine_tuning" / job["id"]).exists()
        assert worker.process.poll() is None


async def start_and_kill(
    app: FastAPI, http: httpx.AsyncClient, workers: Any
) -> tuple[Account, dict[str, Any]]:
    """A job a worker was training, past its first checkpoint, when it was killed (SIGKILL)."""
    first = workers()
    account, model_id, dataset_id = await prepare(app, http)
    job = await start_job(http, account, model_id, dataset_id, hyperparameters=LONG)
    await wait_for_event(http, account, job["id"], "checkpoint", within=60)
    first.send(signal.SIGKILL)
    await first.exited(10)
    left = (await http.get(job_url(job["id"]), headers=account.headers)).json()
    assert left["status"] == "running"
    return account, job


async def test_a_killed_workers_job_resumes_on_another(settings: Settings, workers: Any) -> None:
    async with serving(settings) as (app, http):
        account, job = await start_and_kill(app, http, workers)

        # Started at once: SAQ's sweeper redelivers the job once its heartbeat has stopped.
        second = workers()
        done = await wait_for(http, account, job["id"], FINISHED, within=120)
        assert done["status"] == "succeeded", second.output()
        events = await kinds(http, account, job["id"])
        assert "requeued" in [event["kind"] for event in events]
        starts = [event for event in events if event["kind"] == "started"]
        assert len(starts) == 2
        assert starts[1]["data"]["resumed_from_step"] >= 5
        assert await attempts(app, job["id"]) == 2


async def test_a_killed_workers_job_fails_after_its_last_attempt(
    settings: Settings, workers: Any
) -> None:
    async with serving(settings) as (app, http):
        account, job = await start_and_kill(app, http, workers)

        # Started once the job is lost: the new worker's start-up takes it back.
        await anyio.sleep(LOST_AFTER + 1)
        second = workers(COLLOQUY_FINE_TUNING_MAX_ATTEMPTS="1")
        done = await wait_for(http, account, job["id"], FINISHED, within=60)
        assert done["status"] == "failed", second.output()
        assert done["error"]["code"] == "worker_lost"
        assert (await kinds(http, account, job["id"]))[-1]["kind"] == "failed"


async def test_sigterm_hands_the_job_back_for_another_worker(
    settings: Settings, workers: Any
) -> None:
    async with serving(settings) as (app, http):
        first = workers()
        account, model_id, dataset_id = await prepare(app, http)
        job = await start_job(http, account, model_id, dataset_id, hyperparameters=LONG)
        await wait_for_event(http, account, job["id"], "checkpoint", within=60)

        first.send(signal.SIGTERM)
        assert await first.exited(40) == 0, first.output()
        handed_back = (await http.get(job_url(job["id"]), headers=account.headers)).json()
        assert handed_back["status"] == "queued", first.output()
        assert (await kinds(http, account, job["id"]))[-1]["kind"] == "requeued"

        second = workers()
        done = await wait_for(http, account, job["id"], FINISHED, within=90)
        assert done["status"] == "succeeded", second.output()
        starts = [e for e in await kinds(http, account, job["id"]) if e["kind"] == "started"]
        assert starts[-1]["data"]["resumed_from_step"] >= 5
        # The run SIGTERM interrupted is not counted against the job's attempts.
        assert await attempts(app, job["id"]) == 1


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (set TEST_REDIS_URL)")
async def test_the_redis_queue_runs_a_job(settings: Settings, tmp_path: Path) -> None:
    assert TEST_REDIS_URL
    on_redis = settings.model_copy(update={"queue_url": TEST_REDIS_URL})
    async with serving(on_redis) as (app, http):
        worker = WorkerProcess(on_redis, tmp_path / "worker.log", {})
        try:
            account, model_id, dataset_id = await prepare(app, http)
            job = await start_job(http, account, model_id, dataset_id, hyperparameters=QUICK)
            done = await wait_for(http, account, job["id"], FINISHED, within=90)
            assert done["status"] == "succeeded", worker.output()
        finally:
            await worker.close()
