"""The audit log: security-relevant actions recorded in the request's transaction."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import repository
from colloquy.accounts.models import AuditEvent, AuditOutcome
from colloquy.core.network import ClientInfo
from colloquy.core.pagination import PageParams


async def record(
    session: AsyncSession,
    *,
    action: str,
    client: ClientInfo,
    actor_id: uuid.UUID | None,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=client.ip,
        user_agent=client.user_agent,
        outcome=outcome.value,
        data=data or {},
    )
    session.add(event)
    await session.flush()
    return event


async def list_events(
    session: AsyncSession,
    *,
    page: PageParams,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[Sequence[AuditEvent], int]:
    return await repository.list_audit_events(
        session, page=page, actor_id=actor_id, action=action, since=since, until=until
    )
