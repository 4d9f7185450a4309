"""Queries for users, logins, refresh tokens and audit events; no rules live here."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import AuditEvent, LoginSession, RefreshToken, User
from colloquy.core.pagination import PageParams
from colloquy.core.repository import like_pattern, paginate


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email_normalized: str) -> User | None:
    statement = select(User).where(User.email_normalized == email_normalized)
    return (await session.scalars(statement)).one_or_none()


async def get_session_user(
    session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> User | None:
    """The user behind an access token, if that login is still live and the user active."""
    statement = (
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.is_active.is_(True),
            LoginSession.id == session_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
    )
    return (await session.scalars(statement)).one_or_none()


def search_users(*, q: str | None, is_active: bool | None) -> Select[User]:
    statement = select(User).order_by(User.created_at, User.id)
    if q:
        # Emails are stored case-folded; names are lowered by the database, which never folds
        # "ß" to "ss" as casefold() does, so each side gets the matching transformation.
        statement = statement.where(
            or_(
                User.email_normalized.like(like_pattern(q.casefold()), escape="\\"),
                func.lower(User.name).like(like_pattern(q.lower()), escape="\\"),
            )
        )
    if is_active is not None:
        statement = statement.where(User.is_active.is_(is_active))
    return statement


async def list_users(
    session: AsyncSession, *, q: str | None, is_active: bool | None, page: PageParams
) -> tuple[Sequence[User], int]:
    return await paginate(session, search_users(q=q, is_active=is_active), page)


async def lock_active_admin_ids(session: AsyncSession) -> list[uuid.UUID]:
    statement = (
        select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True)).with_for_update()
    )
    return list((await session.scalars(statement)).all())


async def get_live_login(
    session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> LoginSession | None:
    statement = select(LoginSession).where(
        LoginSession.id == session_id,
        LoginSession.user_id == user_id,
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > now,
    )
    return (await session.scalars(statement)).one_or_none()


async def list_live_logins(
    session: AsyncSession, *, user_id: uuid.UUID, now: datetime, page: PageParams
) -> tuple[Sequence[LoginSession], int]:
    statement = (
        select(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
        .order_by(LoginSession.last_used_at.desc(), LoginSession.id)
    )
    return await paginate(session, statement, page)


async def revoke_logins(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    now: datetime,
    session_id: uuid.UUID | None = None,
    except_session_id: uuid.UUID | None = None,
) -> int:
    statement = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if session_id is not None:
        statement = statement.where(LoginSession.id == session_id)
    if except_session_id is not None:
        statement = statement.where(LoginSession.id != except_session_id)
    result = await session.execute(
        statement.values(revoked_at=now), execution_options={"synchronize_session": False}
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def claim_refresh_token(
    session: AsyncSession, *, token_hash: str, now: datetime
) -> uuid.UUID | None:
    """Mark an unused, unexpired token used, atomically; its login's id if this caller won."""
    statement = (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            # An expired token stays unused, so presenting it is not mistaken for reuse.
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken.session_id)
    )
    session_id: uuid.UUID | None = (await session.execute(statement)).scalar_one_or_none()
    return session_id


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.scalars(statement)).one_or_none()


async def get_login(session: AsyncSession, session_id: uuid.UUID) -> LoginSession | None:
    return await session.get(LoginSession, session_id)


def audit_query(
    *,
    actor_id: uuid.UUID | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.created_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.created_at < until)
    return statement


async def list_audit_events(
    session: AsyncSession, *, page: PageParams, **filters: Any
) -> tuple[Sequence[AuditEvent], int]:
    return await paginate(session, audit_query(**filters), page)
