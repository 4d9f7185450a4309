"""Helpers the usage tests share: models in the registry, calls recorded through the service,
and usage on past days written straight into the events and the rollup."""

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from fastapi import FastAPI
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.database import transaction
from colloquy.llm.models import Model
from colloquy.llm.providers.base import Usage
from colloquy.usage import repository
from colloquy.usage.models import UsageDaily, UsageEvent, UsageSource
from colloquy.usage.service import Admission, Payer, record

USAGE = "/api/v1/usage"
ADMIN_USAGE = "/api/v1/admin/usage"
COUNTS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def today() -> date:
    return datetime.now(UTC).date()


async def make_model(app: FastAPI, name: str | None = None) -> uuid.UUID:
    async with transaction(app.state.database) as session:
        model = Model(
            name=name or f"model-{uuid.uuid4().hex[:8]}",
            provider="dev",
            provider_model="colloquy-dev",
            context_window=8192,
            max_output_tokens=1024,
        )
        session.add(model)
        await session.flush()
        return model.id


async def record_call(
    app: FastAPI,
    *,
    user_id: str | uuid.UUID,
    model_id: uuid.UUID,
    key_id: str | uuid.UUID | None = None,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    source: UsageSource = UsageSource.CHAT,
) -> None:
    """One finished call charged now, as the chats and the API charge theirs."""
    payer = Payer(
        user_id=uuid.UUID(str(user_id)),
        monthly_quota=None,
        key_id=uuid.UUID(str(key_id)) if key_id else None,
    )
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached_tokens,
        reasoning_tokens=reasoning_tokens,
    )
    async with transaction(app.state.database) as session:
        await record(
            session,
            admission=Admission(payer=payer, model_id=model_id, estimate=0),
            usage=usage,
            source=source,
            status="complete",
        )


async def _add_usage(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    day: date,
    model_id: uuid.UUID,
    key_id: uuid.UUID | None,
    source: UsageSource,
    counts: dict[str, int],
) -> None:
    tokens = {name: value for name, value in counts.items() if name != "requests"}
    session.add(
        UsageEvent(
            user_id=user_id,
            api_key_id=key_id,
            model_id=model_id,
            source=source,
            status="complete",
            created_at=datetime.combine(day, time(12), tzinfo=UTC),
            **tokens,
        )
    )
    await session.flush()
    await repository.add_to_rollup(
        session,
        user_id=user_id,
        day=day,
        model_id=model_id,
        api_key_id=key_id,
        source=source,
        counts=counts,
    )


async def add_usage(
    app: FastAPI,
    *,
    user_id: str | uuid.UUID,
    day: date,
    model_id: uuid.UUID,
    key_id: str | uuid.UUID | None = None,
    source: UsageSource = UsageSource.CHAT,
    requests: int = 1,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> None:
    """Usage on a given day: one event at noon that day (holding every request's tokens) and
    its share of the rollup."""
    async with transaction(app.state.database) as session:
        await _add_usage(
            session,
            user_id=uuid.UUID(str(user_id)),
            day=day,
            model_id=model_id,
            key_id=uuid.UUID(str(key_id)) if key_id else None,
            source=source,
            counts={
                "requests": requests,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cached_tokens": cached_tokens,
                "reasoning_tokens": reasoning_tokens,
            },
        )


async def add_usage_days(
    app: FastAPI, *, user_id: str | uuid.UUID, model_id: uuid.UUID, days: Iterable[date]
) -> None:
    """One call of 10 + 5 tokens on each of `days`, written in one transaction."""
    counts = {
        "requests": 1,
        "input_tokens": 10,
        "output_tokens": 5,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
    }
    async with transaction(app.state.database) as session:
        for day in days:
            await _add_usage(
                session,
                user_id=uuid.UUID(str(user_id)),
                day=day,
                model_id=model_id,
                key_id=None,
                source=UsageSource.CHAT,
                counts=counts,
            )


async def delete_model(app: FastAPI, model_id: uuid.UUID) -> None:
    async with transaction(app.state.database) as session:
        await session.execute(delete(Model).where(Model.id == model_id))


async def rollup_and_event_sums(
    app: FastAPI, user_id: str | uuid.UUID
) -> tuple[dict[str, int], dict[str, int]]:
    """The user's rollup totals and the same totals summed from the events."""
    user = uuid.UUID(str(user_id))
    async with transaction(app.state.database, write=False) as session:
        rollup = (
            await session.execute(
                select(
                    *(func.coalesce(func.sum(getattr(UsageDaily, name)), 0) for name in COUNTS)
                ).where(UsageDaily.user_id == user)
            )
        ).one()
        events = (
            await session.execute(
                select(
                    func.count(UsageEvent.id),
                    *(func.coalesce(func.sum(getattr(UsageEvent, name)), 0) for name in COUNTS[1:]),
                ).where(UsageEvent.user_id == user)
            )
        ).one()
    return (
        dict(zip(COUNTS, (int(value) for value in rollup), strict=True)),
        dict(zip(COUNTS, (int(value) for value in events), strict=True)),
    )
