"""HTTP routes for usage: your own reports and quota, and every user's for administrators."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from colloquy.accounts.dependencies import Authentication
from colloquy.accounts.errors import (
    AdminRequired,
    InsufficientScope,
    InvalidAccessToken,
    KeyNotAllowed,
)
from colloquy.core.dependencies import API_PREFIX, SessionDep, SettingsDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.usage import reports
from colloquy.usage.dependencies import AdminUsageQuery, UsageQuery
from colloquy.usage.reports import Budget, Report
from colloquy.usage.schemas import (
    ROW_SCHEMAS,
    AdminUsageReport,
    BudgetRead,
    QuotaRead,
    UsageCounts,
    UsageReport,
)
from colloquy.usage.service import Payer

router = APIRouter(prefix=f"{API_PREFIX}/usage", tags=["usage"])
admin_router = APIRouter(prefix=f"{API_PREFIX}/admin/usage", tags=["admin"])
AUTH_ERRORS = (InvalidAccessToken, InsufficientScope)
ERRORS = (*AUTH_ERRORS, ValidationFailed)
ADMIN_ERRORS = (InvalidAccessToken, KeyNotAllowed, AdminRequired, ValidationFailed)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A header line, then one line per group.", "content": {"text/csv": {}}}
}


def _body(report: Report) -> dict[str, Any]:
    schema = ROW_SCHEMAS[report.group_by] if report.group_by else UsageCounts
    return {
        "start": report.start,
        "end": report.end,
        "group_by": report.group_by,
        "rows": [schema(**row.fields()) for row in report.rows],
        "totals": UsageCounts(**report.totals.fields()),
    }


def _csv(report: Report) -> StreamingResponse:
    filename = f"usage-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    return StreamingResponse(
        reports.csv_chunks(report),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _budget(budget: Budget) -> BudgetRead:
    return BudgetRead(
        limit=budget.limit, used=budget.used, remaining=budget.remaining, reserved=budget.reserved
    )


@router.get("", responses=responses(*ERRORS))
async def get_usage(query: UsageQuery, session: SessionDep) -> UsageReport:
    """Your token usage over a span of UTC days, in total and per `group_by`."""
    return UsageReport(**_body(await reports.build_report(session, query=query)))


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **responses(*ERRORS)},
)
async def export_usage(query: UsageQuery, session: SessionDep) -> StreamingResponse:
    """Your token usage as CSV, one line per group (per day unless `group_by` says otherwise)."""
    return _csv(await reports.build_export(session, query=query))


@router.get("/quota", responses=responses(*AUTH_ERRORS))
async def get_quota(
    caller: Authentication, session: SessionDep, settings: SettingsDep
) -> QuotaRead:
    """Your monthly token quota this month, and the calling API key's own budget if it has one."""
    payer = Payer.of(caller.user, settings, caller=caller)
    quota = await reports.get_quota(session, payer=payer)
    return QuotaRead(
        **_budget(quota.user).model_dump(),
        resets_at=quota.resets_at,
        key=_budget(quota.key) if quota.key else None,
    )


@admin_router.get("", responses=responses(*ADMIN_ERRORS))
async def get_all_usage(query: AdminUsageQuery, session: SessionDep) -> AdminUsageReport:
    """Every user's token usage, or one user's, in total and per `group_by` (administrators
    only)."""
    return AdminUsageReport(**_body(await reports.build_report(session, query=query)))


@admin_router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **responses(*ADMIN_ERRORS)},
)
async def export_all_usage(query: AdminUsageQuery, session: SessionDep) -> StreamingResponse:
    """Every user's token usage as CSV, one line per group (administrators only)."""
    return _csv(await reports.build_export(session, query=query))
