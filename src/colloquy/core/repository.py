"""Query helpers every domain's repository shares: pages, and loading a user's own row."""

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams

T = TypeVar("T")
M = TypeVar("M")


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the user's wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def flush_unique(session: AsyncSession, conflict: type[Exception]) -> None:
    """Flush in a savepoint: when a unique index refuses the row (two requests raced for one
    name), raise `conflict` and leave the rest of the transaction usable."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise conflict from exc


async def paginate(
    session: AsyncSession, statement: Select[T], page: PageParams
) -> tuple[Sequence[T], int]:
    """One query for the page and one for the total, whatever the filters."""
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    rows = await session.scalars(statement.limit(page.limit).offset(page.offset))
    return rows.all(), int(total or 0)


async def get_owned(
    session: AsyncSession,
    model: type[M],
    object_id: uuid.UUID,
    owner_id: uuid.UUID,
    *,
    owner_column: str = "owner_id",
    for_update: bool = False,
) -> M | None:
    """Load `model` by id only if `owner_id` owns it; another user's row reads as missing."""
    entity: Any = model
    statement = select(model).where(
        entity.id == object_id, getattr(entity, owner_column) == owner_id
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def page_after(
    session: AsyncSession,
    statement: Select[M],
    *,
    keys: Sequence[Any],
    after: Sequence[Any] | None,
    limit: int,
    descending: bool = True,
) -> tuple[list[M], bool]:
    """Cursor pagination: up to `limit` rows ordered by `keys` (unique together), starting past
    the row whose key values are `after`; and whether more follow."""
    if after is not None:
        statement = statement.where(_past(keys, after, descending=descending))
    ordering = [key.desc() if descending else key.asc() for key in keys]
    rows = list((await session.scalars(statement.order_by(*ordering).limit(limit + 1))).all())
    return rows[:limit], len(rows) > limit


def _past(keys: Sequence[Any], values: Sequence[Any], *, descending: bool) -> Any:
    """`(k1, k2, ...) < (v1, v2, ...)` (or `>`), spelled out for every database."""
    key, value = keys[0], values[0]
    beyond = key < value if descending else key > value
    if len(keys) == 1:
        return beyond
    return or_(beyond, and_(key == value, _past(keys[1:], values[1:], descending=descending)))
