"""Purging tasks deleted longer ago than the retention period: on demand, by command, on a timer."""

import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import insert, select
from typer.testing import CliRunner

from colloquy.accounts.models import User
from colloquy.app import create_app
from colloquy.cli import app as cli
from colloquy.core.database import Database, create_engine, transaction, utcnow
from colloquy.core.settings import Settings
from colloquy.tasks import maintenance
from colloquy.tasks import service as tasks
from colloquy.tasks.models import Task
from tests.conftest import TEST_SECRET, empty_tables, make_settings
from tests.support import Account, assert_problem, make_account
from tests.tasks.support import list_tasks, make_task, set_task_times, task_url

RETENTION_DAYS = 30


async def make_deleted_task(
    app: FastAPI, client: httpx.AsyncClient, account: Account, *, days_ago: float
) -> str:
    task = await make_task(client, account, title=f"deleted {days_ago} days ago")
    response = await client.delete(task_url(task["id"]), headers=account.headers)
    assert response.status_code == 204
    await set_task_times(app, task["id"], deleted_at=utcnow() - timedelta(days=days_ago))
    return str(task["id"])


async def task_ids(database: Database) -> set[str]:
    async with database.read_sessions() as session:
        return {str(task_id) for task_id in await session.scalars(select(Task.id))}


