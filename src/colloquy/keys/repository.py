"""Queries for API keys: by owner, by digest, and the rate-limited record of last use."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, paginate
from colloquy.keys.models import ApiKey


async def get_key(
    session: AsyncSession, *, key_id: uuid.UUID, owner_id: uuid.UUID
) -> ApiKey | None:
    return await get_owned(session, ApiKey, key_id, owner_id)


async def list_keys(
    session: AsyncSession, *, owner_id: uuid.UUID, page: PageParams
) -> tuple[Sequence[ApiKey], int]:
    statement = (
        select(ApiKey)
        .where(ApiKey.owner_id == owner_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return await paginate(session, statement, page)


async def lock_owner(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Serialise a user's key creations so two at once cannot both pass the limit."""
    await session.execute(select(User.id).where(User.id == owner_id).with_for_update())


async def count_live(session: AsyncSession, *, owner_id: uuid.UUID, now: datetime) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(
            ApiKey.owner_id == owner_id,
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    )
    return int(total or 0)


async def find_by_digest(session: AsyncSession, digest: str) -> tuple[ApiKey, User] | None:
    """The key whose current or previous secret has this digest, with its owner."""
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.owner_id)
            .where(or_(ApiKey.digest == digest, ApiKey.previous_digest == digest))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def touch(
    session: AsyncSession, *, key_id: uuid.UUID, now: datetime, since: datetime, ip: str | None
) -> None:
    """Record a use unless one was recorded after `since`: one write a minute, not per request."""
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < since),
        )
        .values(last_used_at=now, last_used_ip=ip, updated_at=ApiKey.updated_at)
        .execution_options(synchronize_session=False)
    )
