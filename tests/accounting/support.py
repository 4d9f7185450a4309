"""Helpers the accounting tests share: the usage events and rollup rows, read straight from SQL."""

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from colloquy.core.database import transaction
from colloquy.usage.models import UsageDaily, UsageEvent, UsageReservation

COMPLETIONS = "/v1/chat/completions"


async def events(app: FastAPI, user_id: str) -> list[UsageEvent]:
    async with transaction(app.state.database, write=False) as session:
        rows = await session.scalars(
            select(UsageEvent)
            .where(UsageEvent.user_id == uuid.UUID(user_id))
            .order_by(UsageEvent.created_at, UsageEvent.id)
        )
        return list(rows)


async def rollup_totals(app: FastAPI, user_id: str) -> tuple[int, int, int]:
    """Requests, input and output tokens summed over the user's rollup rows."""
    async with transaction(app.state.database, write=False) as session:
        row = (
            await session.execute(
                select(
                    func.coalesce(func.sum(UsageDaily.requests), 0),
                    func.coalesce(func.sum(UsageDaily.input_tokens), 0),
                    func.coalesce(func.sum(UsageDaily.output_tokens), 0),
                ).where(UsageDaily.user_id == uuid.UUID(user_id))
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])


async def reservations(app: FastAPI, user_id: str) -> int:
    async with transaction(app.state.database, write=False) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(UsageReservation)
            .where(UsageReservation.user_id == uuid.UUID(user_id))
        )
        return int(count or 0)


def completion(content: str = "hello there", **fields: Any) -> dict[str, Any]:
    return {"model": "colloquy-dev", "messages": [{"role": "user", "content": content}], **fields}
