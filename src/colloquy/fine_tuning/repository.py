"""Queries for fine-tuning jobs, their events and checkpoints."""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, page_after, paginate
from colloquy.fine_tuning.models import (
    ACTIVE,
    FineTuneCheckpoint,
    FineTuneEvent,
    FineTuneJob,
    JobStatus,
)


async def get_job(
    session: AsyncSession, *, job_id: uuid.UUID, owner_id: uuid.UUID
) -> FineTuneJob | None:
    return await get_owned(session, FineTuneJob, job_id, owner_id)


async def find_job(session: AsyncSession, job_id: uuid.UUID) -> FineTuneJob | None:
    return await session.get(FineTuneJob, job_id, populate_existing=True)


async def list_jobs(
    session: AsyncSession, *, owner_id: uuid.UUID, status: JobStatus | None, page: PageParams
) -> tuple[Sequence[FineTuneJob], int]:
    statement = select(FineTuneJob).where(FineTuneJob.owner_id == owner_id)
    if status is not None:
        statement = statement.where(FineTuneJob.status == status)
    statement = statement.order_by(FineTuneJob.created_at.desc(), FineTuneJob.id.desc())
    return await paginate(session, statement, page)


async def lock_owner(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Serialise one user's job submissions until the transaction ends, so two at once cannot
    both slip under the limit. SQLite's write transactions are serialised already."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(b"fine_tune_job:" + owner_id.bytes).digest()
    await session.execute(
        select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True)))
    )


async def count_active(session: AsyncSession, *, owner_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(FineTuneJob)
        .where(FineTuneJob.owner_id == owner_id, FineTuneJob.status.in_(ACTIVE))
    )
    return int(total or 0)


async def dataset_in_use(session: AsyncSession, dataset_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(FineTuneJob.id)
        .where(
            or_(
                FineTuneJob.training_dataset_id == dataset_id,
                FineTuneJob.validation_dataset_id == dataset_id,
            ),
            FineTuneJob.status.in_(ACTIVE),
        )
        .limit(1)
    )
    return found is not None


async def ids_with_status(session: AsyncSession, status: JobStatus) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(FineTuneJob.id)
        .where(FineTuneJob.status == status)
        .order_by(FineTuneJob.created_at, FineTuneJob.id)
    )
    return list(rows)


