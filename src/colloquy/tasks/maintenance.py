"""Housekeeping for tasks: purging long-deleted tasks, on demand or periodically while serving."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
import structlog

from colloquy.core.database import Database, create_engine, transaction
from colloquy.core.settings import Settings
from colloquy.tasks import service as tasks

log = structlog.get_logger("colloquy.tasks.maintenance")


async def purge(database: Database, *, retention_days: int) -> int:
    """Purge, in a transaction of its own, the tasks deleted more than `retention_days` ago."""
    async with transaction(database) as session:
        return await tasks.purge_deleted_tasks(session, retention=timedelta(days=retention_days))


async def purge_once(settings: Settings) -> int:
    """One purge with a database connection of its own, for the command line."""
    database = Database(create_engine(settings))
    try:
        return await purge(database, retention_days=settings.task_retention_days)
    finally:
        await database.dispose()


async def purge_periodically(database: Database, *, interval: float, retention_days: int) -> None:
    """Purge every `interval` seconds until cancelled; a failed run is logged, not fatal."""
    while True:
        await anyio.sleep(interval)
        try:
            purged = await purge(database, retention_days=retention_days)
        except Exception:
            # One failure (the database restarting, say) must not end the runs that follow.
            log.exception("task_purge_failed")
        else:
            log.info("tasks_purged", count=purged, retention_days=retention_days)


@asynccontextmanager
async def periodic_purge(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Purge every `maintenance_interval` seconds while the body runs (never when it is 0)."""
    if settings.maintenance_interval <= 0:
        yield
        return
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: purge_periodically(
                database,
                interval=settings.maintenance_interval,
                retention_days=settings.task_retention_days,
            ),
            name="task-purge",
        )
        try:
            yield
        finally:
            group.cancel_scope.cancel()
