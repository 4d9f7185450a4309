"""Administration of users: search, inspect, rename, (de)activate, grant and revoke admin."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit, repository
from colloquy.accounts.errors import LastAdmin, UserNotFound
from colloquy.accounts.models import User
from colloquy.accounts.schemas import AdminUserUpdate
from colloquy.core.database import utcnow
from colloquy.core.network import ClientInfo
from colloquy.core.pagination import PageParams


async def list_users(
    session: AsyncSession, *, q: str | None, is_active: bool | None, page: PageParams
) -> tuple[Sequence[User], int]:
    return await repository.list_users(session, q=q, is_active=is_active, page=page)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise UserNotFound
    return user


async def update_user(
    session: AsyncSession,
    *,
    actor: User,
    user_id: uuid.UUID,
    data: AdminUserUpdate,
    client: ClientInfo,
) -> User:
    user = await get_user(session, user_id)
    changes = {
        field: value
        for field, value in data.model_dump(exclude_unset=True).items()
        if getattr(user, field) != value
    }
    loses_admin = (
        user.is_admin
        and user.is_active
        and (changes.get("is_admin") is False or changes.get("is_active") is False)
    )
    if loses_admin:
        admins = await repository.lock_active_admin_ids(session)
        if not set(admins) - {user.id}:
            raise LastAdmin
    for field, value in changes.items():
        setattr(user, field, value)
    if changes.get("is_active") is False:
        await repository.revoke_logins(session, user_id=user.id, now=utcnow())
    await session.flush()
    await audit.record(
        session,
        action="admin.user_update",
        client=client,
        actor_id=actor.id,
        target_type="user",
        target_id=user.id,
        data={"changes": changes},
    )
    return user
