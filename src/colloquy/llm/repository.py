"""Queries for the model registry."""

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams
from colloquy.core.repository import paginate
from colloquy.llm.models import Model


def _visible(user_id: uuid.UUID | None, *, dev_enabled: bool) -> list[object]:
    conditions: list[object] = [
        or_(Model.owner_id.is_(None), Model.owner_id == user_id)
        if user_id is not None
        else Model.owner_id.is_(None)
    ]
    if not dev_enabled:
        conditions.append(Model.provider != "dev")
    return conditions


async def list_visible(
    session: AsyncSession, *, user_id: uuid.UUID, dev_enabled: bool, page: PageParams
) -> tuple[Sequence[Model], int]:
    statement = (
        select(Model)
        .where(*_visible(user_id, dev_enabled=dev_enabled))  # type: ignore[arg-type]
        .order_by(Model.owner_id.is_not(None), Model.name, Model.id)
    )
    return await paginate(session, statement, page)


async def find_visible(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    ref: str,
    dev_enabled: bool,
) -> Model | None:
    """A model by id or by name, if the user may use it."""
    statement = select(Model).where(
        _ref_match(ref),  # type: ignore[arg-type]
        *_visible(user_id, dev_enabled=dev_enabled),  # type: ignore[arg-type]
    )
    return (await session.scalars(statement)).one_or_none()


def _ref_match(ref: str) -> object:
    try:
        return Model.id == uuid.UUID(ref)
    except ValueError:
        return Model.name == ref


async def find_any(session: AsyncSession, ref: str) -> Model | None:
    """A model by id or name, whoever owns it (for administrators)."""
    statement = select(Model).where(_ref_match(ref))  # type: ignore[arg-type]
    return (await session.scalars(statement)).one_or_none()


async def get_by_name(session: AsyncSession, name: str) -> Model | None:
    return (await session.scalars(select(Model).where(Model.name == name))).one_or_none()


async def get_default(session: AsyncSession, *, dev_enabled: bool) -> Model | None:
    statement = select(Model).where(Model.is_default.is_(True), Model.owner_id.is_(None))
    if not dev_enabled:
        statement = statement.where(Model.provider != "dev")
    return (await session.scalars(statement.limit(1))).first()


async def clear_default(session: AsyncSession) -> None:
    await session.execute(
        update(Model).where(Model.is_default.is_(True)).values(is_default=False),
        execution_options={"synchronize_session": False},
    )
