"""The query parameters a usage report takes, checked and scoped to whoever may see it."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from colloquy.accounts.dependencies import AdminUser, CurrentUser
from colloquy.usage import reports
from colloquy.usage.models import UsageSource
from colloquy.usage.reports import AdminGroupBy, GroupBy, ReportQuery

StartDay = Annotated[
    date | None,
    Query(description="First UTC day (YYYY-MM-DD), inclusive; by default 29 days before end."),
]
EndDay = Annotated[date | None, Query(description="Last UTC day, inclusive; today by default.")]
ModelFilter = Annotated[uuid.UUID | None, Query(description="Only this model's usage.")]
KeyFilter = Annotated[uuid.UUID | None, Query(description="Only usage with this API key.")]
SourceFilter = Annotated[UsageSource | None, Query(description="Only usage from this source.")]


async def get_report_query(
    user: CurrentUser,
    start: StartDay = None,
    end: EndDay = None,
    group_by: Annotated[
        GroupBy | None, Query(description="One row per group; only totals without it.")
    ] = None,
    model_id: ModelFilter = None,
    api_key_id: KeyFilter = None,
    source: SourceFilter = None,
) -> ReportQuery:
    """A report on the caller's own usage only."""
    return reports.report_query(
        start,
        end,
        group_by=group_by,
        user_id=user.id,
        model_id=model_id,
        api_key_id=api_key_id,
        source=source,
    )


async def get_admin_report_query(
    admin: AdminUser,
    start: StartDay = None,
    end: EndDay = None,
    group_by: Annotated[
        AdminGroupBy | None, Query(description="One row per group; only totals without it.")
    ] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Only this user's usage.")] = None,
    model_id: ModelFilter = None,
    api_key_id: KeyFilter = None,
    source: SourceFilter = None,
) -> ReportQuery:
    """A report on every user's usage, or one user's."""
    return reports.report_query(
        start,
        end,
        group_by=group_by,
        user_id=user_id,
        model_id=model_id,
        api_key_id=api_key_id,
        source=source,
    )


UsageQuery = Annotated[ReportQuery, Depends(get_report_query)]
AdminUsageQuery = Annotated[ReportQuery, Depends(get_admin_report_query)]