async def update_job(
    session: AsyncSession,
    job_id: uuid.UUID,
    *,
    when: Iterable[Any] = (),
    values: dict[str, Any],
) -> bool:
    """Change the job only if it still matches `when`; whether it did."""
    result = await session.execute(
        update(FineTuneJob)
        .where(FineTuneJob.id == job_id, *when)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def next_event_seq(session: AsyncSession, job_id: uuid.UUID) -> int:
    """Take the job's next event number; the row stays locked until the transaction ends."""
    seq = await session.scalar(
        update(FineTuneJob)
        .where(FineTuneJob.id == job_id)
        .values(event_seq=FineTuneJob.event_seq + 1)
        .returning(FineTuneJob.event_seq)
        .execution_options(synchronize_session=False)
    )
    if seq is None:
        raise LookupError(f"no fine-tuning job {job_id}")
    return int(seq)


def add(session: AsyncSession, row: FineTuneEvent | FineTuneCheckpoint | FineTuneJob) -> None:
    session.add(row)


async def list_events(
    session: AsyncSession, *, job_id: uuid.UUID, page: PageParams
) -> tuple[Sequence[FineTuneEvent], int]:
    statement = (
        select(FineTuneEvent).where(FineTuneEvent.job_id == job_id).order_by(FineTuneEvent.seq)
    )
    return await paginate(session, statement, page)


async def events_after(
    session: AsyncSession, *, job_id: uuid.UUID, after: int, limit: int
) -> Sequence[FineTuneEvent]:
    rows = await session.scalars(
        select(FineTuneEvent)
        .where(FineTuneEvent.job_id == job_id, FineTuneEvent.seq > after)
        .order_by(FineTuneEvent.seq)
        .limit(limit)
    )
    return rows.all()


async def job_status(session: AsyncSession, job_id: uuid.UUID) -> JobStatus | None:
    status: JobStatus | None = await session.scalar(
        select(FineTuneJob.status).where(FineTuneJob.id == job_id)
    )
    return status


async def list_checkpoints(
    session: AsyncSession, *, job_id: uuid.UUID, page: PageParams
) -> tuple[Sequence[FineTuneCheckpoint], int]:
    statement = (
        select(FineTuneCheckpoint)
        .where(FineTuneCheckpoint.job_id == job_id)
        .order_by(FineTuneCheckpoint.step, FineTuneCheckpoint.created_at)
    )
    return await paginate(session, statement, page)


async def has_checkpoint(
    session: AsyncSession, job_id: uuid.UUID, *, step: int | None = None
) -> bool:
    statement = select(FineTuneCheckpoint.id).where(FineTuneCheckpoint.job_id == job_id)
    if step is not None:
        statement = statement.where(FineTuneCheckpoint.step == step)
    return (await session.scalar(statement.limit(1))) is not None


async def stale_running(session: AsyncSession, *, before: datetime | None) -> list[FineTuneJob]:
    """Running jobs whose worker stopped beating before `before` (None: all of them)."""
    statement = select(FineTuneJob).where(FineTuneJob.status == JobStatus.RUNNING)
    if before is not None:
        statement = statement.where(
            or_(FineTuneJob.heartbeat_at.is_(None), FineTuneJob.heartbeat_at < before)
        )
    return list(await session.scalars(statement.with_for_update()))


async def list_jobs_after(
    session: AsyncSession, *, owner_id: uuid.UUID, after: FineTuneJob | None, limit: int
) -> tuple[list[FineTuneJob], bool]:
    """Newest first, past the job `after`."""
    return await page_after(
        session,
        select(FineTuneJob).where(FineTuneJob.owner_id == owner_id),
        keys=[FineTuneJob.created_at, FineTuneJob.id],
        after=(after.created_at, after.id) if after else None,
        limit=limit,
    )


async def get_event(
    session: AsyncSession, *, job_id: uuid.UUID, event_id: uuid.UUID
) -> FineTuneEvent | None:
    return (
        await session.scalars(
            select(FineTuneEvent).where(
                FineTuneEvent.job_id == job_id, FineTuneEvent.id == event_id
            )
        )
    ).one_or_none()


async def list_events_before(
    session: AsyncSession, *, job_id: uuid.UUID, before: int | None, limit: int
) -> tuple[list[FineTuneEvent], bool]:
    """Newest first, older than the event numbered `before`."""
    return await page_after(
        session,
        select(FineTuneEvent).where(FineTuneEvent.job_id == job_id),
        keys=[FineTuneEvent.seq],
        after=(before,) if before is not None else None,
        limit=limit,
    )


async def get_checkpoint(
    session: AsyncSession, *, job_id: uuid.UUID, checkpoint_id: uuid.UUID
) -> FineTuneCheckpoint | None:
    return (
        await session.scalars(
            select(FineTuneCheckpoint).where(
                FineTuneCheckpoint.job_id == job_id, FineTuneCheckpoint.id == checkpoint_id
            )
        )
    ).one_or_none()


async def list_checkpoints_after(
    session: AsyncSession, *, job_id: uuid.UUID, after: FineTuneCheckpoint | None, limit: int
) -> tuple[list[FineTuneCheckpoint], bool]:
    """The latest step first, past the checkpoint `after`."""
    return await page_after(
        session,
        select(FineTuneCheckpoint).where(FineTuneCheckpoint.job_id == job_id),
        keys=[FineTuneCheckpoint.step, FineTuneCheckpoint.id],
        after=(after.step, after.id) if after else None,
        limit=limit,
    )
