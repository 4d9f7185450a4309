"""Queries for datasets: one owned dataset, the list, and who else shares a stored object."""

import hashlib
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, page_after, paginate
from colloquy.datasets.models import Dataset


async def get_dataset(
    session: AsyncSession, *, dataset_id: uuid.UUID, owner_id: uuid.UUID
) -> Dataset | None:
    return await get_owned(session, Dataset, dataset_id, owner_id)


async def list_datasets(
    session: AsyncSession, *, owner_id: uuid.UUID, page: PageParams
) -> tuple[Sequence[Dataset], int]:
    statement = (
        select(Dataset)
        .where(Dataset.owner_id == owner_id)
        .order_by(Dataset.created_at.desc(), Dataset.id.desc())
    )
    return await paginate(session, statement, page)


async def list_datasets_after(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    after: Dataset | None,
    limit: int,
    newest_first: bool,
) -> tuple[list[Dataset], bool]:
    return await page_after(
        session,
        select(Dataset).where(Dataset.owner_id == owner_id),
        keys=[Dataset.created_at, Dataset.id],
        after=(after.created_at, after.id) if after else None,
        limit=limit,
        descending=newest_first,
    )


async def count_sharing(session: AsyncSession, *, storage_key: str) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Dataset).where(Dataset.storage_key == storage_key)
    )
    return int(total or 0)


async def lock_content(session: AsyncSession, *, storage_key: str) -> None:
    """Serialise, until the transaction ends, the uploads and deletions of one stored object, so
    a deletion never removes a file that a new dataset row is about to point at. SQLite's write
    transactions are serialised already."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(storage_key.encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    await session.execute(select(func.pg_advisory_xact_lock(lock_id)))
