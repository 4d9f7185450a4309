"""Queries for prompts and common prompts."""

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.pagination import PageParams
from colloquy.core.repository import get_owned, like_pattern, paginate
from colloquy.prompts.models import CommonPrompt, Prompt

M = TypeVar("M", Prompt, CommonPrompt)


async def get_prompt(
    session: AsyncSession, *, prompt_id: uuid.UUID, owner_id: uuid.UUID
) -> Prompt | None:
    return await get_owned(session, Prompt, prompt_id, owner_id)


async def get_common_prompt(session: AsyncSession, prompt_id: uuid.UUID) -> CommonPrompt | None:
    return await session.get(CommonPrompt, prompt_id)


def _matching(statement: Select[M], model: type[M], q: str | None) -> Select[M]:
    if not q:
        return statement
    pattern = like_pattern(q.casefold())
    return statement.where(
        or_(
            func.lower(model.name).like(pattern, escape="\\"),
            func.lower(model.description).like(pattern, escape="\\"),
        )
    )


def search_prompts(*, owner_id: uuid.UUID, q: str | None) -> Select[Prompt]:
    return _matching(select(Prompt).where(Prompt.owner_id == owner_id), Prompt, q)


def search_common_prompts(*, q: str | None) -> Select[CommonPrompt]:
    return _matching(select(CommonPrompt), CommonPrompt, q)


async def list_page(
    session: AsyncSession, statement: Select[M], page: PageParams
) -> tuple[Sequence[M], int]:
    return await paginate(session, statement, page)