async def test_purge_removes_only_tasks_deleted_before_the_retention_period(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    live = (await make_task(client, account, title="live"))["id"]
    recent = await make_deleted_task(app, client, account, days_ago=1)
    almost = await make_deleted_task(app, client, account, days_ago=RETENTION_DAYS - 0.1)
    expired = await make_deleted_task(app, client, account, days_ago=RETENTION_DAYS + 1)

    purged = await maintenance.purge(app.state.database, retention_days=RETENTION_DAYS)

    assert purged == 1
    assert await task_ids(app.state.database) == {live, recent, almost}
    assert (await list_tasks(client, account, deleted="true"))["total"] == 2
    restore = await client.post(task_url(expired, "restore"), headers=account.headers)
    assert_problem(restore, 404, "task_not_found")
    assert await maintenance.purge(app.state.database, retention_days=RETENTION_DAYS) == 0


async def test_purge_never_touches_live_tasks(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    task = await make_task(client, account)
    await set_task_times(app, task["id"], created_at=utcnow() - timedelta(days=365))

    assert await maintenance.purge(app.state.database, retention_days=1) == 0
    assert await task_ids(app.state.database) == {task["id"]}


async def test_purge_service_counts_retention_from_the_given_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    task_id = await make_deleted_task(app, client, account, days_ago=10)
    retention = timedelta(days=RETENTION_DAYS)

    async with transaction(app.state.database) as session:
        now = await tasks.purge_deleted_tasks(session, retention=retention)
        later = await tasks.purge_deleted_tasks(
            session, retention=retention, now=utcnow() + timedelta(days=21)
        )

    assert (now, later) == (0, 1)
    assert task_id not in await task_ids(app.state.database)


async def test_periodic_purge_runs_every_interval(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    expired = await make_deleted_task(app, client, account, days_ago=RETENTION_DAYS + 1)
    results: list[int] = []
    two_runs = anyio.Event()
    original = maintenance.purge

    async def counted(database: Database, *, retention_days: int) -> int:
        results.append(await original(database, retention_days=retention_days))
        if len(results) == 2:
            two_runs.set()
        return results[-1]

    monkeypatch.setattr(maintenance, "purge", counted)
    run = partial(
        maintenance.purge_periodically,
        app.state.database,
        interval=0.01,
        retention_days=RETENTION_DAYS,
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await two_runs.wait()
            group.cancel_scope.cancel()

    assert results[:2] == [1, 0]
    assert expired not in await task_ids(app.state.database)


async def test_periodic_purge_survives_a_failed_run(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    expired = await make_deleted_task(app, client, account, days_ago=RETENTION_DAYS + 1)
    calls: list[str] = []
    recovered = anyio.Event()
    original = maintenance.purge

    async def flaky(database: Database, *, retention_days: int) -> int:
        calls.append("call")
        if len(calls) == 1:
            raise ConnectionError("the database is restarting")
        if len(calls) == 3:
            recovered.set()
        return await original(database, retention_days=retention_days)

    monkeypatch.setattr(maintenance, "purge", flaky)
    run = partial(
        maintenance.purge_periodically,
        app.state.database,
        interval=0.01,
        retention_days=RETENTION_DAYS,
    )
    with structlog.testing.capture_logs() as logs, anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await recovered.wait()
            group.cancel_scope.cancel()

    failures = [log for log in logs if log["event"] == "task_purge_failed"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "error"
    assert len(calls) >= 3
    assert expired not in await task_ids(app.state.database)


@pytest.mark.parametrize("settings_overrides", [{"maintenance_interval": 0.02}])
async def test_the_running_app_purges_in_the_background(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await make_account(client)
    keep = await make_deleted_task(app, client, account, days_ago=1)
    expired: list[str] = []
    ran_after_expiry = anyio.Event()
    original = maintenance.purge

    async def observed(database: Database, *, retention_days: int) -> int:
        # Only a run that starts once the expired task is in place is bound to purge it.
        starts_after_expiry = bool(expired)
        count = await original(database, retention_days=retention_days)
        if starts_after_expiry:
            ran_after_expiry.set()
        return count

    monkeypatch.setattr(maintenance, "purge", observed)
    expired.append(await make_deleted_task(app, client, account, days_ago=RETENTION_DAYS + 1))

    with anyio.fail_after(10):
        await ran_after_expiry.wait()

    assert await task_ids(app.state.database) == {keep}


async def test_shutdown_does_not_wait_for_the_next_purge(settings: Settings) -> None:
    assert settings.maintenance_interval == 3600
    application = create_app(settings)

    with anyio.fail_after(5):
        async with LifespanManager(application):
            pass


async def test_interval_zero_starts_no_periodic_purge(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []

    async def recorded(*args: Any, **kwargs: Any) -> None:
        started.append(args)

    monkeypatch.setattr(maintenance, "purge_periodically", recorded)
    off = settings.model_copy(update={"maintenance_interval": 0})

    async with LifespanManager(create_app(off)):
        await anyio.sleep(0.05)

    assert started == []


def test_settings_read_retention_and_interval_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLLOQUY_TASK_RETENTION_DAYS", "7")
    monkeypatch.setenv("COLLOQUY_MAINTENANCE_INTERVAL", "0")
    assert Settings(_env_file=None).task_retention_days == 7
    assert Settings(_env_file=None).maintenance_interval == 0

    monkeypatch.setenv("COLLOQUY_TASK_RETENTION_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_settings_defaults() -> None:
    defaults = Settings.model_fields
    assert defaults["task_retention_days"].default == 30
    assert defaults["maintenance_interval"].default == 3600


runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLLOQUY_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("COLLOQUY_ENV", raising=False)
    monkeypatch.delenv("COLLOQUY_TASK_RETENTION_DAYS", raising=False)
    return tmp_path


async def seed_deleted_tasks(database_url: str, *days_ago: float) -> list[str]:
    """A user with one task deleted that many days ago per argument, written straight to SQL."""
    database = Database(create_engine(make_settings(database_url, Path("var"))))
    email = f"cli-{uuid.uuid4().hex[:10]}@example.com"
    user = User(name="Cli", email=email, email_normalized=email, password_hash="x")
    try:
        async with transaction(database) as session:
            session.add(user)
            await session.flush()
            ids = [uuid.uuid4() for _ in days_ago]
            await session.execute(
                insert(Task),
                [
                    {
                        "id": task_id,
                        "owner_id": user.id,
                        "title": "old",
                        "deleted_at": utcnow() - timedelta(days=days),
                    }
                    for task_id, days in zip(ids, days_ago, strict=True)
                ],
            )
        return [str(task_id) for task_id in ids]
    finally:
        await database.dispose()


async def remaining_task_ids(database_url: str) -> set[str]:
    database = Database(create_engine(make_settings(database_url, Path("var"))))
    try:
        return await task_ids(database)
    finally:
        await database.dispose()


def test_cli_purge_prints_how_many_tasks_it_purged(
    cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        expired, recent = anyio.run(seed_deleted_tasks, database_url, RETENTION_DAYS + 1, 10)

        first = runner.invoke(cli, ["maintenance", "purge"])
        after_first = anyio.run(remaining_task_ids, database_url)
        again = runner.invoke(cli, ["maintenance", "purge"])
        monkeypatch.setenv("COLLOQUY_TASK_RETENTION_DAYS", "5")
        shorter = runner.invoke(cli, ["maintenance", "purge"])

        assert first.exit_code == 0, first.output
        assert first.output.strip() == "Purged 1 deleted task(s)."
        assert expired not in after_first
        assert recent in after_first
        assert again.output.strip() == "Purged 0 deleted task(s)."
        assert shorter.output.strip() == "Purged 1 deleted task(s)."
        assert recent not in anyio.run(remaining_task_ids, database_url)
    finally:
        anyio.run(empty_tables, database_url)


def test_cli_purge_refuses_a_retention_below_one_day(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLOQUY_TASK_RETENTION_DAYS", "0")

    result = runner.invoke(cli, ["maintenance", "purge"])

    assert result.exit_code == 2
    assert "task_retention_days" in result.output
