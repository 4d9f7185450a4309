"""Queries for usage: events, the daily rollup (updated in place, atomically) and reservations."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from colloquy.accounts.models import User
from colloquy.usage.models import NO_KEY, UsageDaily, UsageEvent, UsageReservation, UsageSource

COUNTERS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
KEY_COLUMNS = ("user_id", "day", "model_id", "api_key_id", "source")
TOTAL = UsageDaily.input_tokens + UsageDaily.output_tokens


async def add_event(session: AsyncSession, event: UsageEvent) -> None:
    session.add(event)
    await session.flush()


async def add_to_rollup(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    day: date,
    model_id: uuid.UUID,
    api_key_id: uuid.UUID | None,
    source: UsageSource,
    counts: dict[str, int],
) -> None:
    """Add to the day's row, creating it if needed, in one statement that concurrent calls
    cannot interleave (INSERT ... ON CONFLICT DO UPDATE on both databases)."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "day": day,
        "model_id": model_id,
        "api_key_id": api_key_id or NO_KEY,
        "source": source,
        **{name: counts.get(name, 0) for name in COUNTERS},
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(UsageDaily).values(values)
    table = UsageDaily.__table__
    statement = statement.on_conflict_do_update(
        index_elements=KEY_COLUMNS,
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS},
    )
    await session.execute(statement)


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise one user's budget checks, so two calls at once cannot both take the last tokens
    (SQLite serialises every write transaction already)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def tokens_since(
    session: AsyncSession, *, user_id: uuid.UUID, since: date, api_key_id: uuid.UUID | None = None
) -> int:
    """Tokens used from `since` (a day) on, from the rollup; for one key when given."""
    query = select(func.coalesce(func.sum(TOTAL), 0)).where(
        UsageDaily.user_id == user_id, UsageDaily.day >= since
    )
    if api_key_id is not None:
        query = query.where(UsageDaily.api_key_id == api_key_id)
    return int(await session.scalar(query) or 0)


async def tokens_reserved(
    session: AsyncSession, *, user_id: uuid.UUID, now: datetime, api_key_id: uuid.UUID | None = None
) -> int:
    query = select(func.coalesce(func.sum(UsageReservation.tokens), 0)).where(
        UsageReservation.user_id == user_id, UsageReservation.expires_at > now
    )
    if api_key_id is not None:
        query = query.where(UsageReservation.api_key_id == api_key_id)
    return int(await session.scalar(query) or 0)


async def add_reservation(session: AsyncSession, reservation: UsageReservation) -> None:
    session.add(reservation)
    await session.flush()


async def delete_reservation(session: AsyncSession, reservation_id: uuid.UUID) -> None:
    await session.execute(
        delete(UsageReservation).where(UsageReservation.id == reservation_id),
        execution_options={"synchronize_session": False},
    )


async def purge_reservations(session: AsyncSession, *, user_id: uuid.UUID, now: datetime) -> None:
    """Drop a user's reservations whose calls died without settling (they count for nothing)."""
    await session.execute(
        delete(UsageReservation).where(
            UsageReservation.user_id == user_id, UsageReservation.expires_at <= now
        ),
        execution_options={"synchronize_session": False},
    )


def summary_query(
    group: ColumnElement[Any] | None,
    *,
    start: date,
    end: date,
    user_id: uuid.UUID | None,
    filters: Sequence[ColumnElement[bool]] = (),
) -> Select[Any]:
    """Sums over the rollup between two days (inclusive), per `group` value (or in all)."""
    sums = [
        func.coalesce(func.sum(UsageDaily.requests), 0).label("requests"),
        func.coalesce(func.sum(UsageDaily.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(UsageDaily.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(UsageDaily.cached_tokens), 0).label("cached_tokens"),
        func.coalesce(func.sum(UsageDaily.reasoning_tokens), 0).label("reasoning_tokens"),
    ]
    query = select(*([group.label("key")] if group is not None else []), *sums).where(
        UsageDaily.day >= start, UsageDaily.day <= end, *filters
    )
    if user_id is not None:
        query = query.where(UsageDaily.user_id == user_id)
    if group is not None:
        query = query.group_by(group).order_by(group)
    return query


async def summarize(
    session: AsyncSession,
    group: ColumnElement[Any] | None,
    *,
    start: date,
    end: date,
    user_id: uuid.UUID | None,
    filters: Sequence[ColumnElement[bool]] = (),
) -> Sequence[Any]:
    query = summary_query(group, start=start, end=end, user_id=user_id, filters=filters)
    rows: Sequence[Any] = (await session.execute(query)).all()
    return rows


async def summarize_labelled(
    session: AsyncSession,
    group: ColumnElement[Any],
    *,
    ident: InstrumentedAttribute[Any],
    label: InstrumentedAttribute[Any],
    start: date,
    end: date,
    user_id: uuid.UUID | None,
    filters: Sequence[ColumnElement[bool]] = (),
) -> Sequence[Any]:
    """As summarize, with a column of another table beside each key (`label`; null where that
    row is gone), joined in the same statement."""
    sums = (
        summary_query(group, start=start, end=end, user_id=user_id, filters=filters)
        .order_by(None)
        .subquery()
    )
    query = (
        select(sums, label.label("label"))
        .select_from(sums)
        .outerjoin(ident.class_, ident == sums.c.key)
    )
    rows: Sequence[Any] = (await session.execute(query)).all()
    return rows
